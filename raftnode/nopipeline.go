package raftnode

import "github.com/hashicorp/raft"

// noPipeline is the network transport with pipelined replication turned
// off: AppendEntriesPipeline says it is not supported, so hashicorp/raft
// replicates with one AppendEntries round trip at a time (each carrying up
// to MaxAppendEntries entries).
//
// Why: in raft v1.7.3 a pipeline can deadlock. When a follower answers a
// pipelined AppendEntries with Success=false or a newer term (a log
// mismatch, a leadership transfer), pipelineDecode returns, and the send
// loop can still pick a pending trigger and send once more: that send parks
// on the pipeline's in-progress channel while the decoder parks on a done
// channel nobody reads, and pipeline.Close, deferred in the same goroutine,
// never runs. The follower then gets heartbeats but no entries, for good
// (it never calls an election), and Raft's Shutdown waits for that
// goroutine forever. The raftnode tests hit it (a leadership transfer,
// then Shutdown, hung for 10 minutes, the stacks parked exactly there);
// hashicorp/raft#612 reports the same symptom in production, and Grafana
// Pyroscope turned pipelining off for it. On the low-latency links a
// cluster runs on, the round trip costs little: the batching of token
// creations already packs many writes into one entry.
type noPipeline struct {
	*raft.NetworkTransport
}

// AppendEntriesPipeline refuses, so that Raft replicates without one.
func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// WithoutPipeline returns t with pipelined replication turned off, as
// every tokend node replicates (see noPipeline); scripts/bench/rawraft
// measures raw Raft both ways with it.
func WithoutPipeline(t *raft.NetworkTransport) raft.Transport { return noPipeline{t} }
