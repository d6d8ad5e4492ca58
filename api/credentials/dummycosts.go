package credentials

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// dummyHash is the cost-10 hash of dummyHashes.
var dummyHash = dummyHashes[DefaultCost]

// dummyHashes are bcrypt hashes, one per cost tokend verifies from
// MinCost up, of random strings nobody knows. A password check for an
// unknown user, or for a user whose stored hash cannot be verified, compares
// against one of them so that it spends the time a real user's check would.
var dummyHashes = map[int][]byte{
	10: []byte("$2a$10$beF1EpR5uFX3md/417gI3.Xsv7CZzmMHwrFSUH1V400rgImpx.aIy"),
	11: []byte("$2a$11$DuYrcYQgZY3ePBhYJZn0/ut/0faBxWcjw5HqPjk/wrnPVO37iN/Fu"),
	12: []byte("$2a$12$NHqpoGu2HyDoELXjCBwyFug5UugchvIJDelUolyrj.Rd74Jabjg1y"),
	13: []byte("$2a$13$x9y.oGXTUsZJUTbKLTYj5u1Z6sVzNaIrCuG6tZo71WuRQO2pYTz.G"),
	14: []byte("$2a$14$bD7fIbLOGWL3alEnPqCi4OZmVcPbb.tytfD.S3MIh7bs7wQURbXPW"),
}

// costRefresh bounds how often the stored costs are counted again.
const costRefresh = time.Second

// dummyCosts chooses the dummy hash for a username that has no verifiable
// hash. If every unknown user were checked at one fixed cost, a user whose
// stored hash has another cost would answer faster or slower than an unknown
// one and so reveal that it exists. Instead each username is given a cost
// drawn from the costs of the stored hashes, in their proportions, by a
// keyed digest of the name: the same name always gets the same cost while
// the stored costs stay the same, and which names get which cost cannot be
// told without the key. The key derives from the node credential once this
// node knows it, so that every node of the cluster answers a name at the
// same cost; before that, from a random key of this process.
//
// The counts come from the state at most once per costRefresh, and only
// when its applied index moved: a check never waits for a scan of all users
// more often than that.
type dummyCosts struct {
	cred     *peerauth.Credential
	fallback []byte // the key while the credential is not known

	mu     sync.Mutex
	index  uint64
	at     time.Time
	counts [MaxCost + 1]int // stored hashes per cost; costs below MinCost count as MinCost
	total  int
}

// newDummyCosts returns the chooser of dummy costs keyed on cred.
func newDummyCosts(cred *peerauth.Credential) *dummyCosts {
	fallback := make([]byte, 32)
	_, _ = rand.Read(fallback)
	return &dummyCosts{cred: cred, fallback: fallback}
}

// key is the key of the digest that picks a name's cost.
func (d *dummyCosts) key() []byte {
	if secret, ok := d.cred.Secret(); ok {
		return append([]byte("tokend/v1 dummy-cost "), secret...)
	}
	return d.fallback
}

// hash returns the dummy hash to compare against for name.
func (d *dummyCosts) hash(state *fsm.FSM, name string) []byte {
	counts, total := d.current(state)
	if total == 0 {
		return dummyHash
	}
	m := hmac.New(sha256.New, d.key())
	m.Write([]byte(name))
	pick := int(binary.BigEndian.Uint64(m.Sum(nil)) % uint64(total))
	for cost := MinCost; cost <= MaxCost; cost++ {
		if pick < counts[cost] {
			return dummyHashes[cost]
		}
		pick -= counts[cost]
	}
	return dummyHash
}

// current returns the stored hashes per cost, counting them again if they
// may have changed.
func (d *dummyCosts) current(state *fsm.FSM) ([MaxCost + 1]int, int) {
	now := time.Now()
	index := state.AppliedIndex()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at.IsZero() || (index != d.index && now.Sub(d.at) >= costRefresh) {
		d.count(state)
		d.index, d.at = index, now
	}
	return d.counts, d.total
}

// count counts the verifiable stored hashes per cost.
func (d *dummyCosts) count(state *fsm.FSM) {
	clear(d.counts[:])
	d.total = 0
	state.EachUserHash(func(hash []byte) {
		if cost, ok := hashCost(hash); ok && cost <= MaxCost {
			d.counts[max(cost, MinCost)]++
			d.total++
		}
	})
}
