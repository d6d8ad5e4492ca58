package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// Fakes of the interfaces api declares for the coordination
// (coordination.go), for tests of the routes without package cluster: the
// node they serve always leads, so nothing is forwarded.

// errNoOtherNode is what the fakes answer for a call that needs another
// node; the faked node leads, so the routes never make one.
var errNoOtherNode = errors.New("fake coordination: there is no other node")

// fakeWrites commits proposals straight through node, or fails every one
// with err.
type fakeWrites struct {
	node *fakeNode
	err  error
}

func (f *fakeWrites) Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	if f.err != nil {
		return fsm.Result{}, 0, f.err
	}
	c.Header().ID = cluster.NewRequestID()
	c.Header().Time = f.node.log.clock.now().UnixMilli()
	return f.node.Propose(ctx, c)
}

func (f *fakeWrites) ProposeToken(ctx context.Context, c *fsm.CreateToken) (fsm.Result, error) {
	res, _, err := f.Propose(ctx, c)
	return res, err
}

func (f *fakeWrites) ProposeBatch(context.Context, []fsm.Command) ([]fsm.Result, error) {
	return nil, errNoOtherNode
}

func (f *fakeWrites) BatchesForwardable() bool { return true }

// fakeForwarder runs a relayed write here and forwards nothing.
type fakeForwarder struct{}

func (fakeForwarder) Forward(http.ResponseWriter, *http.Request, string) error { return errNoOtherNode }
func (fakeForwarder) Proxy(http.ResponseWriter, *http.Request, string) error   { return errNoOtherNode }
func (fakeForwarder) Relay(_ http.ResponseWriter, r *http.Request, _ string, local func(*http.Request) error) error {
	return local(r)
}
func (fakeForwarder) Stream(http.ResponseWriter, *http.Request, string, bool, time.Duration) error {
	return errNoOtherNode
}
func (fakeForwarder) LeaderAddrKnown() bool { return true }

// fakeReads lets the node answer from its state unless fresh is set, which
// CheckFresh returns.
type fakeReads struct {
	fresh error
}

func (f *fakeReads) CheckFresh(context.Context) error { return f.fresh }
func (f *fakeReads) CatchUp(context.Context) error    { return nil }
func (f *fakeReads) ServeReadIndex(context.Context, string) (uint64, error) {
	return 0, errNoOtherNode
}
func (f *fakeReads) WaitApplied(context.Context, uint64, bool) (bool, error) { return false, nil }

// fakeRevocations reports each index it is asked to wait for on awaited
// and, with block, holds every wait until the caller's context ends, like
// a replica that never acknowledges; released is closed when a held wait
// returns.
type fakeRevocations struct {
	block    bool
	awaited  chan uint64
	released chan struct{}
}

func newFakeRevocations(block bool) *fakeRevocations {
	return &fakeRevocations{block: block, awaited: make(chan uint64, 16), released: make(chan struct{})}
}

func (f *fakeRevocations) Await(ctx context.Context, index uint64) {
	f.awaited <- index
	if f.block {
		<-ctx.Done()
		close(f.released)
	}
}

func (f *fakeRevocations) LeaseOf(string) (time.Duration, bool) { return 0, false }

// fakeMembers is a one-node membership that always has its leader.
type fakeMembers struct{}

func (fakeMembers) Removed() bool                         { return false }
func (fakeMembers) NoLeader(context.Context) error        { return &cluster.NoLeaderError{} }
func (fakeMembers) LocalStatus() cluster.Status           { return cluster.Status{} }
func (fakeMembers) RoleOf(string, bool) string            { return "voter" }
func (fakeMembers) URLs() []string                        { return nil }
func (fakeMembers) IsMember(string) bool                  { return true }
func (fakeMembers) AwaitLeadership(context.Context) error { return nil }
func (fakeMembers) Probe(context.Context, []raftnode.Server, time.Duration) map[string]cluster.Status {
	return nil
}
func (fakeMembers) Up(context.Context, []raftnode.Server, uint64) cluster.UpCount {
	return cluster.UpCount{}
}
func (fakeMembers) MarkReplica(context.Context, cluster.JoinRequest) (uint64, error) {
	return 0, nil
}
func (fakeMembers) Admit(context.Context, cluster.JoinRequest) error { return errNoOtherNode }
func (fakeMembers) Remove(context.Context, string) error             { return errNoOtherNode }
func (fakeMembers) Transfer(context.Context, string) (string, error) { return "", errNoOtherNode }
func (fakeMembers) RestoreAddrs(context.Context, map[string]string) (uint64, error) {
	return 0, nil
}

// fakeCommandClock is the test cluster's clock in Unix ms.
type fakeCommandClock struct{ clock *testClock }

func (c fakeCommandClock) Now() int64   { return c.clock.now().UnixMilli() }
func (c fakeCommandClock) Stamp() int64 { return c.clock.now().UnixMilli() }

// fakedCoordination is the fakes over node; mod may replace any of them.
func fakedCoordination(node *fakeNode, mod func(*coordination)) coordination {
	co := coordination{writes: &fakeWrites{node: node}, forwarder: fakeForwarder{}, reads: &fakeReads{},
		revocations: newFakeRevocations(false), members: fakeMembers{}, membership: fakeMembers{},
		clock: fakeCommandClock{clock: &node.log.clock}}
	if mod != nil {
		mod(&co)
	}
	return co
}

// newFakedLeader starts a seeded single-node cluster whose routes reach
// the coordination through the fakes (newServer), as mod sets them.
func newFakedLeader(t *testing.T, mod func(*coordination)) *testNode {
	t.Helper()
	node := newFakeLeader("n1")
	n := startNodeWith(t, node, nil, func(cfg Config) (*Server, error) {
		return newServer(cfg, node, node.state, fakedCoordination(node, mod))
	})
	n.seed()
	return n
}
