package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// Cluster health statuses, worst first.
var healthRank = map[string]int{"red": 0, "yellow": 1, "green": 2}

// Health polling.
const (
	defaultHealthTimeout = 30 * time.Second
	healthPoll           = 100 * time.Millisecond
)

// raftJSON is tokend's addition to the health answer.
type raftJSON struct {
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

// healthJSON is Elasticsearch's cluster health answer. tokend holds no
// shards, so the shard counts are zero and all shards count as active.
type healthJSON struct {
	ClusterName          string   `json:"cluster_name"`
	Status               string   `json:"status"`
	TimedOut             bool     `json:"timed_out"`
	NumberOfNodes        int      `json:"number_of_nodes"`
	NumberOfDataNodes    int      `json:"number_of_data_nodes"`
	ActivePrimaryShards  int      `json:"active_primary_shards"`
	ActiveShards         int      `json:"active_shards"`
	RelocatingShards     int      `json:"relocating_shards"`
	InitializingShards   int      `json:"initializing_shards"`
	UnassignedShards     int      `json:"unassigned_shards"`
	DelayedUnassigned    int      `json:"delayed_unassigned_shards"`
	PendingTasks         int      `json:"number_of_pending_tasks"`
	InFlightFetch        int      `json:"number_of_in_flight_fetch"`
	TaskMaxWaitingMillis int      `json:"task_max_waiting_in_queue_millis"`
	ActiveShardsPercent  float64  `json:"active_shards_percent_as_number"`
	Raft                 raftJSON `json:"raft"`
}

// health serves GET /_cluster/health, with ?wait_for_status and ?timeout.
// On timeout it answers timed_out:true with 408, as Elasticsearch does.
func (s *Server) health(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.authorize(r, "cluster:monitor/health", privMonitor); err != nil {
		return err
	}
	want, timeout, err := healthParams(r.URL.Query())
	if err != nil {
		return err
	}
	h := s.clusterHealth(r.Context())
	deadline := time.Now().Add(timeout)
	for want != "" && healthRank[h.Status] < healthRank[want] {
		wait := min(healthPoll, time.Until(deadline))
		if wait <= 0 {
			h.TimedOut = true
			break
		}
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(wait):
		}
		h = s.clusterHealth(r.Context())
	}
	status := http.StatusOK
	if h.TimedOut {
		status = http.StatusRequestTimeout
	}
	writeJSON(w, r, status, h)
	return nil
}

// healthParams parses wait_for_status and timeout.
func healthParams(q url.Values) (want string, timeout time.Duration, err error) {
	want = q.Get("wait_for_status")
	if _, ok := healthRank[want]; want != "" && !ok {
		return "", 0, illegalArgument(fmt.Sprintf("unknown cluster health status [%s]", echoed(want)))
	}
	timeout = defaultHealthTimeout
	if v := q.Get("timeout"); v != "" {
		if timeout, err = parseTimeValue(v); err != nil {
			return "", 0, parseError(fmt.Sprintf(
				"failed to parse setting [timeout] with value [%s] as a time value: unit is missing or unrecognized", echoed(v)))
		}
	}
	return want, timeout, nil
}

// timeUnits are Elasticsearch's time value units, longest suffix first.
var timeUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
	{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour},
}

// parseTimeValue parses an Elasticsearch time value such as 30s or 500ms.
func parseTimeValue(v string) (time.Duration, error) {
	for _, u := range timeUnits {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("bad time value %q", v)
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("bad time value %q", v)
}

// clusterHealth computes the health from this node's view. A voter counts
// as up when it confirms within healthProbeTimeout that it has applied this
// node's applied index (less maxApplyLag); this node counts as up itself.
// red: no leader known, or no majority of the voters up (no quorum can be
// reached from here). yellow: a quorum, but a voter is down, unreachable or
// lagging, or this node lags its commit index by more than maxApplyLag.
// green: every voter up and caught up.
func (s *Server) clusterHealth(ctx context.Context) healthJSON {
	st := s.node.Stats()
	h := healthJSON{ClusterName: s.cfg.ClusterName, Status: "green", ActiveShardsPercent: 100,
		Raft: raftJSON{LeaderID: st.LeaderID, Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}}
	servers, err := s.node.Servers()
	if err != nil || st.LeaderID == "" {
		h.Status = "red"
	} else {
		up, voters := s.votersUp(ctx, servers, st.AppliedIndex)
		switch {
		case up <= voters/2:
			h.Status = "red"
		case up < voters || st.CommitIndex > st.AppliedIndex+maxApplyLag:
			h.Status = "yellow"
		}
	}
	h.NumberOfNodes = len(servers)
	h.NumberOfDataNodes = len(servers)
	return h
}

// Health probes.
const (
	// maxApplyLag is how many entries a node may have left to apply and
	// still count as caught up.
	maxApplyLag = 64
	// healthProbeTimeout bounds the wait for each voter's confirmation.
	healthProbeTimeout = 500 * time.Millisecond
)

// votersUp counts the voters and those that are up: this node, if it is
// one, and every other voter that confirms (through its wait_applied route)
// that it has applied index, less maxApplyLag.
func (s *Server) votersUp(ctx context.Context, servers []raftnode.Server, index uint64) (up, voters int) {
	ctx, cancel := context.WithTimeout(ctx, healthProbeTimeout)
	defer cancel()
	target := index - min(index, maxApplyLag)
	var confirmed atomic.Int32
	var wg sync.WaitGroup
	for _, srv := range servers {
		switch {
		case !srv.Voter:
			continue
		case srv.ID == s.cfg.NodeID:
			confirmed.Add(1)
		default:
			wg.Go(func() {
				if s.askApplied(ctx, srv.ID, target) == nil {
					confirmed.Add(1)
				}
			})
		}
		voters++
	}
	wg.Wait()
	return int(confirmed.Load()), voters
}
