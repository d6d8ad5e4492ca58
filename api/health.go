package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode/cluster"
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
	// Reason says why the status is red when this node knows (its disk).
	Reason string `json:"reason,omitempty"`
}

// health serves GET /_cluster/health, with ?wait_for_status,
// ?wait_for_nodes and ?timeout. On timeout it answers timed_out:true with
// 408, as Elasticsearch does.
func (s *clusterRoutes) health(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorizeMonitoring(r, "cluster:monitor/health", privMonitor); err != nil {
		return err
	}
	want, timeout, err := healthParams(r.URL.Query())
	if err != nil {
		return err
	}
	nodesOK, err := parseWaitForNodes(r.URL.Query().Get("wait_for_nodes"))
	if err != nil {
		return err
	}
	h := s.clusterHealth(r.Context())
	deadline := time.Now().Add(timeout)
	for (want != "" && healthRank[h.Status] < healthRank[want]) || !nodesOK(h.NumberOfNodes) {
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

// clusterHealth computes the health from this node's view. A member counts
// as up when it confirms in time that it has applied this node's applied
// index, less cluster.MaxApplyLag (members.Up); this node counts as up
// itself.
// red: no leader known, or no majority of the voters up (no quorum can be
// reached from here). yellow: a quorum, but a member is down, unreachable or
// lagging, or this node lags its commit index by more than cluster.MaxApplyLag.
// green: every member up and caught up. number_of_nodes counts the members
// up, number_of_data_nodes the voters up.
func (s *clusterRoutes) clusterHealth(ctx context.Context) healthJSON {
	st := s.node.Stats()
	h := healthJSON{ClusterName: s.cfg.ClusterName, Status: "green", ActiveShardsPercent: 100,
		Raft: raftJSON{LeaderID: st.LeaderID, Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}}
	servers, err := s.node.Servers()
	if err != nil {
		h.Status = "red"
		h.NumberOfNodes = 1
		return h
	}
	up := s.members.Up(ctx, servers, st.AppliedIndex)
	switch {
	case st.DiskError != "":
		h.Status, h.Reason = "red", cluster.DiskReason(st.DiskError, st.DiskErrorSince)
	case st.LeaderID == "" || up.Voters <= up.AllVoters/2:
		h.Status = "red"
	case up.Members < len(servers) || st.CommitIndex > st.AppliedIndex+cluster.MaxApplyLag:
		h.Status = "yellow"
	}
	h.NumberOfNodes, h.NumberOfDataNodes = up.Members, up.Voters
	return h
}

// parseWaitForNodes parses Elasticsearch's wait_for_nodes (N, >=N, <=N, >N,
// <N, ge(N), le(N), gt(N), lt(N)) into a test of number_of_nodes; an empty
// value always holds.
func parseWaitForNodes(v string) (func(int) bool, error) {
	if v == "" {
		return func(int) bool { return true }, nil
	}
	ops := []struct {
		prefix, suffix string
		test           func(have, want int) bool
	}{
		{">=", "", func(h, w int) bool { return h >= w }}, {"<=", "", func(h, w int) bool { return h <= w }},
		{">", "", func(h, w int) bool { return h > w }}, {"<", "", func(h, w int) bool { return h < w }},
		{"ge(", ")", func(h, w int) bool { return h >= w }}, {"le(", ")", func(h, w int) bool { return h <= w }},
		{"gt(", ")", func(h, w int) bool { return h > w }}, {"lt(", ")", func(h, w int) bool { return h < w }},
		{"", "", func(h, w int) bool { return h == w }},
	}
	for _, op := range ops {
		rest, ok := strings.CutPrefix(v, op.prefix)
		if !ok {
			continue
		}
		if rest, ok = strings.CutSuffix(rest, op.suffix); !ok {
			break
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			break
		}
		return func(have int) bool { return op.test(have, n) }, nil
	}
	return nil, illegalArgument(fmt.Sprintf("cannot parse wait_for_nodes [%s]: expected N, >=N, <=N, >N, <N, ge(N), le(N), gt(N) or lt(N)", echoed(v)))
}
