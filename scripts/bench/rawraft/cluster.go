package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/tokend/tokend/raftnode"
)

// countFSM counts applied entries and keeps nothing else.
type countFSM struct{ n atomic.Int64 }

func (f *countFSM) Apply(*raft.Log) any { f.n.Add(1); return nil }

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return emptySnapshot{}, nil }

func (f *countFSM) Restore(r io.ReadCloser) error { return r.Close() }

// emptySnapshot persists nothing.
type emptySnapshot struct{}

func (emptySnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }

func (emptySnapshot) Release() {}

// node is one Raft instance and what it must close.
type node struct {
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
}

// cluster is three nodes in this process.
type cluster struct{ nodes []*node }

// startCluster starts three nodes with data under dir, replicating with
// or without the pipeline, and waits for a leader.
func startCluster(dir string, pipeline bool) (*cluster, error) {
	c := &cluster{}
	var servers []raft.Server
	for i := range 3 {
		n, err := startNode(filepath.Join(dir, fmt.Sprintf("node%d", i)), fmt.Sprintf("n%d", i), pipeline)
		if err != nil {
			c.shutdown()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", i)), Address: n.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		c.shutdown()
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for c.leader() == nil {
		if time.Now().After(deadline) {
			c.shutdown()
			return nil, errors.New("no leader after 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c, nil
}

// startNode opens one node's stores and transport as tokend does.
func startNode(dir, id string, pipeline bool) (*node, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, err
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.HeartbeatTimeout = time.Second
	rc.ElectionTimeout = time.Second
	rc.LeaderLeaseTimeout = 500 * time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
	rc.NoLegacyTelemetry = true
	rc.Logger = hclog.NewNullLogger()
	var t raft.Transport = trans
	if !pipeline {
		t = raftnode.WithoutPipeline(trans)
	}
	r, err := raft.NewRaft(rc, &countFSM{}, logs, store, snaps, t)
	if err != nil {
		return nil, err
	}
	return &node{raft: r, store: store, trans: trans}, nil
}

// leader returns the node that is leader, or nil.
func (c *cluster) leader() *node {
	for _, n := range c.nodes {
		if n.raft.State() == raft.Leader {
			return n
		}
	}
	return nil
}

// shutdown stops every node and closes its store.
func (c *cluster) shutdown() {
	for _, n := range c.nodes {
		n.raft.Shutdown().Error()
		n.trans.Close()
		n.store.Close()
	}
}

// measure runs appliers goroutines applying size-byte entries on the leader
// for d or n entries.
func (c *cluster) measure(appliers int, d time.Duration, n, size int) runResult {
	leader := c.leader()
	entry := make([]byte, size)
	for i := range entry {
		entry[i] = byte('a' + i%26)
	}
	var (
		next, errs atomic.Int64
		wg         sync.WaitGroup
		lat        = make([][]time.Duration, appliers)
	)
	start := time.Now()
	stop := start.Add(d)
	for a := range appliers {
		wg.Go(func() {
			for time.Now().Before(stop) && next.Add(1) <= int64(n) {
				t := time.Now()
				if leader.raft.Apply(entry, 5*time.Second).Error() != nil {
					errs.Add(1)
					continue
				}
				lat[a] = append(lat[a], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	return runResult{Appliers: appliers, EntryBytes: size, Applied: int64(len(all)), Errors: errs.Load(),
		Elapsed: elapsed.Seconds(), Throughput: float64(len(all)) / elapsed.Seconds(),
		P50: quantileMS(all, 0.50), P99: quantileMS(all, 0.99)}
}

// quantileMS is the nearest-rank q-quantile of sorted, in milliseconds.
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(max(int(math.Ceil(q*float64(len(sorted))))-1, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}
