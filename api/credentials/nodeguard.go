package credentials

import (
	"errors"
	"time"

	"github.com/tokend/tokend/raftnode/peerauth"
)

// maxProofNonces bounds the nonces kept against replay: at 10,000 node
// requests per second over the 60 s a proof can verify, 600,000.
const maxProofNonces = 1 << 20

// NodeGuard checks node proofs (peerauth.Sign) on the receiving side: each
// proof is accepted once, and failed node authentications are limited per
// remote address, NodeFailureBurst in a row and then one every
// NodeFailureEvery; beyond that the address is refused before its proof is
// even checked. It is safe for concurrent use.
//
// The replay guard is peerauth's set of the nonces seen within a proof's
// time window, not a rate limit: rate has nothing to offer it.
type NodeGuard struct {
	replay *peerauth.ReplayGuard
	fails  *failureLimiter
}

// NewNodeGuard returns a NodeGuard that has seen no proof.
func NewNodeGuard() *NodeGuard {
	return &NodeGuard{replay: peerauth.NewReplayGuard(maxProofNonces),
		fails: newFailureLimiter(Limit{Burst: NodeFailureBurst, Every: NodeFailureEvery}, maxLimitedKeys)}
}

// Admit returns a *TooManyFailures if remote is out of failure budget: its
// request must then be refused unchecked.
func (g *NodeGuard) Admit(remote string) error {
	if wait := g.fails.wait(remote, time.Now()); wait > 0 {
		return &TooManyFailures{Wait: wait}
	}
	return nil
}

// Verify checks that proof signs q under secret, for one of audiences, and
// was not used before (peerauth.ReplayGuard.Verify). A proof that fails is
// charged to remote, unless the replay guard is full (peerauth.ErrProofBusy),
// which is no fault of the sender's.
func (g *NodeGuard) Verify(remote string, secret []byte, proof string, q peerauth.Request, audiences []string) error {
	now := time.Now()
	err := g.replay.Verify(secret, proof, q, audiences, now)
	if err != nil && !errors.Is(err, peerauth.ErrProofBusy) {
		g.fails.take(remote, now)
	}
	return err
}

// Fail charges remote with a failed node authentication that the caller
// found without a proof to check: a retired header, or no credential to
// check one with.
func (g *NodeGuard) Fail(remote string) { g.fails.take(remote, time.Now()) }
