package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeTokend answers the token API the way tokend does in shape, and
// records what it was asked, so tests can check what the tool sent.
type fakeTokend struct {
	t *testing.T

	mu         sync.Mutex
	hits       map[string]int // by operation name
	issued     map[string]bool
	refreshes  map[string]bool // unspent refresh tokens
	malformed  []string
	seq        int
	bearerSeen map[string]bool
	grantees   map[string]int // password grants per username
}

// startFake serves a fakeTokend on 127.0.0.1.
func startFake(t *testing.T) (*fakeTokend, *httptest.Server) {
	f := &fakeTokend{t: t, hits: map[string]int{}, issued: map[string]bool{},
		refreshes: map[string]bool{}, bearerSeen: map[string]bool{}, grantees: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeTokend) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == authenticatePath:
		f.authenticate(w, r)
	case r.Method == http.MethodPost && r.URL.Path == introspectPath:
		f.introspect(w, r)
	case r.Method == http.MethodGet && r.URL.Path == forwardAuthPath:
		f.forwardAuth(w, r)
	case r.URL.Path != tokenPath:
		f.bad(w, r.Method+" "+r.URL.Path)
	case r.Method == http.MethodPost:
		f.grant(w, r)
	case r.Method == http.MethodDelete:
		f.invalidate(w, r)
	default:
		f.bad(w, r.Method+" "+r.URL.Path)
	}
}

func (f *fakeTokend) bad(w http.ResponseWriter, what string) {
	f.malformed = append(f.malformed, what)
	http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
}

func (f *fakeTokend) authenticate(w http.ResponseWriter, r *http.Request) {
	tok, ok := cutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !f.issued[tok] {
		f.bad(w, "authenticate with "+r.Header.Get("Authorization"))
		return
	}
	f.hits["authenticate"]++
	f.bearerSeen[tok] = true
	fmt.Fprint(w, `{"username":"elastic"}`)
}

func (f *fakeTokend) introspect(w http.ResponseWriter, r *http.Request) {
	user, pw, basic := r.BasicAuth()
	if !basic || user != "elastic" || pw != "pw" {
		f.bad(w, "introspect without Basic elastic:pw")
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil || !f.issued[r.PostForm.Get("token")] {
		f.bad(w, "introspect without a form naming an issued token")
		return
	}
	f.hits["introspect"]++
	fmt.Fprint(w, `{"active":true,"username":"elastic"}`)
}

func (f *fakeTokend) forwardAuth(w http.ResponseWriter, r *http.Request) {
	tok, ok := cutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !f.issued[tok] {
		f.bad(w, "forward auth with "+r.Header.Get("Authorization"))
		return
	}
	f.hits["forward_auth"]++
	w.Header().Set("X-Tokend-User", "elastic")
}

func (f *fakeTokend) grant(w http.ResponseWriter, r *http.Request) {
	var q map[string]string
	if json.NewDecoder(r.Body).Decode(&q) != nil {
		f.bad(w, "undecodable grant")
		return
	}
	user, pw, basic := r.BasicAuth()
	withRefresh := true
	switch q["grant_type"] {
	case "client_credentials":
		if !basic || user != "elastic" || pw != "pw" {
			f.bad(w, "client_credentials without Basic elastic:pw")
			return
		}
		withRefresh = false
	case "password":
		if basic || (q["username"] != "elastic" && !strings.HasPrefix(q["username"], "bench")) || q["password"] != "pw" {
			f.bad(w, "password grant with wrong fields")
			return
		}
		f.grantees[q["username"]]++
	case "refresh_token":
		if !f.refreshes[q["refresh_token"]] {
			f.bad(w, "refresh of an unknown or spent token")
			return
		}
		delete(f.refreshes, q["refresh_token"])
	default:
		f.bad(w, "grant "+q["grant_type"])
		return
	}
	op := q["grant_type"]
	if op == "refresh_token" {
		op = "refresh"
	}
	f.hits[op]++
	f.seq++
	access := fmt.Sprintf("access-%d", f.seq)
	f.issued[access] = true
	out := map[string]any{"access_token": access, "type": "Bearer", "expires_in": 1200}
	if withRefresh {
		refresh := fmt.Sprintf("refresh-%d", f.seq)
		f.refreshes[refresh] = true
		out["refresh_token"] = refresh
	}
	json.NewEncoder(w).Encode(out)
}

func (f *fakeTokend) invalidate(w http.ResponseWriter, r *http.Request) {
	var q map[string]string
	if json.NewDecoder(r.Body).Decode(&q) != nil || !f.issued[q["token"]] {
		f.bad(w, "invalidate of an unknown token")
		return
	}
	delete(f.issued, q["token"])
	f.hits["invalidate"]++
	fmt.Fprint(w, `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}`)
}

// counts returns a copy of the hits by operation and the malformed requests.
func (f *fakeTokend) counts() (map[string]int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hits := map[string]int{}
	for k, v := range f.hits {
		hits[k] = v
	}
	return hits, append([]string(nil), f.malformed...)
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}
