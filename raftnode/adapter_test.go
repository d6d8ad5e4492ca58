package raftnode

import (
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/tokend/tokend/fsm"
)

var (
	raftErrLeadershipLost = raft.ErrLeadershipLost
	raftErrEnqueueTimeout = raft.ErrEnqueueTimeout
	raftErrShutdown       = raft.ErrRaftShutdown
	raftErrTransfer       = raft.ErrLeadershipTransferInProgress
)

func TestAdapter_PassesIgnorableToFSMAndTracksConfiguration(t *testing.T) {
	a := &fsmAdapter{f: fsm.New()}
	data, err := fsm.Encode(&fsm.SetNode{NodeID: "n", HTTPAddr: "h"})
	if err != nil {
		t.Fatal(err)
	}
	wake := a.notify.wait()
	out := a.ApplyBatch([]*raft.Log{
		{Index: 1, Type: raft.LogCommand, Data: data},
		{Index: 2, Type: raft.LogConfiguration},
		{Index: 3, Type: raft.LogCommand, Data: readMarker},
	})
	_, ok0 := out[0].(fsm.Result)
	_, ok2 := out[2].(fsm.Result)
	if !ok0 || out[1] != nil || !ok2 {
		t.Fatalf("responses = %#v", out)
	}
	// The ignorable marker advances the FSM's index; the configuration
	// entry reaches only the adapter.
	if a.f.AppliedIndex() != 3 || a.seen.Load() != 3 {
		t.Fatalf("fsm applied %d, adapter saw %d; want 3 and 3", a.f.AppliedIndex(), a.seen.Load())
	}
	select {
	case <-wake:
	default:
		t.Fatal("waiters not woken")
	}
}

func TestAdapter_PanicsOnUnknownNonIgnorableEntry(t *testing.T) {
	a := &fsmAdapter{f: fsm.New()}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "entry 7") {
			t.Fatalf("recover() = %v, want a panic naming entry 7", r)
		}
	}()
	a.Apply(&raft.Log{Index: 7, Term: 1, Type: raft.LogCommand, Data: []byte{0x7f, fsm.FormatVersion}})
}
