package raftnode

import (
	"bytes"
	"testing"

	gometrics "github.com/hashicorp/go-metrics/compat"

	"github.com/tokend/tokend/api/metrics"
	"github.com/tokend/tokend/api/metrics/metricstest"
)

// scrapeRegistries writes regs and parses them back.
func scrapeRegistries(t *testing.T, regs ...*metrics.Registry) *metricstest.Exposition {
	t.Helper()
	var buf bytes.Buffer
	if err := metrics.Write(&buf, regs...); err != nil {
		t.Fatal(err)
	}
	e, err := metricstest.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func wantMetric(t *testing.T, e *metricstest.Exposition, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := e.Value(name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
	}
}

func TestLibrarySink_MapsGoMetricsToPrometheusFamilies(t *testing.T) {
	reg := metrics.NewRegistry()
	s := newLibrarySink(reg)
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

	e := scrapeRegistries(t, reg)
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
	if e.Types["tokend_raft_commit_time_seconds"] != "histogram" || e.Types["tokend_raft_apply_total"] != "counter" {
		t.Errorf("types: %v", e.Types)
	}
}

func TestLibrarySink_DropsClashingKeysInsteadOfPanicking(t *testing.T) {
	reg := metrics.NewRegistry()
	s := newLibrarySink(reg)
	s.IncrCounter([]string{"raft", "apply"}, 1)
	s.IncrCounterWithLabels([]string{"raft", "apply"}, 1, []gometrics.Label{{Name: "x", Value: "y"}}) // other labels
	s.SetGauge([]string{"raft", "apply", "total"}, 1)                                                 // same name, other kind
	s.AddSampleWithLabels([]string{"raft", "t"}, 1, []gometrics.Label{{Name: "le", Value: "1"}})      // reserved label
	s.IncrCounterWithLabels([]string{"raft", "twice"}, 1, []gometrics.Label{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}})
	e := scrapeRegistries(t, reg)
	wantMetric(t, e, 1, "tokend_raft_apply_total")
	wantMetric(t, e, 4, "tokend_raft_sink_dropped_total")
}

func TestLibrarySink_RecordingAnExistingSeriesDoesNotAllocate(t *testing.T) {
	s := newLibrarySink(metrics.NewRegistry())
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
