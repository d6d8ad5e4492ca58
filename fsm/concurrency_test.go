package fsm

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFSM_ConcurrentReadersDuringApplyAndRestore(t *testing.T) {
	log := entries(t, 42, 3000)
	f := New()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				read(t, f, r, i)
			}
		}()
	}
	mid := len(log) / 2
	replay(t, f, log, 0, mid)
	var snap bytes.Buffer
	if _, err := f.Snapshot().WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	replay(t, f, log, mid, len(log))
	want := snapshotBytes(t, f)
	if err := f.Restore(&snap); err != nil { // swapped under the readers' feet
		t.Fatal(err)
	}
	replay(t, f, log, mid, len(log))
	stop.Store(true)
	wg.Wait()
	if !bytes.Equal(snapshotBytes(t, f), want) {
		t.Fatal("state after restore and replay differs")
	}
}

// read exercises every read method once, and every few calls a snapshot
// write and a restore into a scratch FSM.
func read(t *testing.T, f *FSM, r, i int) {
	d := DigestOf(string(rune('a' + i%64)))
	f.AccessToken(d)
	if rt, ok := f.RefreshToken(d); ok && len(rt.Sealed) > 0 {
		rt.Sealed[0] ^= 1 // a copy: must not race with Apply
	}
	f.User(genUsers[i%len(genUsers)])
	for _, u := range f.Users() {
		u.Roles = append(u.Roles, "x")
	}
	f.NodeAddr("n1")
	f.Nodes()["n1"] = "x"
	f.ClusterUUID()
	f.Counts()
	f.AppliedIndex()
	if i%50 == r {
		v := f.Snapshot()
		pr, pw := io.Pipe()
		go func() { _, err := v.WriteTo(pw); pw.CloseWithError(err) }()
		if err := New().Restore(pr); err != nil {
			t.Errorf("restore of a concurrent snapshot: %v", err)
		}
	}
}
