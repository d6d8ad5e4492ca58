package api

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/test/testkit"
)

func TestBearer_ANodeWhoseClockIsBehindRefusesOnceTheLogIsPastExpiry(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	const behind = 10 * time.Minute
	var logs testkit.Buffer
	slow := startNode(t, newFakeFollower("n2", leader.node), func(c *Config) {
		c.Clock = func() time.Time { return leader.node.log.clock.now().Add(-behind) }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: slow.srv.cfg.HTTPAdvertise})
	access, _ := leader.passwordGrant("alice", "alice-pw") // lives 20 min

	leader.node.log.clock.advance(DefaultTokenTimeout + time.Minute)
	leader.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	// By its own clock the token has 9 min left: within the documented
	// bound (the node's lag), the slow node still accepts it.
	slow.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)

	// Any entry stamped after the expiry moves the slow node's time on.
	leader.propose(&fsm.SetNode{NodeID: "n1", HTTPAddr: leader.srv.cfg.HTTPAdvertise})
	if err := slow.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	slow.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	slow.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 401)
	// The node says its clock is behind, once however often it checks.
	if warns := strings.Count(logs.String(), "level=WARN msg=\"this node's clock is behind"); warns != 1 {
		t.Fatalf("%d warnings about the clock, want 1:\n%s", warns, logs.String())
	}
}

func TestPasswordGrant_ALeaderWhoseClockSteppedBackStampsTheLogsTime(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	first, _ := n.passwordGrant("alice", "alice-pw")
	n.node.log.clock.advance(-time.Hour)
	second, _ := n.passwordGrant("alice", "alice-pw")
	a, _ := n.srv.state.AccessToken(fsm.DigestOf(first))
	b, _ := n.srv.state.AccessToken(fsm.DigestOf(second))
	if b.Created < a.Created {
		t.Fatalf("token issued after the step back created at %d, before the one issued first (%d)", b.Created, a.Created)
	}
	// Issued under a clock an hour behind, it lives its full 20 min by the
	// log's time and is accepted.
	if life := b.Expires - b.Created; life != DefaultTokenTimeout.Milliseconds() {
		t.Fatalf("lifetime %d ms", life)
	}
	n.do("GET", "/_security/_authenticate", "", bearer(second)...).want(t, 200)
}
