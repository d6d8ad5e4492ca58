package fsm

import (
	"bytes"
	"testing"

	"github.com/tokend/tokend/snapshot"
)

func TestSetNode_ReplicaMarkSurvivesAddressChangesAndEndsWithTheNode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustOK(&SetNode{NodeID: "r1", HTTPAddr: "10.0.0.5:9200", Replica: true})
	h.mustOK(&SetNode{NodeID: "v1", HTTPAddr: "10.0.0.1:9200"})
	if !h.f.IsReplica("r1") || h.f.IsReplica("v1") {
		t.Fatalf("IsReplica r1=%v v1=%v, want true false", h.f.IsReplica("r1"), h.f.IsReplica("v1"))
	}
	// A node announcing a new address without the mark stays a replica.
	h.mustOK(&SetNode{NodeID: "r1", HTTPAddr: "10.0.0.6:9200"})
	if !h.f.IsReplica("r1") {
		t.Fatal("an address change dropped the replica mark")
	}
	// Forgetting the node (removal) drops the mark: the ID may join again
	// as a voter.
	h.mustOK(&SetNode{NodeID: "r1"})
	if h.f.IsReplica("r1") {
		t.Fatal("a forgotten node is still a replica")
	}
}

func TestSnapshot_KeepsReplicaMarks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustOK(&SetNode{NodeID: "r1", HTTPAddr: "10.0.0.5:9200", Replica: true})
	h.mustOK(&SetNode{NodeID: "v1", HTTPAddr: "10.0.0.1:9200"})
	var b bytes.Buffer
	if _, err := h.f.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(&b); err != nil {
		t.Fatal(err)
	}
	if !g.IsReplica("r1") || g.IsReplica("v1") {
		t.Fatalf("restored IsReplica r1=%v v1=%v, want true false", g.IsReplica("r1"), g.IsReplica("v1"))
	}
	if addr, _ := g.NodeAddr("r1"); addr != "10.0.0.5:9200" {
		t.Fatalf("restored address %q", addr)
	}
}

func TestSnapshot_NodeRecordsWithoutReplicaFieldStillDecode(t *testing.T) {
	t.Parallel()
	// A record as snapshots wrote it before replicas existed.
	type oldNodeRecord struct {
		ID   string `msgpack:"id"`
		Addr string `msgpack:"a"`
	}
	var b bytes.Buffer
	w, err := snapshot.NewWriter(&b, snapshot.Header{Index: 1, Records: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindNode, oldNodeRecord{ID: "n1", Addr: "10.0.0.1:9200"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(&b); err != nil {
		t.Fatal(err)
	}
	if addr, ok := g.NodeAddr("n1"); !ok || addr != "10.0.0.1:9200" || g.IsReplica("n1") {
		t.Fatalf("old record restored as addr=%q ok=%v replica=%v", addr, ok, g.IsReplica("n1"))
	}
}
