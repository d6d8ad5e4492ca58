package cluster

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Sampling of the voters' clocks (see Clock).
const (
	// clockSampleTimeout bounds one round of samples; an answer that took
	// longer says too little about the member's clock.
	clockSampleTimeout = 500 * time.Millisecond
	// clockSampleFresh is how long a sample counts.
	clockSampleFresh = 10 * time.Second
)

// clockSample is one measurement of a voter's wall clock relative to this
// node's: offset is added to this node's clock to read the voter'c.
type clockSample struct {
	offset time.Duration
	at     time.Time // this node's monotonic clock
}

// clockOffsets holds the latest sample of each other voter's clock.
type clockOffsets struct {
	mu      sync.Mutex
	samples map[string]clockSample
}

// sample measures every other voter's clock (the clock_ms of its
// status) against this node's, taking the middle of the round trip as the
// moment the voter read it. Every node samples, every housekeeping round,
// so that a node that becomes leader stamps the cluster's time from its
// first command.
func (c *Clock) sample(ctx context.Context) {
	servers, err := c.node.Servers()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, clockSampleTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		addr, ok := c.state.NodeAddr(srv.ID)
		if !srv.Voter || srv.ID == c.nodeID || !ok || addr == "" {
			continue
		}
		wg.Go(func() {
			sent := c.wall()
			st, err := c.peers.fetchStatus(ctx, srv.ID, addr)
			back := c.wall()
			if err != nil || st.ID != srv.ID || st.ClockMillis == 0 {
				return
			}
			mid := sent.Add(back.Sub(sent) / 2)
			c.offsets.record(srv.ID, time.UnixMilli(st.ClockMillis).Sub(mid))
		})
	}
	wg.Wait()
	now := c.wall()
	if off := c.offset(now); off > skewWarnAbove || off < -skewWarnAbove {
		c.warnOffCluster(off)
	}
}

// record keeps a voter's latest offset.
func (o *clockOffsets) record(id string, offset time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.samples == nil {
		o.samples = map[string]clockSample{}
	}
	o.samples[id] = clockSample{offset: offset, at: time.Now()}
}

// clusterTime returns the median of the voters' clocks at the moment this
// node's clock reads wall: this node's own reading and wall plus the offset
// of each voter sampled within clockSampleFresh (only voters are sampled,
// and a removed one's sample goes stale). With three voters, one skewed
// clock, this node's included, cannot move it. Without fresh samples it is
// wall.
func (o *clockOffsets) clusterTime(wall time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	readings := []time.Time{wall}
	for _, smp := range o.samples {
		if time.Since(smp.at) < clockSampleFresh {
			readings = append(readings, wall.Add(smp.offset))
		}
	}
	slices.SortFunc(readings, func(a, b time.Time) int { return a.Compare(b) })
	return readings[(len(readings)-1)/2]
}

// offset is how far this node's clock reading now is ahead of the voters'
// median (behind if negative), as last sampled.
func (c *Clock) offset(now time.Time) time.Duration {
	return now.Sub(c.offsets.clusterTime(now))
}
