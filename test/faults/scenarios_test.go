package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// electionTimeout is tokend's Raft election timeout (raftnode's default,
// not configurable on the command line); pauses last longer.
const electionTimeout = time.Second

// scenario is one fault: run injects it, holds it, heals it and returns
// what it did and which nodes it impaired (their reads may stop).
type scenario struct {
	name string
	run  func(c *cluster, rng *rand.Rand) (faults []string, impaired []string)
}

// maxStaleness is api's bound on how long a follower serves reads without
// hearing from its leader, and how long a revocation waits for a member
// to confirm it (docs/guarantees.md).
const maxStaleness = 5 * time.Second

// hold draws a fault duration in [lo, hi) from rng.
func hold(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// wait lets a fault last d: the fault schedule, not a condition.
func wait(d time.Duration) { <-time.After(d) }

// scenarios lists every fault scenario but the final full restart.
var scenarios = []scenario{
	{"leader kill+restart", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		l := c.waitHealthy(30 * time.Second)
		d := hold(rng, time.Second, 3*time.Second)
		l.kill()
		wait(d)
		l.start()
		return []string{fmt.Sprintf("SIGKILL leader %s, restart after %v", l.id, d.Round(time.Millisecond))}, []string{l.id}
	}},
	{"follower kill+restart", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		f := follower(c, rng)
		d := hold(rng, 2*time.Second, 4*time.Second)
		f.kill()
		wait(d)
		f.start()
		return []string{fmt.Sprintf("SIGKILL follower %s, restart after %v", f.id, d.Round(time.Millisecond))}, []string{f.id}
	}},
	{"leader paused beyond election timeout", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		return pauseLeader(c, hold(rng, 2*electionTimeout, maxStaleness-time.Second))
	}},
	{"leader paused beyond the staleness bound", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		return pauseLeader(c, hold(rng, maxStaleness+time.Second, maxStaleness+3*time.Second))
	}},
	{"minority partition (a follower cut off)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		f := follower(c, rng)
		return partitionFor(c, rng, []*node{f}, c.others(f.id), false), []string{f.id}
	}},
	{"minority partition beyond the staleness bound", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		f := follower(c, rng)
		return partitionFor(c, rng, []*node{f}, c.others(f.id), true), []string{f.id}
	}},
	{"leader isolated from followers", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		l := c.waitHealthy(30 * time.Second)
		return partitionFor(c, rng, []*node{l}, c.others(l.id), false), []string{l.id}
	}},
	{"leader isolated beyond the staleness bound", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		l := c.waitHealthy(30 * time.Second)
		return partitionFor(c, rng, []*node{l}, c.others(l.id), true), []string{l.id}
	}},
	{"leader cut off by a firewall (packets dropped)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		l := c.waitHealthy(30 * time.Second)
		return firewallFor(c, rng, []*node{l}, c.others(l.id)), []string{l.id}
	}},
	{"follower cut off by a firewall (packets dropped)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		f := follower(c, rng)
		return firewallFor(c, rng, []*node{f}, c.others(f.id)), []string{f.id}
	}},
	{"majority ring (followers cut from each other)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		l := c.waitHealthy(30 * time.Second)
		fs := c.others(l.id)
		// Each node keeps a majority (itself and the leader, or the leader
		// and both followers), so reads and writes must go on everywhere.
		return partitionFor(c, rng, fs[:1], fs[1:], true), nil
	}},
	{"membership change (kill a follower, remove it, re-join it empty)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		return removeAndRejoin(c, rng, false)
	}},
	{"membership change (remove a live follower, re-join it empty)", func(c *cluster, rng *rand.Rand) ([]string, []string) {
		return removeAndRejoin(c, rng, true)
	}},
}

// pauseLeader stops the leader with SIGSTOP for d, then resumes it.
func pauseLeader(c *cluster, d time.Duration) ([]string, []string) {
	l := c.waitHealthy(30 * time.Second)
	l.pause()
	wait(d)
	l.resume()
	return []string{fmt.Sprintf("SIGSTOP leader %s for %v, then SIGCONT", l.id, d.Round(time.Millisecond))}, []string{l.id}
}

// follower returns a random follower of a healthy cluster.
func follower(c *cluster, rng *rand.Rand) *node {
	l := c.waitHealthy(30 * time.Second)
	fs := c.others(l.id)
	return fs[rng.IntN(len(fs))]
}

// partitionFor cuts a from b (both directions, Raft and HTTP), then heals.
// The cut lasts beyond the election timeout; if long, beyond the staleness
// bound too, so that cut-off nodes must stop serving.
func partitionFor(c *cluster, rng *rand.Rand, a, b []*node, long bool) []string {
	mode := Blackhole
	if rng.IntN(4) == 0 {
		mode = Drop
	}
	d := hold(rng, 2*electionTimeout, maxStaleness-time.Second)
	if long {
		d = hold(rng, maxStaleness+time.Second, maxStaleness+3*time.Second)
	}
	c.partition(mode, a, b)
	wait(d)
	c.heal()
	return []string{fmt.Sprintf("partition %v | %v (%v) for %v, then heal", ids(a), ids(b), mode, d.Round(time.Millisecond))}
}

// firewallFor cuts a from b by dropping their packets (cluster.firewall)
// beyond the election timeout, then heals. Without a firewall it
// partitions them through the proxies instead, and says so.
func firewallFor(c *cluster, rng *rand.Rand, a, b []*node) []string {
	if c.fw == nil {
		return append(partitionFor(c, rng, a, b, false), "no firewall here: partitioned by the proxies")
	}
	d := hold(rng, 2*electionTimeout, maxStaleness-time.Second)
	c.firewall(a, b)
	wait(d)
	c.heal()
	return []string{fmt.Sprintf("firewall %v | %v (packets dropped) for %v, then heal", ids(a), ids(b), d.Round(time.Millisecond))}
}

func ids(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, nd := range nodes {
		out[i] = nd.id
	}
	return out
}

// removeAndRejoin removes a follower through another node, then has it
// join again under the same id with an empty data dir. If live, the
// follower keeps running and serving for a while after its removal;
// otherwise it is killed first, as an operator replaces a dead node.
func removeAndRejoin(c *cluster, rng *rand.Rand, live bool) ([]string, []string) {
	f := follower(c, rng)
	rest := c.others(f.id)
	via := rest[rng.IntN(len(rest))]
	if !live {
		f.kill()
	}
	testkit.Eventually(c.t, 20*time.Second, "remove "+f.id+" via "+via.id, func() error {
		a := send(c.control, requestTimeout, via, Issue, http.MethodDelete, "/_tokend/cluster/nodes/"+f.id, "", true, "")
		if a.status != 200 {
			return fmt.Errorf("remove answered %d", a.status)
		}
		return nil
	})
	d := hold(rng, time.Second, 3*time.Second)
	wait(d)
	f.kill()
	f.wipe()
	f.joinArgs = []string{"--join", peerURLs(rest)}
	f.start()
	what := "kill %s, remove it via %s, re-join it with an empty data dir %v later"
	if live {
		what = "remove %s via %s under load, kill it %v later, re-join it with an empty data dir"
	}
	return []string{fmt.Sprintf(what, f.id, via.id, d.Round(time.Millisecond))}, []string{f.id}
}
