package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// enrollJoin is a join request for a node called id.
func enrollJoin(id string) cluster.JoinRequest {
	return cluster.JoinRequest{NodeID: id, RaftAddr: id + ":9300", HTTPAddr: id + ":9200"}
}

// createEnrollmentToken asks n for an enrollment token as the superuser.
func createEnrollmentToken(t *testing.T, n *testNode, body string) cluster.Enrollment {
	t.Helper()
	r := n.do("POST", enrollPath, body, basicAuth("elastic", "elastic-pw")...).want(t, 200)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("enrollment answer Cache-Control %q, want no-store", cc)
	}
	tok, _ := r.json(t)["token"].(string)
	e, err := cluster.ParseEnrollment(tok)
	if err != nil {
		t.Fatalf("answer %s: %v", r.body, err)
	}
	return e
}

// An enrollment token, created through a follower, names every member,
// admits one node (which receives the node credential without any
// password) and is refused on reuse, through any member, with a 401 that
// says so.
func TestEnrollment_AdmitsOnceThenRefusesReuse(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	e := createEnrollmentToken(t, follower, "")
	if len(e.URLs) != 2 || e.CASHA256 != "" || time.Until(time.Unix(e.Expires, 0)) < 29*time.Minute {
		t.Fatalf("token payload %+v: want both members, no CA, 30 minutes", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := cluster.JoinEnrolled(ctx, nil, []string{follower.ts.URL}, enrollJoin("n3"), e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeCredential != testSecret {
		t.Fatalf("join answer %+v: want the node credential", a)
	}
	for _, n := range []*testNode{leader, follower} {
		_, err := cluster.JoinEnrolled(ctx, nil, []string{n.ts.URL}, enrollJoin("n4"), e.Secret)
		if err == nil || !strings.Contains(err.Error(), "already used") || !strings.Contains(err.Error(), "401") {
			t.Fatalf("reuse through %s: %v, want a 401 saying it was used", n.node.id, err)
		}
	}
	if servers, _ := leader.node.Servers(); len(servers) != 3 {
		t.Fatalf("members %v: want n1, n2 and the one enrolled node", servers)
	}
}

// A token past its expiry is refused with a 401 that says so; a forged or
// malformed one is refused too, and only a superuser may create one, with
// a lifetime in bounds.
func TestEnrollment_RefusesExpiredUnknownAndUnauthorised(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	e := createEnrollmentToken(t, leader, `{"ttl":"1m"}`)
	leader.node.log.clock.advance(2 * time.Minute)
	body := `{"node_id":"n5","raft_addr":"n5:9300","http_addr":"n5:9200"}`
	leader.do("POST", joinPath, body, headerEnrollment, e.Secret).
		wantError(t, 401, "security_exception", "the enrollment token has expired: create another with tokend enroll")
	leader.do("POST", joinPath, body, headerEnrollment, "forged-enrollment-secret").want(t, 401)
	leader.do("POST", enrollPath, "").want(t, 401)
	leader.do("POST", enrollPath, "", basicAuth("alice", "alice-pw")...).want(t, 403)
	leader.do("POST", enrollPath, `{"ttl":"1000h"}`, basicAuth("elastic", "elastic-pw")...).want(t, 400)
	leader.do("POST", enrollPath, `{"ttl":"soon"}`, basicAuth("elastic", "elastic-pw")...).want(t, 400)
	for _, bad := range []string{"", "tokend-enroll-v1.", "tokend-enroll-v1.!!!", "tokend-enroll-v1.e30", "other-prefix.e30",
		e.String()[:len(e.String())-5]} {
		if _, err := cluster.ParseEnrollment(bad); err == nil {
			t.Errorf("cluster.ParseEnrollment(%.24q) accepted a malformed token", bad)
		}
	}
	if servers, _ := leader.node.Servers(); len(servers) != 1 {
		t.Fatalf("members %v: a refused token admitted a node", servers)
	}
}

// A follower that has not yet applied the entry creating a token forwards
// the join to the leader, which admits the node, rather than refusing it.
func TestEnrollment_LaggingFollowerLetsTheLeaderDecide(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	secret := "token-created-after-the-follower-applied"
	leader.propose(&fsm.CreateEnrollment{Digest: fsm.DigestOf(secret), Expires: time.Now().Add(time.Hour).UnixMilli()})
	if st := follower.node.state.EnrollmentStatus(fsm.DigestOf(secret), time.Now().UnixMilli()); st != fsm.NotFound {
		t.Fatalf("the follower already knows the token (%v): the test proves nothing", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cluster.JoinEnrolled(ctx, nil, []string{follower.ts.URL}, enrollJoin("n7"), secret); err != nil {
		t.Fatalf("join through a lagging follower: %v", err)
	}
	if _, err := cluster.JoinEnrolled(ctx, nil, []string{follower.ts.URL}, enrollJoin("n8"), "never-created"); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("an unknown token through a follower: %v, want the leader's 401", err)
	}
}
