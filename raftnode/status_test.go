package raftnode

import (
	"testing"
	"time"
)

func TestStatsAndServers_ReflectLeadership(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	ls := l.Stats()
	if ls.State != "Leader" || ls.LeaderID != l.ID() || !ls.LastContact.IsZero() || ls.Term == 0 ||
		ls.LeaderChanges == 0 {
		t.Fatalf("leader stats = %+v", ls)
	}
	for _, f := range c.followers() {
		eventually(t, waitLong, func() bool { return !f.Stats().LastContact.IsZero() }, "follower contact")
		fs := f.Stats()
		if fs.State != "Follower" || fs.LeaderID != l.ID() || fs.LeaderAddr != l.Addr() {
			t.Fatalf("follower stats = %+v", fs)
		}
		if id, addr := f.Leader(); id != l.ID() || addr != l.Addr() {
			t.Fatalf("follower Leader() = %s %s", id, addr)
		}
	}
	servers, err := c.followers()[0].Servers()
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers = %v, %v", servers, err)
	}
	leaders := 0
	for _, s := range servers {
		if s.Leader {
			leaders++
			if s.ID != l.ID() {
				t.Fatalf("%s marked leader, want %s", s.ID, l.ID())
			}
		}
	}
	if leaders != 1 {
		t.Fatalf("%d servers marked leader", leaders)
	}
}

func TestLeaderChange_WakesAFollowerWhenItsLeaderIsReplaced(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader()
	f := c.followers()[0]
	changed := f.LeaderChange()
	if err := old.TransferLeadershipTo(testCtx(t), ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(waitLong):
		t.Fatal("no leader change observed")
	}
	eventually(t, waitLong, func() bool {
		id, _ := f.Leader()
		return id != "" && id != old.ID()
	}, "the follower knows the new leader")
}
