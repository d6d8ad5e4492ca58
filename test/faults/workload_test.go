package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Workload bounds.
const (
	// workloadClients is how many clients run: a reader, a writer and a
	// mixed client per node (see step).
	workloadClients = 9
	// replicaReader is the client that checks tokens on the read replica,
	// if the cluster has one: a reader like those of the voters.
	replicaReader = workloadClients
	// maxPairs bounds the token pairs the workload keeps; once reached,
	// new pairs come from refreshes only.
	maxPairs = 4000
	// maxOpsPerClient bounds each client's loop.
	maxOpsPerClient = 200000
	// raceDeadline bounds how long the racers of one refresh token retry
	// unavailability: well within the 30 s grace window.
	raceDeadline = 10 * time.Second
	// racers is how many clients refresh one refresh token at once.
	racers = 3
	// maxRaces bounds the refresh races under way at once; a writer starts
	// one in the background, so that a racer stuck on a cut-off node does
	// not stop the writer's issues.
	maxRaces = 3
	// maxInFlight bounds the requests a reader or writer has under way: it
	// sends each in the background, so that requests stuck on a paused
	// node or a cut-off leader do not stop it from sending new ones, and
	// the gaps it measures are the cluster's, not the client's.
	maxInFlight = 64
)

// pair is one access token and its refresh token (client_credentials
// grants have none). The workload keeps the secrets in memory only; the
// history names pairs by id.
type pair struct {
	id      int
	access  string
	refresh string
	// raced: a refresh race has used the refresh token, so it is spent or
	// refused; it is not refreshed again (a reuse after the grace window
	// would revoke its descendants, which the model does not follow).
	raced bool
	// revokedAccess and revokedRefresh: an invalidation was sent.
	revokedAccess, revokedRefresh bool
	// refreshRevokedOK: an invalidation of the refresh token answered 200.
	refreshRevokedOK bool
}

// workload is the concurrent clients and what they know.
type workload struct {
	c       *cluster
	h       *History
	client  *http.Client
	stopped chan struct{}
	wg      sync.WaitGroup
	races   chan struct{}
	// inFlight holds a slot per background request of each client.
	inFlight []chan struct{}

	mu       sync.Mutex
	pairs    []*pair
	byAccess map[string]*pair
}

// startWorkload starts the clients, client i with a generator seeded from
// seed and i.
func startWorkload(c *cluster, h *History, seed uint64) *workload {
	w := &workload{c: c, h: h, stopped: make(chan struct{}), byAccess: map[string]*pair{}, races: make(chan struct{}, maxRaces),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}}
	for range workloadClients {
		w.inFlight = append(w.inFlight, make(chan struct{}, maxInFlight))
	}
	for i := range workloadClients {
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		w.wg.Go(func() { w.run(i, rng) })
	}
	if c.replica.Load() != nil {
		w.inFlight = append(w.inFlight, make(chan struct{}, maxInFlight))
		rng := rand.New(rand.NewPCG(seed, replicaReader+1))
		w.wg.Go(func() { w.run(replicaReader, rng) })
	}
	return w
}

// timeout is the request timeout of client: readers and writers probe
// availability with a short one.
func (w *workload) timeout(client int) time.Duration {
	if client == replicaReader && w.c.replica.Load() != nil {
		return probeTimeout
	}
	if client/len(w.c.nodes) == roleMixed || client >= workloadClients {
		return requestTimeout
	}
	return probeTimeout
}

// pairCount is how many token pairs the workload knows.
func (w *workload) pairCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pairs)
}

// stop ends the clients and waits for them.
func (w *workload) stop() {
	close(w.stopped)
	w.wg.Wait()
}

// run is one client's loop, bounded in count and by stop.
func (w *workload) run(client int, rng *rand.Rand) {
	pause, jitter := 5, 10
	if client/len(w.c.nodes) != roleMixed || client == replicaReader {
		// A prober sends about 30 requests a second, so that its
		// maxInFlight slots outlast probeTimeout even if every request
		// hangs.
		pause, jitter = 25, 20
	}
	for range maxOpsPerClient {
		select {
		case <-w.stopped:
			return
		case <-time.After(time.Duration(pause+rng.IntN(jitter)) * time.Millisecond):
		}
		w.step(client, rng)
	}
}

// Client roles: client i has role i / 3 and sends its own requests to node
// i mod 3, so each node has a reader, a writer and a mixed client, and one
// stuck on a cut-off node or a slow revocation does not starve the others.
const (
	roleReader = iota // token checks only: measures read availability
	roleWriter        // issues and refresh races: measures write availability
	roleMixed         // invalidations and token checks
)

// step performs one action chosen by the client's role and rng.
func (w *workload) step(client int, rng *rand.Rand) {
	if client == replicaReader {
		if p := w.pick(rng, nil); p != nil {
			w.background(client, func() { w.authenticate(client, w.c.replica.Load(), p) })
		}
		return
	}
	nd := w.c.nodes[client%len(w.c.nodes)]
	roll := rng.IntN(100)
	n := w.pairCount()
	switch role := client / len(w.c.nodes); {
	case n < 10 && role != roleReader:
		w.issue(client, nd, rng.IntN(2) == 0)
	case role == roleReader:
		if p := w.pick(rng, nil); p != nil {
			w.background(client, func() { w.authenticate(client, nd, p) })
		}
	case roll < 30:
		if p := w.pick(rng, nil); p != nil {
			w.authenticate(client, nd, p)
		}
	case role == roleWriter && (roll < 60 && n < maxPairs):
		password := rng.IntN(2) == 0
		w.background(client, func() { w.issue(client, nd, password) })
	case role == roleWriter:
		w.startRace(client, rng)
	case roll < 70:
		if p := w.pick(rng, func(p *pair) bool { return !p.revokedAccess }); p != nil {
			w.invalidate(client, nd, p, InvalidateAccess)
		}
	default:
		if p := w.pick(rng, func(p *pair) bool { return p.refresh != "" && !p.revokedRefresh }); p != nil {
			w.invalidate(client, nd, p, InvalidateRefresh)
		}
	}
}

// background runs do in its own goroutine if client has a free slot, and
// drops it otherwise.
func (w *workload) background(client int, do func()) {
	select {
	case w.inFlight[client] <- struct{}{}:
	default:
		return
	}
	w.wg.Go(func() {
		defer func() { <-w.inFlight[client] }()
		do()
	})
}

// pick returns a pair that ok accepts (any if ok is nil), half the time
// among the newest; nil if none is found quickly.
func (w *workload) pick(rng *rand.Rand, ok func(*pair) bool) *pair {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range 20 {
		if len(w.pairs) == 0 {
			return nil
		}
		i := rng.IntN(len(w.pairs))
		if rng.IntN(2) == 0 {
			i = max(0, len(w.pairs)-1-rng.IntN(100))
		}
		p := w.pairs[i]
		if ok == nil || ok(p) {
			return p
		}
	}
	return nil
}

// record adds op to the history and returns it.
func (w *workload) record(op Op) Op {
	w.h.Add(op)
	return op
}

// learn registers the pair an answer carried and returns its id: the known
// id if its access token was seen before (a retried refresh).
func (w *workload) learn(a answer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.byAccess[a.access]; ok {
		return p.id
	}
	p := &pair{id: len(w.pairs) + 1, access: a.access, refresh: a.refresh}
	w.pairs = append(w.pairs, p)
	w.byAccess[a.access] = p
	return p.id
}

// issue runs a password or client_credentials grant.
func (w *workload) issue(client int, nd *node, password bool) {
	body, basic := grantBody(password)
	call := w.h.Now()
	a := send(w.client, w.timeout(client), nd, Issue, "POST", "/_security/oauth2/token", body, basic, "")
	op := Op{Client: client, Node: nd.id, Kind: Issue, Call: call, Return: w.h.Now(), Status: a.status, Outcome: a.outcome}
	if a.outcome == OK {
		op.Result = w.learn(a)
	}
	w.record(op)
}

// authenticate checks p's access token on nd.
func (w *workload) authenticate(client int, nd *node, p *pair) Op {
	call := w.h.Now()
	a := send(w.client, w.timeout(client), nd, Authenticate, "GET", "/_security/_authenticate", "", false, p.access)
	return w.record(Op{Client: client, Node: nd.id, Kind: Authenticate, Pair: p.id, Call: call, Return: w.h.Now(),
		Status: a.status, Outcome: a.outcome})
}

// invalidate invalidates p's access or refresh token through nd.
func (w *workload) invalidate(client int, nd *node, p *pair, kind Kind) Op {
	w.mu.Lock()
	body := fmt.Sprintf(`{"token":%q}`, p.access)
	if kind == InvalidateRefresh {
		body = fmt.Sprintf(`{"refresh_token":%q}`, p.refresh)
		p.revokedRefresh = true
	} else {
		p.revokedAccess = true
	}
	w.mu.Unlock()
	call := w.h.Now()
	a := send(w.client, w.timeout(client), nd, kind, "DELETE", "/_security/oauth2/token", body, false, "")
	if kind == InvalidateRefresh && a.outcome == OK {
		w.mu.Lock()
		p.refreshRevokedOK = true
		w.mu.Unlock()
	}
	return w.record(Op{Client: client, Node: nd.id, Kind: kind, Pair: p.id, Call: call, Return: w.h.Now(),
		Status: a.status, Outcome: a.outcome})
}

// startRace starts a refresh race in the background unless maxRaces are
// under way.
func (w *workload) startRace(client int, rng *rand.Rand) {
	p := w.pick(rng, func(p *pair) bool { return p.refresh != "" && !p.raced })
	if p == nil {
		return
	}
	select {
	case w.races <- struct{}{}:
	default:
		return
	}
	nodes := make([]*node, racers+1)
	for i := range nodes {
		nodes[i] = w.c.nodes[rng.IntN(len(w.c.nodes))]
	}
	w.wg.Go(func() {
		defer func() { <-w.races }()
		w.race(client, p, nodes)
	})
}

// race refreshes p's refresh token from racers clients at once through
// nodes, each retrying unavailability until raceDeadline; then one more
// refresh inside the grace window, through the last of nodes, must answer
// the same pair.
func (w *workload) race(client int, p *pair, nodes []*node) {
	w.mu.Lock()
	if p.raced {
		w.mu.Unlock()
		return
	}
	p.raced = true
	w.mu.Unlock()
	deadline := time.Now().Add(raceDeadline)
	var wg sync.WaitGroup
	for _, nd := range nodes[:racers] {
		wg.Go(func() { w.refreshUntil(client, nd, p, deadline) })
	}
	wg.Wait()
	w.refreshUntil(client, nodes[racers], p, deadline)
}

// refreshUntil refreshes p through nd, again while the answer is
// unavailability and deadline has not passed.
func (w *workload) refreshUntil(client int, nd *node, p *pair, deadline time.Time) {
	body := fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, p.refresh)
	for time.Now().Before(deadline) {
		call := w.h.Now()
		a := send(w.client, w.timeout(client), nd, Refresh, "POST", "/_security/oauth2/token", body, false, "")
		op := Op{Client: client, Node: nd.id, Kind: Refresh, Pair: p.id, Call: call, Return: w.h.Now(),
			Status: a.status, Outcome: a.outcome}
		if a.outcome == OK {
			op.Result = w.learn(a)
		}
		w.record(op)
		if a.outcome != Unavailable {
			return
		}
		select {
		case <-w.stopped:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
