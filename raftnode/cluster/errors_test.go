package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// The "no leader" error says why, in the words the HTTP edge answers with,
// and is still raftnode.ErrNoLeader for code that only asks whether there
// is a leader.
func TestNoLeaderError_SaysWhy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  NoLeaderError
		want string
	}{
		{NoLeaderError{Removed: true}, RemovedReason},
		{NoLeaderError{Starting: true, Up: 1234567 * time.Microsecond},
			"no leader is elected yet: this node started 1.235s ago and is still reaching its peers"},
		{NoLeaderError{}, "no leader is elected"},
		{NoLeaderError{Reachable: 1, Voters: 3}, "no leader: quorum lost, 1 of 3 voters reachable"},
		{NoLeaderError{Reachable: 2, Voters: 4}, "no leader: quorum lost, 2 of 4 voters reachable"},
		{NoLeaderError{Reachable: 2, Voters: 3}, "no leader is elected yet (2 of 3 voters reachable); an election is under way"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.err, got, c.want)
		}
		if !errors.Is(&c.err, raftnode.ErrNoLeader) {
			t.Errorf("%+v is not raftnode.ErrNoLeader", c.err)
		}
	}
}
