package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client request timeouts. requestTimeout is above the server's request
// timeout (10 s), so that a 503 is seen as such and only a paused node
// times out. probeTimeout is the patience of the readers and writers that
// measure availability: a request stuck on a cut-off leader gives up soon,
// so that new requests keep probing the cluster.
const (
	requestTimeout = 12 * time.Second
	probeTimeout   = 2 * time.Second
)

// answer is a response as the workload needs it.
type answer struct {
	status  int
	outcome Outcome
	access  string
	refresh string
}

// tokenAnswer is the part of a grant's answer the workload keeps.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// send performs one request on nd within timeout and classifies the
// answer for kind.
func send(client *http.Client, timeout time.Duration, nd *node, kind Kind, method, path, body string, basic bool, bearer string) answer {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, nd.URL()+path, strings.NewReader(body))
	if err != nil {
		return answer{outcome: Unexpected}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if basic {
		req.SetBasicAuth("elastic", superPassword)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{outcome: Unavailable}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{status: resp.StatusCode, outcome: Unavailable}
	}
	a := answer{status: resp.StatusCode, outcome: classify(kind, resp.StatusCode, string(b))}
	if a.outcome == OK && (kind == Issue || kind == Refresh) {
		var t tokenAnswer
		if json.Unmarshal(b, &t) != nil || t.AccessToken == "" {
			a.outcome = Unexpected
		}
		a.access, a.refresh = t.AccessToken, t.RefreshToken
	}
	return a
}

// classify maps a status and body to an outcome for kind, per SPEC §4.
func classify(kind Kind, status int, body string) Outcome {
	switch {
	case status == http.StatusServiceUnavailable:
		return Unavailable
	case status == http.StatusOK:
		return OK
	case status == http.StatusUnauthorized && kind == Authenticate:
		return Refused
	case status == http.StatusNotFound && (kind == InvalidateAccess || kind == InvalidateRefresh):
		return NotFound
	case status == http.StatusBadRequest && kind == Refresh && strings.Contains(body, "invalid_grant"):
		switch {
		case strings.Contains(body, "token has been invalidated"):
			return GrantInvalidated
		case strings.Contains(body, "more than 30 seconds"):
			return GrantReused
		case strings.Contains(body, "could not refresh"):
			return NotFound
		}
	}
	return Unexpected
}

// grantBody is the body of a password or client_credentials grant.
func grantBody(password bool) (body string, basic bool) {
	if password {
		return fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), false
	}
	return `{"grant_type":"client_credentials"}`, true
}
