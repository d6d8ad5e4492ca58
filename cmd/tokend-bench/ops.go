package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// API paths the operations use.
const (
	tokenPath        = "/_security/oauth2/token"
	authenticatePath = "/_security/_authenticate"
	introspectPath   = "/oauth2/introspect"
	forwardAuthPath  = "/_tokend/auth"
)

// op is one kind of request.
type op int

// The operations, in report order.
const (
	opClientCredentials op = iota
	opPassword
	opRefresh
	opAuthenticate
	opInvalidate
	opIntrospect
	opForwardAuth
	numOps
)

var opNameList = [numOps]string{"client_credentials", "password", "refresh", "authenticate", "invalidate",
	"introspect", "forward_auth"}

func (o op) String() string { return opNameList[o] }

// opNamed returns the operation called name.
func opNamed(name string) (op, bool) {
	for o, n := range opNameList {
		if n == name {
			return op(o), true
		}
	}
	return 0, false
}

// opNames lists the operation names.
func opNames() []string { return opNameList[:] }

// weighted is one operation of a mix and its weight.
type weighted struct {
	op     op
	weight int
}

// mix is the operations to draw from, each in proportion to its weight.
type mix []weighted

// pick draws an operation.
func (m mix) pick(rng *rand.Rand) op {
	total := 0
	for _, w := range m {
		total += w.weight
	}
	r := rng.IntN(total)
	for _, w := range m {
		if r < w.weight {
			return w.op
		}
		r -= w.weight
	}
	return m[len(m)-1].op
}

// has reports whether the mix can draw o.
func (m mix) has(o op) bool {
	for _, w := range m {
		if w.op == o {
			return true
		}
	}
	return false
}

// tokens is what a grant answers.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// pools holds one worker's unspent tokens, which refresh and invalidate
// consume.
type pools struct {
	access, refresh []string
}

// maxPooled bounds each pool; older tokens beyond it are dropped.
const maxPooled = 64

// keep stores the tokens of a grant's answer that the mix will consume.
func (p *pools) keep(body []byte, m mix) {
	var t tokens
	if json.Unmarshal(body, &t) != nil {
		return
	}
	if t.Access != "" && m.has(opInvalidate) {
		p.access = push(p.access, t.Access)
	}
	if t.Refresh != "" && m.has(opRefresh) {
		p.refresh = push(p.refresh, t.Refresh)
	}
}

// push appends t, dropping the oldest token when the pool is full.
func push(list []string, t string) []string {
	if len(list) == maxPooled {
		list = append(list[:0], list[1:]...)
	}
	return append(list, t)
}

// pop removes and returns the newest token of *list.
func pop(list *[]string) string {
	l := *list
	t := l[len(l)-1]
	*list = l[:len(l)-1]
	return t
}

// requestor builds the requests of a run.
type requestor struct {
	cfg    config
	bearer string       // for authenticate, introspect and forward_auth
	grants atomic.Int64 // password grants built, to pick the next of cfg.users
}

// passwordBody is the next password grant: for -user, or for the next of
// the -users users in turn.
func (q *requestor) passwordBody() []byte {
	user := q.cfg.user
	if q.cfg.users > 0 {
		user += strconv.FormatInt((q.grants.Add(1)-1)%int64(q.cfg.users), 10)
	}
	return jsonBody(map[string]string{"grant_type": "password", "username": user, "password": q.cfg.password})
}

// jsonBody encodes v, which cannot fail for the maps used here.
func jsonBody(v map[string]string) []byte {
	b, _ := json.Marshal(v)
	return b
}

// substitute is the operation actually sent when o is drawn: one that
// produces the token o would consume if the worker holds none.
func substitute(o op, p *pools) op {
	switch {
	case o == opRefresh && len(p.refresh) == 0:
		return opPassword
	case o == opInvalidate && len(p.access) == 0:
		return opClientCredentials
	}
	return o
}

// build returns the request for o on base, consuming a pooled token for
// refresh and invalidate (the caller made sure there is one).
func (q *requestor) build(ctx context.Context, o op, base string, p *pools) (*http.Request, error) {
	switch o {
	case opClientCredentials:
		return q.post(ctx, http.MethodPost, base, []byte(`{"grant_type":"client_credentials"}`), true)
	case opPassword:
		return q.post(ctx, http.MethodPost, base, q.passwordBody(), false)
	case opRefresh:
		body := jsonBody(map[string]string{"grant_type": "refresh_token", "refresh_token": pop(&p.refresh)})
		return q.post(ctx, http.MethodPost, base, body, false)
	case opInvalidate:
		return q.post(ctx, http.MethodDelete, base, jsonBody(map[string]string{"token": pop(&p.access)}), false)
	case opIntrospect:
		form := url.Values{"token": {q.bearer}}.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+introspectPath, strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(q.cfg.user, q.cfg.password)
		return req, nil
	}
	path := authenticatePath
	if o == opForwardAuth {
		path = forwardAuthPath
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+q.bearer)
	return req, nil
}

// post builds a JSON request to the token path, with Basic auth for the
// configured user when basic is set.
func (q *requestor) post(ctx context.Context, method, base string, body []byte, basic bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+tokenPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if basic {
		req.SetBasicAuth(q.cfg.user, q.cfg.password)
	}
	return req, nil
}

// wantsTokens reports whether a 2xx answer to o carries tokens the mix m
// will consume.
func wantsTokens(o op, m mix) bool {
	return (m.has(opRefresh) || m.has(opInvalidate)) &&
		(o == opClientCredentials || o == opPassword || o == opRefresh)
}
