package raftnode

import (
	"math"
	"testing"

	gometrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/test/testkit"
)

// scrape gathers cs on a registry of their own, as a scrape would read
// them.
func scrape(t *testing.T, cs ...prometheus.Collector) testkit.Metrics {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cs...)
	return scrapeRegistry(t, reg)
}

// scrapeRegistry gathers g, as a scrape would read it.
func scrapeRegistry(t *testing.T, g prometheus.Gatherer) testkit.Metrics {
	t.Helper()
	m, err := testkit.GatherMetrics(g)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wantMetric(t *testing.T, e testkit.Metrics, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := e.Value(name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
	}
}

func TestLibrarySink_MapsGoMetricsToPrometheusFamilies(t *testing.T) {
	s := newLibrarySink()
	peer := []gometrics.Label{{Name: "peer_id", Value: "node2"}}
	s.IncrCounter([]string{"raft", "apply"}, 1)
	s.IncrCounter([]string{"raft", "apply"}, 2)
	s.AddSample([]string{"raft", "commitTime"}, 12.5) // milliseconds
	s.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, 3, peer)
	s.AddSampleWithLabels([]string{"raft", "net", "rpcDecode"}, 1, []gometrics.Label{{Name: "rpcType", Value: "AppendEntries"}})
	s.SetGauge([]string{"raft", "leader", "oldestLogAge"}, 1500)
	s.SetGauge([]string{"raft", "peers"}, 3)
	s.AddSample([]string{"raft", "boltdb", "logSize"}, 100)
	s.EmitKey([]string{"raft", "emitted"}, 7)

	e := scrape(t, s)
	wantMetric(t, e, 3, "tokend_raft_apply_total")
	wantMetric(t, e, 1, "tokend_raft_commit_time_seconds_count")
	wantMetric(t, e, 0.0125, "tokend_raft_commit_time_seconds_sum")
	wantMetric(t, e, 1, "tokend_raft_commit_time_seconds_bucket", "le", "0.025")
	wantMetric(t, e, 0, "tokend_raft_commit_time_seconds_bucket", "le", "0.01")
	wantMetric(t, e, 1, "tokend_raft_replication_append_entries_rpc_seconds_count", "peer_id", "node2")
	wantMetric(t, e, 1, "tokend_raft_net_rpc_decode_seconds_count", "rpc_type", "AppendEntries")
	wantMetric(t, e, 1.5, "tokend_raft_leader_oldest_log_age_seconds")
	wantMetric(t, e, 3, "tokend_raft_peers")
	wantMetric(t, e, 100, "tokend_raft_boltdb_log_size_bytes_sum")
	wantMetric(t, e, 7, "tokend_raft_emitted")
	if e.Type("tokend_raft_commit_time_seconds") != "histogram" || e.Type("tokend_raft_apply_total") != "counter" {
		t.Errorf("types: %q %q", e.Type("tokend_raft_commit_time_seconds"), e.Type("tokend_raft_apply_total"))
	}
}

func TestLibrarySink_DropsClashingKeysInsteadOfPanicking(t *testing.T) {
	s := newLibrarySink()
	s.IncrCounter([]string{"raft", "apply"}, 1)
	s.IncrCounterWithLabels([]string{"raft", "apply"}, 1, []gometrics.Label{{Name: "x", Value: "y"}}) // other labels
	s.SetGauge([]string{"raft", "apply", "total"}, 1)                                                 // same name, other kind
	s.AddSampleWithLabels([]string{"raft", "t"}, 1, []gometrics.Label{{Name: "le", Value: "1"}})      // reserved label
	s.IncrCounterWithLabels([]string{"raft", "twice"}, 1, []gometrics.Label{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}})
	s.IncrCounter([]string{"raft", "sink", "dropped"}, 1) // the sink's own family
	e := scrape(t, s)
	wantMetric(t, e, 1, "tokend_raft_apply_total")
	wantMetric(t, e, 5, "tokend_raft_sink_dropped_total")
}

// What a counter or a histogram cannot hold is left out rather than
// recorded (or, for client_golang's counters, panicking), and label values
// that are not UTF-8 are repaired.
func TestLibrarySink_IgnoresNegativeCountsAndNaNSamples(t *testing.T) {
	s := newLibrarySink()
	s.IncrCounter([]string{"raft", "apply"}, 3)
	s.IncrCounter([]string{"raft", "apply"}, -5)
	for _, v := range []float32{50, 100, 500, float32(math.NaN())} { // milliseconds
		s.AddSample([]string{"raft", "commitTime"}, v)
	}
	s.IncrCounterWithLabels([]string{"raft", "peer"}, 1, []gometrics.Label{{Name: "peer_id", Value: "a\xffb"}})
	e := scrape(t, s)
	wantMetric(t, e, 3, "tokend_raft_apply_total")
	// le is inclusive, the buckets are cumulative and NaN is not counted.
	for le, want := range map[string]float64{"0.05": 1, "0.1": 2, "0.25": 2, "0.5": 3, "+Inf": 3} {
		wantMetric(t, e, want, "tokend_raft_commit_time_seconds_bucket", "le", le)
	}
	wantMetric(t, e, 3, "tokend_raft_commit_time_seconds_count")
	wantMetric(t, e, 0.65, "tokend_raft_commit_time_seconds_sum")
	wantMetric(t, e, 1, "tokend_raft_peer_total", "peer_id", "a\uFFFDb")
}

func TestLibrarySink_RecordingAnExistingSeriesDoesNotAllocate(t *testing.T) {
	s := newLibrarySink()
	key := []string{"raft", "replication", "appendEntries", "rpc"}
	labels := []gometrics.Label{{Name: "peer_id", Value: "node2"}}
	s.AddSampleWithLabels(key, 1, labels)
	if n := testing.AllocsPerRun(100, func() { s.AddSampleWithLabels(key, 1, labels) }); n != 0 {
		t.Fatalf("%v allocations per sample", n)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"commitTime": "commit_time", "getRPCType": "get_rpc_type", "heartbeat_timeout": "heartbeat_timeout",
		"applyBatchNum": "apply_batch_num", "rpcType": "rpc_type", "v2Store": "v2_store", "a.b-c": "a_b_c",
	} {
		if got := snakeCase([]string{in}); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
