package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// The procedures of docs/operations.md, run against real processes.

// Client loop bounds: at most loopOps token round trips, each retried for at
// most loopRetryFor, and the loop never outlives loopMaxTime.
const (
	loopOps      = 5000
	loopRetryFor = 20 * time.Second
	loopMaxTime  = 4 * time.Minute
)

// tokenLoop is a client issuing a token on one node and checking it on
// another, over and over, retrying only what docs/operations.md tells
// clients to retry: a refused or broken connection (try another node) and
// 503 (with Retry-After: an election or a hand-over under way).
type tokenLoop struct {
	nodes []*proc

	ops, retries atomic.Int64
	mu           sync.Mutex
	failures     []string
	retried      map[string]int // retried answers by kind, for the test log
}

// call sends one request, moving to the next node on a retryable failure,
// and returns the final answer; ok is false when it had to give up.
func (l *tokenLoop) call(first int, method, path, body string, h map[string][]string) (testkit.Response, bool) {
	deadline := time.Now().Add(loopRetryFor)
	for i := first; ; i++ {
		p := l.nodes[i%len(l.nodes)]
		r, err := testkit.TryDo(p.URL(), method, path, body, h)
		if err == nil && r.Status != 503 {
			return r, true
		}
		if time.Now().After(deadline) {
			l.fail(fmt.Sprintf("%s %s: still failing after %v: %v %d %s", method, path, loopRetryFor, err, r.Status, r.Body))
			return r, false
		}
		l.retries.Add(1)
		l.noteRetry(err, r)
		if r.Status == 503 && r.Header.Get("Retry-After") == "" {
			l.fail(fmt.Sprintf("%s %s on %s: 503 without Retry-After: %s", method, path, p.id, r.Body))
		}
		time.Sleep(50 * time.Millisecond) // client back-off before the next node
	}
}

// noteRetry counts a retried answer by kind: a connection error, or a 503's
// reason.
func (l *tokenLoop) noteRetry(err error, r testkit.Response) {
	kind := "connection error"
	if e, ok := field(r, "error").(map[string]any); ok && err == nil {
		kind = fmt.Sprintf("503 %v", e["reason"])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.retried == nil {
		l.retried = map[string]int{}
	}
	l.retried[kind]++
}

func (l *tokenLoop) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, msg)
}

// run issues and validates tokens until stop is closed or a bound is hit.
func (l *tokenLoop) run(stop <-chan struct{}) {
	end := time.Now().Add(loopMaxTime)
	grant := fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword)
	for i := 0; i < loopOps && time.Now().Before(end); i++ {
		select {
		case <-stop:
			return
		default:
		}
		issueOn := rand.IntN(len(l.nodes))
		r, ok := l.call(issueOn, "POST", "/_security/oauth2/token", grant, nil)
		if !ok {
			continue
		}
		access, _ := field(r, "access_token").(string)
		if r.Status != 200 || access == "" {
			l.fail(fmt.Sprintf("password grant: %d %s", r.Status, r.Body))
			continue
		}
		if r, ok := l.call(issueOn+1, "GET", "/_security/_authenticate", "", testkit.Bearer(access)); ok && r.Status != 200 {
			l.fail(fmt.Sprintf("a token the cluster just issued was refused: %d %s", r.Status, r.Body))
		}
		l.ops.Add(1)
	}
}

// field returns one top-level field of a JSON object body, or nil.
func field(r testkit.Response, key string) any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m[key]
}

// restartInPlace stops p with SIGTERM (it must exit cleanly), starts it on
// the same data dir and command line and waits until the cluster is whole.
func restartInPlace(t *testing.T, p *proc, all []*proc) {
	t.Helper()
	if err := p.stop(); err != nil {
		t.Fatalf("%s did not stop cleanly: %v\n%s", p.id, err, p.out.String())
	}
	before := len(p.out.String())
	p.start()
	waitReady(t, p)
	// The log arrives through a pipe: it may trail the readiness answer.
	testkit.Eventually(t, 10*time.Second, p.id+" logs that it restarted from its data dir", func() error {
		if !strings.Contains(p.out.String()[before:], "restarting as an existing member") {
			return errors.New("not in its output since the restart yet")
		}
		return nil
	})
	ids := make([]string, len(all))
	for i, q := range all {
		ids[i] = q.id
	}
	waitHealthy(t, p, ids...)
}

func TestProcedure_RollingRestartOfThreeNodesUnderClientLoad(t *testing.T) {
	nodes := startCluster(t, 3)
	loop := &tokenLoop{nodes: nodes}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); loop.run(stop) }()
	testkit.Eventually(t, 20*time.Second, "the client loop is running", func() error {
		if loop.ops.Load() < 5 {
			return errors.New("fewer than 5 round trips yet")
		}
		return nil
	})
	// Followers first, the leader last (it hands leadership over on SIGTERM).
	var order []*proc
	var last *proc
	for _, p := range nodes {
		if m, err := members(p); err == nil && m[p.id].Leader {
			last = p
			continue
		}
		order = append(order, p)
	}
	if last != nil {
		order = append(order, last)
	}
	for _, p := range order {
		restartInPlace(t, p, nodes)
		before := loop.ops.Load()
		testkit.Eventually(t, 20*time.Second, "round trips after restarting "+p.id, func() error {
			if loop.ops.Load() < before+5 {
				return errors.New("the client loop made no progress")
			}
			return nil
		})
	}
	close(stop)
	<-done
	t.Logf("rolling restart: %d token round trips, %d retried requests: %v", loop.ops.Load(), loop.retries.Load(), loop.retried)
	if len(loop.failures) > 0 {
		t.Fatalf("%d failed requests, first: %s", len(loop.failures), loop.failures[0])
	}
}

func TestProcedure_ReplaceADeadNodeOfAThreeNodeCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	access, _ := getToken(t, n2, "elastic", superPassword)
	n3.kill() // the machine is gone
	// 1. Remove the dead node.
	if out := mustCLI(t, "remove", "node3", "--addr", n1.URL()); out != "removed node node3\n" {
		t.Fatalf("remove: %q", out)
	}
	waitHealthy(t, n1, "node1", "node2")
	// 2. Start a new node with an empty data dir and --join.
	n4 := newProc(t, "node4", "--join", n1.URL()+","+n2.URL())
	n4.start()
	waitLog(t, n1, 30*time.Second, "promoted caught-up non-voter to voter", "id=node4")
	waitHealthy(t, n1, "node1", "node2", "node4")
	if r := doRetry(t, n4, "GET", "/_security/_authenticate", "", testkit.Bearer(access)); r.Status != 200 {
		t.Fatalf("the new node answers %d for a token issued before: %s", r.Status, r.Body)
	}
	r := do(t, n4, "GET", "/_cluster/health?wait_for_status=green&timeout=30s", "", admin)
	if r.Status != 200 || field(r, "status") != "green" {
		t.Fatalf("health after the replacement: %d %s", r.Status, r.Body)
	}
}
