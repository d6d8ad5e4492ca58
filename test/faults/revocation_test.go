package faults

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// Bounds of the scripted revocation scenarios.
const (
	// givingUp is the patience of a client that abandons an invalidation
	// and sends it again.
	givingUp = time.Second
	// probeFor is how long token checks are sent to the lagging node once
	// an invalidation has answered; probeEvery spaces them.
	probeFor   = 1500 * time.Millisecond
	probeEvery = 50 * time.Millisecond
)

// script runs one hand-written revocation scenario on a cluster and records
// its requests, for Check.
type script struct {
	c      *cluster
	h      *History
	client *http.Client
	pairs  int
}

// newScript starts recording a scenario on c.
func newScript(c *cluster) *script {
	return &script{c: c, h: NewHistory(), client: &http.Client{}}
}

// send performs one request as client and records it as kind on pair.
func (s *script) send(client int, timeout time.Duration, nd *node, kind Kind, pair int, method, path, body string, basic bool, bearer string) Op {
	call := s.h.Now()
	a := send(s.client, timeout, nd, kind, method, path, body, basic, bearer)
	op := Op{Client: client, Node: nd.id, Kind: kind, Pair: pair, Call: call, Return: s.h.Now(), Status: a.status, Outcome: a.outcome}
	if kind == Issue && a.outcome == OK {
		s.pairs++
		op.Result = s.pairs
	}
	s.h.Add(op)
	return op
}

// issue grants a token pair through nd (the password grant of user, or a
// client_credentials grant as the superuser when user is "") and returns
// its number and access token.
func (s *script) issue(nd *node, user string) (int, string) {
	s.c.t.Helper()
	body, basic := grantBody(false)
	if user != "" {
		body, basic = fmt.Sprintf(`{"grant_type":"password","username":%q,"password":"%s-password"}`, user, user), false
	}
	call := s.h.Now()
	a := send(s.client, requestTimeout, nd, Issue, "POST", "/_security/oauth2/token", body, basic, "")
	if a.outcome != OK {
		s.c.t.Fatalf("issue through %s: HTTP %d", nd.id, a.status)
	}
	s.pairs++
	s.h.Add(Op{Client: 0, Node: nd.id, Kind: Issue, Call: call, Return: s.h.Now(), Status: a.status, Outcome: OK, Result: s.pairs})
	return s.pairs, a.access
}

// accepted waits until nd accepts access, so that nd holds a read lease
// and the token.
func (s *script) accepted(nd *node, pair int, access string) {
	s.c.t.Helper()
	testkit.Eventually(s.c.t, 10*time.Second, nd.id+" accepts the token", func() error {
		if op := s.send(1, probeTimeout, nd, Authenticate, pair, "GET", "/_security/_authenticate", "", false, access); op.Outcome != OK {
			return fmt.Errorf("%s answered %s (HTTP %d)", nd.id, op.Outcome, op.Status)
		}
		return nil
	})
}

// probe checks access on nd every probeEvery for probeFor.
func (s *script) probe(nd *node, pair int, access string) {
	for end := time.Now().Add(probeFor); time.Now().Before(end); {
		s.send(3, probeTimeout, nd, Authenticate, pair, "GET", "/_security/_authenticate", "", false, access)
		<-time.After(probeEvery)
	}
}

// check fails the test if the recorded history breaks a guarantee.
func (s *script) check(t *testing.T) {
	t.Helper()
	ops := s.h.Ops()
	v := Check(ops, 10*time.Second)
	if len(v.Violations) == 0 {
		return
	}
	for _, op := range ops {
		t.Log(op)
	}
	for _, x := range v.Violations {
		t.Errorf("%s", x)
	}
}

// createUser creates user (password user-password) through nd.
func (s *script) createUser(nd *node, user string) {
	s.c.t.Helper()
	body := fmt.Sprintf(`{"password":"%s-password","roles":["superuser"]}`, user)
	if a := send(s.client, requestTimeout, nd, Issue, "PUT", "/_security/user/"+user, body, true, ""); a.status != 200 {
		s.c.t.Fatalf("creating %s: HTTP %d", user, a.status)
	}
}

// lagging cuts the leader's Raft traffic to f (connections reset), while
// every HTTP link stays up: f keeps renewing its read lease but applies
// nothing new.
func lagging(l, f *node) { f.raftProxy.Block(l.id, Drop) }

// healed heals every link and waits for a healthy cluster.
func (s *script) healed() {
	s.c.heal()
	s.c.waitHealthy(60 * time.Second)
}

// A client gives up on an invalidation that waits for a lagging follower
// (only the leader's Raft traffic to it is cut; its HTTP works) and sends it
// again, through the leader, through the lagging follower, or by username.
// Whatever the repeat answers, once it answers 200 the lagging follower must
// not accept the token (issue 18 item 1).
func TestRevocation_RepeatedInvalidationHoldsOnALaggingFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection suite skipped under -short")
	}
	requireProc(t)
	c := startCluster(t, 3)
	for i, via := range []string{"through the leader", "through the lagging follower", "by username"} {
		t.Run("repeat "+via, func(t *testing.T) {
			defer c.use(t)()
			s := newScript(c)
			l := c.waitHealthy(60 * time.Second)
			f := c.others(l.id)[0]
			user := ""
			if via == "by username" {
				user = fmt.Sprintf("lagging%d", i)
				s.createUser(l, user)
			}
			pair, access := s.issue(l, user)
			s.accepted(f, pair, access)
			lagging(l, f)
			body, basic := fmt.Sprintf(`{"token":%q}`, access), false
			if user != "" {
				body, basic = fmt.Sprintf(`{"username":%q}`, user), true
			}
			first := s.send(2, givingUp, l, InvalidateAccess, pair, "DELETE", "/_security/oauth2/token", body, basic, "")
			repeatVia := l
			if via == "through the lagging follower" {
				repeatVia = f
			}
			again := s.send(2, requestTimeout, repeatVia, InvalidateAccess, pair, "DELETE", "/_security/oauth2/token", body, basic, "")
			s.probe(f, pair, access)
			t.Logf("first invalidation: %s; repeat through %s: %s", first, repeatVia.id, again)
			s.healed()
			s.check(t)
		})
	}
}

// A follower whose node-to-node HTTP address refuses connections may still
// answer clients from its state (here it also lags: the leader's Raft
// traffic to it is cut). An invalidation must not take the refusal as proof
// that it serves nothing (issue 18 item 2).
func TestRevocation_RefusedConnectionIsNoProofThatAMemberIsNotServing(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection suite skipped under -short")
	}
	requireProc(t)
	c := startCluster(t, 3)
	s := newScript(c)
	l := c.waitHealthy(60 * time.Second)
	f := c.others(l.id)[0]
	pair, access := s.issue(l, "")
	s.accepted(f, pair, access)
	lagging(l, f)
	f.httpProxy.Refuse()
	inv := s.send(2, requestTimeout, l, InvalidateAccess, pair, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), false, "")
	s.probe(f, pair, access)
	t.Logf("invalidation: %s", inv)
	if err := f.httpProxy.Listen(); err != nil {
		t.Fatal(err)
	}
	s.healed()
	s.check(t)
}
