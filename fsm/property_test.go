package fsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// gen produces random but plausible command sequences: a small pool of
// tokens, users and request IDs, so that commands hit existing records,
// collide, repeat and expire.
type gen struct {
	rng       *rand.Rand
	now       int64
	ids       []RequestID
	next      int      // tokens issued so far
	refreshes []Digest // refresh tokens proposed, newest last
	spent     []Digest // refresh tokens presented, newest last
	clients   map[Digest]string
	// put records the names of the users the generator has put, exists
	// those not deleted since, enabled those last put or set enabled. They
	// model the users only roughly (an entry under a repeated request ID may
	// be deduplicated), which is fine: owners are picked from them.
	put, exists, enabled map[string]bool
}

var (
	genUsers   = []string{"alice", "bob", "carol", "elastic"}
	genClients = []string{"", "alice", "bob"}
)

// token returns a digest from a pool that grows as tokens are issued.
func (g *gen) token() Digest { return dg(fmt.Sprint("t", g.rng.IntN(g.next+2))) }

// fresh returns the digest of a never-used token, most of the time.
func (g *gen) fresh() Digest {
	g.next++
	if g.rng.IntN(50) == 0 {
		return g.token() // occasional collision
	}
	return dg(fmt.Sprint("t", g.next))
}

// presented picks a refresh token to present: most often a recent one,
// sometimes one presented before (retry or replay), sometimes any token.
func (g *gen) presented() Digest {
	var d Digest
	switch r := g.rng.IntN(10); {
	case r < 5 && len(g.refreshes) > 0:
		d = g.refreshes[max(0, len(g.refreshes)-1-g.rng.IntN(20))]
	case r < 9 && len(g.spent) > 0:
		d = g.spent[max(0, len(g.spent)-1-g.rng.IntN(10))]
	default:
		d = g.token()
	}
	g.spent = append(g.spent, d)
	return d
}

// meta advances the clock and picks a request ID: zero, fresh or repeated.
func (g *gen) meta() Meta {
	switch r := g.rng.IntN(200); {
	case r == 0:
		g.now += RefreshLifetime
	case r < 40:
		g.now += g.rng.Int64N(2 * GraceWindow)
	default:
		g.now += g.rng.Int64N(1000)
	}
	m := Meta{Time: g.now}
	switch r := g.rng.IntN(10); {
	case r < 3:
	case r < 5 && len(g.ids) > 0:
		m.ID = g.ids[g.rng.IntN(len(g.ids))]
	default:
		m.ID = RequestID{byte(len(g.ids)), byte(len(g.ids) >> 8), 1}
		g.ids = append(g.ids, m.ID)
	}
	return m
}

// command returns the next random command.
func (g *gen) command() Command {
	m, user := g.meta(), genUsers[g.rng.IntN(len(genUsers))]
	realm := realmOf(user)
	switch g.rng.IntN(20) {
	case 0, 1, 2, 3, 4:
		if owner, realm, ok := g.owner(); ok {
			return g.createToken(m, owner, realm)
		}
		return g.putUser(m, user, realm)
	case 5, 6, 7, 8, 9:
		return g.refresh(m)
	case 10, 11:
		return &Invalidate{Meta: m, By: InvalidateBy(1 + g.rng.IntN(4)), Token: g.token(), Username: user, Realm: realm.Name}
	case 12:
		if g.rng.IntN(2) == 0 { // half as often as the other commands
			return &Purge{Meta: m}
		}
	case 13, 14, 15, 16, 17:
		return g.userCommand(m, user, realm)
	case 18:
		return &SetNode{Meta: m, NodeID: fmt.Sprint("n", g.rng.IntN(4)), HTTPAddr: []string{"", "a:1", "b:2"}[g.rng.IntN(3)]}
	}
	return &InitCluster{Meta: m, UUID: fmt.Sprint("u", g.rng.IntN(3))}
}

// realmOf returns the realm the generator puts user in.
func realmOf(user string) Realm {
	if user == "elastic" {
		return ReservedRealm
	}
	return NativeRealm
}

// owner picks the owner of a new token among the users the generator has
// put (ok is false before the first put): most often a usable one, in its own
// realm; one time in eight any of them, deleted, disabled or not, in either
// realm, so that CreateToken keeps being refused now and then.
func (g *gen) owner() (user string, realm Realm, ok bool) {
	var live, all []string // in genUsers order: the choice depends on the seed only
	for _, u := range genUsers {
		if g.put[u] {
			all = append(all, u)
			if g.exists[u] && g.enabled[u] {
				live = append(live, u)
			}
		}
	}
	if len(all) == 0 {
		return "", Realm{}, false
	}
	if len(live) == 0 || g.rng.IntN(8) == 0 {
		user = all[g.rng.IntN(len(all))]
		realm = realmOf(user)
		if g.rng.IntN(2) == 0 {
			realm = [...]Realm{NativeRealm, ReservedRealm}[g.rng.IntN(2)]
		}
		return user, realm, true
	}
	user = live[g.rng.IntN(len(live))]
	return user, realmOf(user), true
}

// putUser returns a PutUser, most often of an enabled user.
func (g *gen) putUser(m Meta, user string, realm Realm) Command {
	u := User{Username: user, Enabled: g.rng.IntN(3) > 0, Realm: realm, Roles: []string{"r"}}
	if g.rng.IntN(2) == 0 {
		u.Hash = []byte(fmt.Sprint("h", g.now))
	}
	g.put[user], g.exists[user], g.enabled[user] = true, true, u.Enabled
	return &PutUser{Meta: m, User: u}
}

// createToken returns a CreateToken, most often with a refresh token.
func (g *gen) createToken(m Meta, user string, realm Realm) Command {
	c := &CreateToken{Meta: m, Access: g.fresh(), User: user, Realm: realm, Lifetime: lifetime, Client: genClients[g.rng.IntN(3)]}
	if g.rng.IntN(4) > 0 {
		c.Refresh = g.fresh()
		g.refreshes = append(g.refreshes, c.Refresh)
		g.clients[c.Refresh] = c.Client
	}
	return c
}

// refresh returns a Refresh, most often by the token's own client.
func (g *gen) refresh(m Meta) Command {
	p := g.presented()
	client := g.clients[p]
	if g.rng.IntN(8) == 0 {
		client = genClients[g.rng.IntN(3)]
	}
	c := &Refresh{Meta: m, Presented: p, Client: client, NewAccess: g.fresh(), NewRefresh: g.fresh(),
		Sealed: []byte(fmt.Sprint("pair", g.next)), Lifetime: lifetime, RevokeOnReplay: g.rng.IntN(3) > 0}
	g.refreshes = append(g.refreshes, c.NewRefresh)
	g.clients[c.NewRefresh] = g.clients[p]
	return c
}

// userCommand returns one of the user commands.
func (g *gen) userCommand(m Meta, user string, realm Realm) Command {
	switch g.rng.IntN(5) {
	case 0, 1:
		return g.putUser(m, user, realm)
	case 2:
		g.exists[user] = false
		return &DeleteUser{Meta: m, Username: user}
	case 3:
		return &SetPassword{Meta: m, Username: user, Hash: []byte(fmt.Sprint("p", g.now))}
	}
	c := &SetEnabled{Meta: m, Username: user, Enabled: g.rng.IntN(2) == 0}
	g.enabled[user] = c.Enabled
	return c
}

// entries returns n encoded log entries from a generator seeded with seed.
func entries(t *testing.T, seed uint64, n int) [][]byte {
	t.Helper()
	g := &gen{rng: rand.New(rand.NewPCG(seed, 99)), now: t0, clients: map[Digest]string{},
		put: map[string]bool{}, exists: map[string]bool{}, enabled: map[string]bool{}}
	out := make([][]byte, n)
	for i := range out {
		b, err := Encode(g.command())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// replay decodes and applies entries[from:to] to f at indexes from+1..to.
func replay(t *testing.T, f *FSM, entries [][]byte, from, to int) []Result {
	t.Helper()
	var results []Result
	for i := from; i < to; i++ {
		c, err := Decode(entries[i])
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		results = append(results, f.Apply(uint64(i+1), c))
	}
	return results
}

func TestReplay_SameEntriesGiveSameStateAndResults(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			log := entries(t, seed, 3000)
			a, b := New(), New()
			ra := replay(t, a, log, 0, len(log))
			rb := replay(t, b, log, 0, len(log))
			if !reflect.DeepEqual(ra, rb) {
				t.Fatal("results differ between replicas")
			}
			sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
			if !bytes.Equal(sa, sb) {
				t.Fatal("snapshots differ between replicas")
			}
			if !reflect.DeepEqual(contents(a), contents(b)) {
				t.Fatal("states differ between replicas")
			}
			assertVaried(t, ra)
			assertOwnersPut(t, log, ra)
		})
	}
}

func TestReplay_RestoredSnapshotThenRestOfLogGivesSameState(t *testing.T) {
	for seed := uint64(11); seed <= 14; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			log := entries(t, seed, 2000)
			mid := 700 + int(seed)*37
			whole := New()
			want := replay(t, whole, log, 0, len(log))

			first := New()
			replay(t, first, log, 0, mid)
			restored := New()
			restored.Apply(5, &SetNode{NodeID: "stale", HTTPAddr: "x"}) // replaced wholesale
			if err := restored.Restore(bytes.NewReader(snapshotBytes(t, first))); err != nil {
				t.Fatal(err)
			}
			if restored.AppliedIndex() != uint64(mid) {
				t.Fatalf("restored index %d, want %d", restored.AppliedIndex(), mid)
			}
			got := replay(t, restored, log, mid, len(log))
			if !reflect.DeepEqual(got, want[mid:]) {
				t.Fatal("results after restore differ")
			}
			if !bytes.Equal(snapshotBytes(t, whole), snapshotBytes(t, restored)) {
				t.Fatal("state after restore and replay differs")
			}
		})
	}
}

// assertVaried checks that a random sequence exercised most outcomes, so the
// property tests do not pass by doing nothing.
func assertVaried(t *testing.T, results []Result) {
	t.Helper()
	seen := map[Status]bool{}
	revoked, invalidated, purged := false, false, false
	for _, r := range results {
		seen[r.Status] = true
		revoked = revoked || r.Revoked > 0
		invalidated = invalidated || r.Invalidated > 0
		purged = purged || r.Purged > 0
	}
	for _, s := range []Status{OK, NotFound, Expired, Invalidated, WrongClient, Retried, Reused} {
		if !seen[s] {
			t.Errorf("no %v result in the sequence", s)
		}
	}
	if !revoked || !invalidated || !purged {
		t.Errorf("revoked %v, invalidated %v, purged %v: want all", revoked, invalidated, purged)
	}
}

// assertOwnersPut checks that the generator issued tokens only to users it
// had put by an earlier entry, and that some CreateToken entries were applied
// and some refused (owner deleted, disabled or of another realm).
func assertOwnersPut(t *testing.T, log [][]byte, results []Result) {
	t.Helper()
	put := map[string]bool{}
	created, refused := 0, 0
	for i, b := range log {
		c, err := Decode(b)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		switch c := c.(type) {
		case *PutUser:
			put[c.User.Username] = true
		case *CreateToken:
			if !put[c.User] {
				t.Fatalf("entry %d issues a token to %q, never put before", i, c.User)
			}
			switch results[i].Status {
			case OK:
				created++
			case NotFound:
				refused++
			}
		}
	}
	if created == 0 || refused == 0 {
		t.Errorf("%d CreateToken entries applied, %d refused: want both", created, refused)
	}
}
