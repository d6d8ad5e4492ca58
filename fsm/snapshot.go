package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/tokend/tokend/snapshot"
)

// Record kinds of the FSM's snapshot stream. Values are part of the snapshot
// format: never renumber them.
const (
	kindCluster snapshot.Kind = 1
	kindNode    snapshot.Kind = 2
	kindUser    snapshot.Kind = 3
	kindAccess  snapshot.Kind = 4
	kindRefresh snapshot.Kind = 5
	kindDedup   snapshot.Kind = 6
	kindRole    snapshot.Kind = 7
)

// ErrSnapshotRecord is returned by Restore for a snapshot whose stream is
// intact (the checksum verified) but holds a record the FSM cannot accept: an
// unknown kind, an undecodable body or a key that appears twice.
var ErrSnapshotRecord = errors.New("fsm: bad snapshot record")

// Snapshot records. Each is keyed by name or ID; User is written as is.
// Token records are encoded by hand (snapshot_tokens.go).
type (
	// clusterRecord holds the cluster UUID and the log's clock (see
	// state.clock). Snapshots written before the clock was kept hold no
	// Time, which older builds also ignore when they read one.
	clusterRecord struct {
		UUID string `msgpack:"u"`
		Time int64  `msgpack:"t,omitempty"`
	}
	// nodeRecord: snapshots written before replicas existed hold no
	// Replica.
	nodeRecord struct {
		ID      string `msgpack:"id"`
		Addr    string `msgpack:"a"`
		Replica bool   `msgpack:"r,omitempty"`
	}
	dedupRecord struct {
		ID      RequestID `msgpack:"id"`
		Applied applied   `msgpack:"a"`
	}
)

// View is an immutable copy of the state at one applied index, taken by
// Snapshot. Writing it does not hold the FSM's lock, so Apply and readers go
// on while a snapshot is persisted.
type View struct {
	s       *state // without token records (they are in access and refresh) but with sealed
	access  []accessEntry
	refresh []refreshEntry

	sortOnce     sync.Once
	accessOrder  []digestOrder
	refreshOrder []digestOrder
}

// Snapshot returns a View of the state at the current applied index. Under
// the read lock it copies the tokens into slices, which are half the size
// of cloned maps, and clones the other maps (records are immutable values,
// so the copy is consistent and shares nothing that will change). Sorting
// is left to WriteTo, outside the lock.
func (f *FSM) Snapshot() *View {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.s
	v := &View{
		s: &state{
			index:    s.index,
			cluster:  s.cluster,
			clock:    s.clock,
			sealed:   maps.Clone(s.sealed),
			users:    maps.Clone(s.users),
			nodes:    maps.Clone(s.nodes),
			replicas: maps.Clone(s.replicas),
			roles:    maps.Clone(s.roles),
			dedup:    maps.Clone(s.dedup),
		},
		access:  make([]accessEntry, 0, len(s.access)),
		refresh: make([]refreshEntry, 0, len(s.refresh)),
	}
	for d, t := range s.access {
		v.access = append(v.access, accessEntry{d: d, t: t})
	}
	for d, t := range s.refresh {
		v.refresh = append(v.refresh, refreshEntry{d: d, t: t})
	}
	return v
}

// Index returns the applied index the view was taken at.
func (v *View) Index() uint64 { return v.s.index }

// WriteTo writes the view to w in the snapshot package's format and returns
// the number of bytes written. Records are written in a fixed order (by kind,
// then by key), so equal states produce identical bytes. The view can be
// written any number of times.
func (v *View) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w} // snapshot.Writer buffers on its own
	sw, err := snapshot.NewWriter(cw, snapshot.Header{Index: v.s.index, Records: v.records()})
	if err == nil {
		err = v.writeRecords(sw)
	}
	if err == nil {
		err = sw.Close()
	}
	if err != nil {
		return cw.n, fmt.Errorf("fsm: write snapshot: %w", err)
	}
	return cw.n, nil
}

// records returns the number of records writeRecords writes.
func (v *View) records() uint64 {
	s := v.s
	n := len(s.nodes) + len(s.users) + len(s.roles) + len(v.access) + len(v.refresh) + len(s.dedup)
	if s.cluster != "" || s.clock != 0 {
		n++
	}
	return uint64(n)
}

// writeRecords writes every record of v to sw, sorted by kind and key.
func (v *View) writeRecords(sw *snapshot.Writer) error {
	s := v.s
	if s.cluster != "" || s.clock != 0 {
		if err := sw.Write(kindCluster, clusterRecord{UUID: s.cluster, Time: s.clock}); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.nodes)) {
		if err := sw.Write(kindNode, nodeRecord{ID: id, Addr: s.nodes[id], Replica: s.replicas[id]}); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.users)) {
		if err := sw.Write(kindUser, s.users[name]); err != nil {
			return err
		}
	}
	if err := v.writeTokens(sw); err != nil {
		return err
	}
	ids := slices.SortedFunc(maps.Keys(s.dedup), func(a, b RequestID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		if err := sw.Write(kindDedup, dedupRecord{ID: id, Applied: s.dedup[id]}); err != nil {
			return err
		}
	}
	return v.writeRoles(sw)
}

// writeTokens writes the access and then the refresh token records, each
// sorted by digest, encoding them into one reused buffer.
func (v *View) writeTokens(sw *snapshot.Writer) error {
	v.sortOnce.Do(func() {
		v.accessOrder = sortedOrder(len(v.access), func(i int) *Digest { return &v.access[i].d })
		v.refreshOrder = sortedOrder(len(v.refresh), func(i int) *Digest { return &v.refresh[i].d })
	})
	var body []byte
	for _, o := range v.accessOrder {
		e := &v.access[o.i]
		body = appendAccess(body[:0], e.d, e.t)
		if err := sw.WriteEncoded(kindAccess, body); err != nil {
			return err
		}
	}
	for _, o := range v.refreshOrder {
		e := &v.refresh[o.i]
		body = appendRefresh(body[:0], e.d, e.t, v.s.sealed[e.d])
		if err := sw.WriteEncoded(kindRefresh, body); err != nil {
			return err
		}
	}
	return nil
}

// Restore replaces the state with the snapshot read from r, which View.WriteTo
// wrote. The snapshot is decoded into a new state first; it is swapped in,
// under the write lock, only once the whole stream decoded and its checksum
// verified. On any error the current state is left as it was. After a
// successful Restore the applied index is the snapshot's index.
//
// Errors wrap the snapshot package's sentinels (ErrTruncated, ErrChecksum,
// ErrCorrupt, ErrVersion) or ErrSnapshotRecord.
func (f *FSM) Restore(r io.Reader) error {
	s, _, err := readState(r)
	if err != nil {
		return fmt.Errorf("fsm: restore: %w", err)
	}
	f.mu.Lock()
	f.s = s
	f.clock.Store(s.clock)
	f.mu.Unlock()
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

// Write writes p to the underlying writer and counts what it accepted.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
