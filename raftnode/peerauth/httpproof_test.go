package peerauth

import (
	"errors"
	"testing"
	"time"
)

var proofSecret = []byte("0123456789abcdef-proof")

func TestProof_AcceptedOnceForTheRequestItSigns(t *testing.T) {
	now := time.Now()
	q := Request{Method: "GET", Target: "/_tokend/cluster/status", Audience: "n2", NodeID: "n1",
		ClientAddr: "192.0.2.7", BodyDigest: BodyDigest(nil)}
	proof := Sign(proofSecret, q, now)
	g := NewReplayGuard(100)
	own := []string{"n2", ""}
	// Anything else than the signed request does not verify.
	for name, other := range map[string]Request{
		"method": {Method: "POST", Target: q.Target, Audience: "n2", NodeID: "n1", ClientAddr: q.ClientAddr, BodyDigest: q.BodyDigest},
		"target": {Method: "GET", Target: "/_tokend/cluster/read_index", Audience: "n2", NodeID: "n1", ClientAddr: q.ClientAddr, BodyDigest: q.BodyDigest},
		"node":   {Method: "GET", Target: q.Target, Audience: "n2", NodeID: "n9", ClientAddr: q.ClientAddr, BodyDigest: q.BodyDigest},
		"client": {Method: "GET", Target: q.Target, Audience: "n2", NodeID: "n1", ClientAddr: "203.0.113.1", BodyDigest: q.BodyDigest},
		"body":   {Method: "GET", Target: q.Target, Audience: "n2", NodeID: "n1", ClientAddr: q.ClientAddr, BodyDigest: BodyDigest([]byte("x"))},
	} {
		if err := g.Verify(proofSecret, proof, other, own, now); !errors.Is(err, ErrProofInvalid) {
			t.Errorf("%s changed: %v, want ErrProofInvalid", name, err)
		}
	}
	if err := g.Verify(proofSecret, proof, q, []string{"n3", ""}, now); !errors.Is(err, ErrProofInvalid) {
		t.Errorf("another node accepted a proof meant for n2: %v", err)
	}
	if err := g.Verify([]byte("another-secret-0123"), proof, q, own, now); !errors.Is(err, ErrProofInvalid) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := g.Verify(proofSecret, proof, q, own, now.Add(time.Second)); err != nil {
		t.Fatalf("valid proof refused: %v", err)
	}
	if err := g.Verify(proofSecret, proof, q, own, now.Add(2*time.Second)); !errors.Is(err, ErrProofReplayed) {
		t.Errorf("replayed proof: %v, want ErrProofReplayed", err)
	}
	fresh := Sign(proofSecret, q, now)
	if err := g.Verify(proofSecret, fresh, q, own, now.Add(ProofWindow+time.Second)); !errors.Is(err, ErrProofStale) {
		t.Errorf("old proof: %v, want ErrProofStale", err)
	}
	for _, bad := range []string{"", "v1", "v2 1 AAAA BBBB", "v1 x y z", Sign(proofSecret, q, now) + " extra"} {
		if err := g.Verify(proofSecret, bad, q, own, now); !errors.Is(err, ErrProofMalformed) {
			t.Errorf("%q: %v, want ErrProofMalformed", bad, err)
		}
	}
}

func TestReplayGuard_BoundedAndForgetsExpiredNonces(t *testing.T) {
	now := time.Now()
	q := Request{Method: "GET", Target: "/x"}
	g := NewReplayGuard(2)
	for i := range 2 {
		if err := g.Verify(proofSecret, Sign(proofSecret, q, now), q, []string{""}, now); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	if err := g.Verify(proofSecret, Sign(proofSecret, q, now), q, []string{""}, now); !errors.Is(err, ErrProofBusy) {
		t.Fatalf("third proof with room for two: %v, want ErrProofBusy", err)
	}
	later := now.Add(2*ProofWindow + time.Second)
	if err := g.Verify(proofSecret, Sign(proofSecret, q, later), q, []string{""}, later); err != nil {
		t.Fatalf("after the window the old nonces make room: %v", err)
	}
}
