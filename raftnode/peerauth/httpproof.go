package peerauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A node proves on a node-to-node HTTP request that it holds the credential
// without sending it: the request carries a proof,
//
//	v1 <unix-ms> <nonce> <mac>
//
// where mac is HMAC-SHA256 under the secret of the request's method and
// target, the node it is meant for, the calling node's ID, the client
// address it vouches for and the SHA-256 of its body, with the time and
// the nonce. A proof is accepted within ProofWindow of the receiver's clock
// and only once (ReplayGuard), so a captured proof cannot be used again,
// for another request or at another node.

// ProofWindow is how far a proof's time may be from the receiver's clock.
const ProofWindow = 30 * time.Second

// UnsignedBody is the body digest of a request whose body is streamed and
// therefore not covered by its proof (snapshot uploads).
const UnsignedBody = "-"

// proofVersion starts every proof; proofLabel separates its MAC from any
// other use of the secret.
const (
	proofVersion  = "v1"
	proofLabel    = "tokend/v1 node-http-proof"
	proofNonceLen = 16
)

// Errors of Verify.
var (
	ErrProofMalformed = errors.New("node proof malformed")
	ErrProofStale     = errors.New("node proof outside the accepted time window (check the clocks)")
	ErrProofInvalid   = errors.New("node proof does not match")
	ErrProofReplayed  = errors.New("node proof already used")
	ErrProofBusy      = errors.New("too many node proofs in the time window")
)

// Request is what a proof covers.
type Request struct {
	// Method and Target are the request line (Target as sent: path?query).
	Method, Target string
	// Audience is the node ID the request is meant for; "" when the
	// caller does not know it (a join sent to a URL).
	Audience string
	// NodeID is the calling node's ID (X-Tokend-Forwarded), "" for a node
	// that is not a member yet.
	NodeID string
	// ClientAddr is the client address the caller vouches for, "" if none.
	ClientAddr string
	// BodyDigest is BodyDigest of the body, or UnsignedBody.
	BodyDigest string
}

// BodyDigest returns the digest of body a proof covers.
func BodyDigest(body []byte) string {
	d := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// Sign returns the proof of q under secret at now.
func Sign(secret []byte, q Request, now time.Time) string {
	var nonce [proofNonceLen]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	ms := now.UnixMilli()
	return proofVersion + " " + strconv.FormatInt(ms, 10) + " " +
		base64.RawURLEncoding.EncodeToString(nonce[:]) + " " +
		base64.RawURLEncoding.EncodeToString(proofMAC(secret, q, ms, nonce[:]))
}

// proofMAC is the MAC of q at ms with nonce. Every field is length-prefixed
// so that no two requests share an encoding.
func proofMAC(secret []byte, q Request, ms int64, nonce []byte) []byte {
	m := hmac.New(sha256.New, secret)
	field(m, []byte(proofLabel))
	for _, f := range []string{q.Method, q.Target, q.Audience, q.NodeID, q.ClientAddr, q.BodyDigest} {
		field(m, []byte(f))
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(ms))
	field(m, t[:])
	field(m, nonce)
	return m.Sum(nil)
}

// field writes b with its length in front.
func field(h hash.Hash, b []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	h.Write(b)
}

// ReplayGuard verifies proofs and remembers the nonces of those it accepted
// while they are within the window, so that each is accepted once. It
// holds at most maxNonces of them: beyond that it refuses proofs
// (ErrProofBusy) rather than forget one that could then be replayed. Only
// proofs that verified take room, so only holders of the credential can
// fill it. Safe for concurrent use.
type ReplayGuard struct {
	maxNonces int

	mu   sync.Mutex
	seen map[[proofNonceLen]byte]int64 // nonce -> unix ms after which it cannot verify again
}

// NewReplayGuard returns a guard remembering at most maxNonces nonces.
func NewReplayGuard(maxNonces int) *ReplayGuard {
	return &ReplayGuard{maxNonces: maxNonces, seen: map[[proofNonceLen]byte]int64{}}
}

// Verify checks proof for q under secret at now, and accepts it only once.
// audiences are the audiences accepted (the receiver's node ID, and "" if
// it accepts proofs meant for any node).
func (g *ReplayGuard) Verify(secret []byte, proof string, q Request, audiences []string, now time.Time) error {
	parts := strings.Split(proof, " ")
	if len(parts) != 4 || parts[0] != proofVersion {
		return ErrProofMalformed
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	nonce, nerr := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	mac, merr := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil || nerr != nil || merr != nil || len(nonce) != proofNonceLen || len(mac) != sha256.Size {
		return ErrProofMalformed
	}
	nowMs := now.UnixMilli()
	if d := nowMs - ms; d > ProofWindow.Milliseconds() || d < -ProofWindow.Milliseconds() {
		return ErrProofStale
	}
	ok := false
	for _, aud := range audiences {
		q.Audience = aud
		ok = ok || hmac.Equal(mac, proofMAC(secret, q, ms, nonce))
	}
	if !ok {
		return ErrProofInvalid
	}
	return g.remember([proofNonceLen]byte(nonce), ms+ProofWindow.Milliseconds(), nowMs)
}

// remember records nonce until expires, refusing one already recorded.
func (g *ReplayGuard) remember(nonce [proofNonceLen]byte, expires, nowMs int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until, ok := g.seen[nonce]; ok && until >= nowMs {
		return ErrProofReplayed
	}
	if len(g.seen) >= g.maxNonces {
		for k, until := range g.seen {
			if until < nowMs {
				delete(g.seen, k)
			}
		}
		if len(g.seen) >= g.maxNonces {
			return fmt.Errorf("%w (%d)", ErrProofBusy, g.maxNonces)
		}
	}
	g.seen[nonce] = expires
	return nil
}
