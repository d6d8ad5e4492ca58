package api

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Sampling of the voters' clocks, so that the leader stamps commands with
// the cluster's time rather than its own: one node whose clock is far
// ahead (or behind) does not move the log's time when it leads.
const (
	// clockSampleTimeout bounds one round of samples; an answer that took
	// longer says too little about the member's clock.
	clockSampleTimeout = 500 * time.Millisecond
	// clockSampleFresh is how long a sample counts.
	clockSampleFresh = 10 * time.Second
)

// clockSample is one measurement of a voter's wall clock relative to this
// node's: offset is added to this node's clock to read the voter's.
type clockSample struct {
	offset time.Duration
	at     time.Time // this node's monotonic clock
}

// clockOffsets holds the latest sample of each other voter's clock.
type clockOffsets struct {
	mu      sync.Mutex
	samples map[string]clockSample
}

// sampleClocks measures every other voter's clock (the clock_ms of its
// status) against this node's, taking the middle of the round trip as the
// moment the voter read it. Every node samples, every housekeeping round,
// so that a node that becomes leader stamps the cluster's time from its
// first command.
func (s *Server) sampleClocks(ctx context.Context) {
	servers, err := s.node.Servers()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, clockSampleTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		addr, ok := s.state.NodeAddr(srv.ID)
		if !srv.Voter || srv.ID == s.cfg.NodeID || !ok || addr == "" {
			continue
		}
		wg.Go(func() {
			sent := s.cfg.Clock()
			st, err := s.fetchStatus(ctx, srv.ID, addr)
			back := s.cfg.Clock()
			if err != nil || st.ID != srv.ID || st.ClockMillis == 0 {
				return
			}
			mid := sent.Add(back.Sub(sent) / 2)
			s.offsets.record(srv.ID, time.UnixMilli(st.ClockMillis).Sub(mid))
		})
	}
	wg.Wait()
	now := s.cfg.Clock()
	if off := now.Sub(s.offsets.clusterTime(now)); off > skewWarnAbove || off < -skewWarnAbove {
		s.clock.warnOffCluster(off)
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
