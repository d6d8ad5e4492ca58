package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/raftnode/peerauth"
)

// Join client retry policy: rounds over all URLs, with exponential backoff
// between rounds, about five minutes in all unless ctx ends first.
const (
	joinMaxRounds    = 64
	joinFirstBackoff = 250 * time.Millisecond
	joinMaxBackoff   = 5 * time.Second
	joinCallTimeout  = 15 * time.Second
)

// errJoinRefused marks an answer that retrying cannot change (400, 401, 403).
var errJoinRefused = errors.New("join request refused")

// JoinRequest asks the cluster to add a node (POST /_tokend/cluster/join).
type JoinRequest struct {
	// NodeID is the joining node's Raft server ID.
	NodeID string `json:"node_id"`
	// RaftAddr is its advertised Raft address.
	RaftAddr string `json:"raft_addr"`
	// HTTPAddr is its advertised API address (host:port).
	HTTPAddr string `json:"http_addr"`
	// HasState says the node already holds Raft state: it is a member that
	// restarted and reports its (new) addresses. It must then still be a
	// member; a node the cluster removed is refused rather than let back in
	// with its old log. Without state, a node whose ID is a voter (its data
	// dir was wiped) is re-added as a non-voter, so that it cannot vote
	// before it has caught up.
	HasState bool `json:"has_state,omitempty"`
	// Replica asks for the node to be a read replica: a non-voter that is
	// never promoted (recorded in the state, see fsm.SetNode.Replica).
	Replica bool `json:"replica,omitempty"`
}

// JoinAnswer is the answer to POST /_tokend/cluster/join.
type JoinAnswer struct {
	Acknowledged bool `json:"acknowledged"`
	// NodeCredential is the cluster's node credential, by which members
	// authenticate each other's Raft connections and node-to-node calls.
	// Only a joiner the route authenticated (node secret, cluster
	// certificate, enrollment token or superuser) gets an answer at all. It is sent even to a
	// joiner that presented the node secret, which then learns nothing new
	// (and can check that its --node-secret is the cluster's). Empty when
	// the answering leader knows none.
	NodeCredential string `json:"node_credential,omitempty"`
	// URL is the join URL of the member that answered (not sent).
	URL string `json:"-"`
}

// Join asks an existing cluster to add this node: it POSTs req to
// /_tokend/cluster/join on each of urls in turn (any member will do:
// followers forward to the leader) until one answers 200, retrying rounds
// with backoff until ctx ends or the rounds run out. It authenticates with
// a proof under nodeSecret when set (the secret itself is not sent), and
// with user and password when user is set. A URL
// without a scheme is taken as http://host:port.
func Join(ctx context.Context, urls []string, req JoinRequest, nodeSecret, user, password string) error {
	_, err := JoinTLS(ctx, nil, urls, req, nodeSecret, user, password)
	return err
}

// JoinTLS is Join with tlsCfg as the client configuration of https URLs:
// the cluster's CA and, where members require one, this node's certificate.
// It returns the accepting member's answer, which carries the cluster's
// node credential.
func JoinTLS(ctx context.Context, tlsCfg *tls.Config, urls []string, req JoinRequest, nodeSecret, user, password string,
	opts ...JoinOption) (JoinAnswer, error) {
	return joinLoop(ctx, tlsCfg, urls, req, joinAuth{secret: nodeSecret, user: user, password: password}, opts)
}

// JoinEnrolled is JoinTLS authenticated by the one-time credential of an
// enrollment token (Enrollment.Secret), which the cluster spends. A member
// whose certificate the TLS configuration refuses (ErrUntrustedCluster,
// see PinnedTLS) refuses the join at once, like a 400, 401 or 403 answer.
func JoinEnrolled(ctx context.Context, tlsCfg *tls.Config, urls []string, req JoinRequest, enrollment string,
	opts ...JoinOption) (JoinAnswer, error) {
	return joinLoop(ctx, tlsCfg, urls, req, joinAuth{enrollment: enrollment}, opts)
}

// joinAuth is how a join authenticates: a proof under the node secret, the
// user's password, an enrollment credential, or several.
type joinAuth struct {
	secret, user, password, enrollment string
}

// joinLoop runs the rounds of JoinTLS.
func joinLoop(ctx context.Context, tlsCfg *tls.Config, urls []string, req JoinRequest, auth joinAuth, opts []JoinOption) (JoinAnswer, error) {
	var o joinOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(urls) == 0 {
		return JoinAnswer{}, errors.New("cluster: join: no URLs to join")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return JoinAnswer{}, fmt.Errorf("cluster: join: %w", err)
	}
	client := &http.Client{Timeout: joinCallTimeout, Transport: &http.Transport{TLSClientConfig: tlsCfg.Clone()}}
	backoff := joinFirstBackoff
	var last error
	for round := 0; round < joinMaxRounds; round++ {
		for _, u := range urls {
			var answer JoinAnswer
			answer, last = joinAsk(ctx, client, u, body, auth)
			if last == nil {
				return answer, nil
			}
			if o.failed != nil {
				o.failed(u, last)
			}
			if errors.Is(last, errJoinRefused) {
				return JoinAnswer{}, fmt.Errorf("cluster: join: %w", last)
			}
		}
		select {
		case <-ctx.Done():
			return JoinAnswer{}, fmt.Errorf("cluster: join: %w (last attempt: %v)", ctx.Err(), last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, joinMaxBackoff)
	}
	return JoinAnswer{}, fmt.Errorf("cluster: join: no member accepted the join after %d rounds: %w", joinMaxRounds, last)
}

// JoinOption adjusts JoinTLS.
type JoinOption func(*joinOptions)

// joinOptions are JoinTLS's optional settings.
type joinOptions struct {
	failed func(url string, err error)
}

// OnJoinFailure makes JoinTLS call f with the URL and the cause of every
// attempt that failed (refused, unreachable, TLS verification), so the
// joining node can say why it is not a member yet.
func OnJoinFailure(f func(url string, err error)) JoinOption {
	return func(o *joinOptions) { o.failed = f }
}

// joinOnce sends one join request to base.
func joinOnce(ctx context.Context, client *http.Client, base string, body []byte, secret, user, password string) error {
	_, err := joinAsk(ctx, client, base, body, joinAuth{secret: secret, user: user, password: password})
	return err
}

// joinAsk sends one join request to base and decodes its answer.
func joinAsk(ctx context.Context, client *http.Client, base string, body []byte, auth joinAuth) (JoinAnswer, error) {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	url := strings.TrimRight(base, "/") + PathJoin
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return JoinAnswer{}, fmt.Errorf("%w: %v", errJoinRefused, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth.secret != "" {
		q := peerauth.Request{Method: req.Method, Target: req.URL.RequestURI(), BodyDigest: peerauth.BodyDigest(body)}
		req.Header.Set(HeaderNodeAuth, peerauth.Sign([]byte(auth.secret), q, time.Now()))
	}
	if auth.user != "" {
		req.SetBasicAuth(auth.user, auth.password)
	}
	if auth.enrollment != "" {
		req.Header.Set(HeaderEnrollment, auth.enrollment)
	}
	resp, err := client.Do(req)
	if errors.Is(err, ErrUntrustedCluster) {
		return JoinAnswer{}, fmt.Errorf("%w by this node: %s: %v", errJoinRefused, url, ErrUntrustedCluster)
	}
	if err != nil {
		return JoinAnswer{}, fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		var a JoinAnswer
		if err := json.Unmarshal(answer, &a); err != nil {
			return JoinAnswer{}, fmt.Errorf("%s: undecodable join answer: %w", url, err)
		}
		a.URL = url
		return a, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized ||
		resp.StatusCode == http.StatusForbidden:
		return JoinAnswer{}, fmt.Errorf("%w by %s: %s", errJoinRefused, url, answer)
	}
	return JoinAnswer{}, fmt.Errorf("%s answered %d: %s", url, resp.StatusCode, answer)
}
