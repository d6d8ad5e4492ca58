package faults

import (
	"flag"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the fault schedule and workload (default TOKEND_FAULT_SEED, else from the clock)")

// maxSoak caps TOKEND_FAULT_DURATION below the access token lifetime the
// cluster runs with (1 h), so that no token expires during a run.
const maxSoak = 50 * time.Minute

// runSeed returns the run's seed: -seed, TOKEND_FAULT_SEED or the clock.
func runSeed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if v := os.Getenv("TOKEND_FAULT_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("TOKEND_FAULT_SEED: %v", err)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

// soakDuration returns TOKEND_FAULT_DURATION, 0 for the bounded CI run.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("TOKEND_FAULT_DURATION")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > maxSoak {
		t.Fatalf("TOKEND_FAULT_DURATION=%q: want a duration up to %v", v, maxSoak)
	}
	return d
}

// segment is the part of the run one scenario covers.
type segment struct {
	name     string
	faults   []string
	impaired []string
	// start is when the fault was injected, healed when it was lifted,
	// end when the cluster had recovered.
	start, healed, end time.Duration
}

func TestFaults_GuaranteesHoldUnderCrashesPausesPartitionsAndMembershipChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection suite skipped under -short")
	}
	requireProc(t)
	seed := runSeed(t)
	t.Logf("seed %d (rerun: go test ./test/faults -run TestFaults -seed=%d, or TOKEND_FAULT_SEED=%d)", seed, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := startCluster(t, 3)
	c.addReplica()
	h := NewHistory()
	w := startWorkload(c, h, seed)
	testkit.Eventually(t, 30*time.Second, "the workload warmed up", func() error {
		if n := w.pairCount(); n < warmPairs {
			return fmt.Errorf("%d token pairs issued", n)
		}
		return nil
	})
	defer func() {
		select {
		case <-w.stopped:
		default:
			w.stop()
		}
	}()
	var segs []segment
	for sc := range plan(rng, soakDuration(t)) {
		t.Run(sc.name, func(t *testing.T) {
			defer c.use(t)()
			segs = append(segs, runScenario(c, w, rng, sc))
		})
	}
	stopping := time.Now()
	w.stop()
	t.Logf("workload stopped in %v", time.Since(stopping).Round(time.Millisecond))
	segs = append(segs, fullRestart(c, w))
	report(t, seed, h.Ops(), segs)
}

// warmPairs is how many token pairs the workload holds before the first
// fault, so that every client has tokens to use from the start.
const warmPairs = 50

// maxScenarios bounds the scenarios of one run, soak or not.
const maxScenarios = 1000

// plan yields the scenarios to run: each once in a seeded order, or, for a
// soak of d, seeded picks until d has passed (every scenario at least once).
func plan(rng *rand.Rand, d time.Duration) iter.Seq[scenario] {
	order := slices.Clone(scenarios)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	deadline := time.Now().Add(d)
	return func(yield func(scenario) bool) {
		for i := range maxScenarios {
			sc := order[i%len(order)]
			switch {
			case i >= len(order) && time.Now().After(deadline):
				return
			case i >= len(order):
				sc = scenarios[rng.IntN(len(scenarios))]
			}
			if !yield(sc) {
				return
			}
		}
	}
}

// runScenario runs sc under load and waits until the cluster has
// recovered: healthy, a write answered and a token check answered on every
// node after the fault was healed.
func runScenario(c *cluster, w *workload, rng *rand.Rand, sc scenario) segment {
	c.t.Helper()
	c.waitHealthy(60 * time.Second)
	seg := segment{name: sc.name, start: w.h.Now()}
	seg.faults, seg.impaired = sc.run(c, rng)
	healed := w.h.Now()
	seg.healed = healed
	c.waitHealthy(60 * time.Second)
	testkit.Eventually(c.t, 60*time.Second, sc.name+": progress after the fault", func() error {
		return progressSince(w.h.Ops(), healed, c)
	})
	seg.end = w.h.Now()
	if len(seg.faults) > 0 {
		c.t.Logf("%s: %s", sc.name, strings.Join(seg.faults, "; "))
	}
	return seg
}

// progressSince says what has not yet happened since t: a definite answer
// to a write, and one to a token check on every node.
func progressSince(ops []Op, t time.Duration, c *cluster) error {
	wrote := false
	read := map[string]bool{}
	for _, op := range ops {
		if op.Call < t || op.Outcome == Unavailable {
			continue
		}
		if op.Kind.IsWrite() {
			wrote = true
		} else {
			read[op.Node] = true
		}
	}
	if !wrote {
		return fmt.Errorf("no write answered yet")
	}
	for _, nd := range c.all() {
		if !read[nd.id] {
			return fmt.Errorf("no token check answered on %s yet", nd.id)
		}
	}
	return nil
}
