package fsm

import (
	"errors"
	"fmt"
	"io"

	"github.com/tokend/tokend/snapshot"
)

// restoreRecord decodes one snapshot record into s, or into tokens for a
// token record. A key seen twice is an error: View.WriteTo never writes one,
// so the stream was not written by it.
func (s *state) restoreRecord(kind snapshot.Kind, body []byte, tokens *tokenLoader) error {
	var err error
	switch kind {
	case kindCluster:
		err = s.restoreCluster(body)
	case kindNode:
		err = s.restoreNode(body)
	case kindUser:
		err = restoreInto(body, s.users, func(u User) (string, User) { return u.Username, u })
	case kindAccess:
		err = tokens.addAccess(body)
	case kindRefresh:
		err = tokens.addRefresh(body)
	case kindRole:
		err = restoreInto(body, s.roles, func(r Role) (string, Role) { return r.Name, r })
	case kindDedup:
		err = restoreInto(body, s.dedup, func(r dedupRecord) (RequestID, applied) { return r.ID, r.Applied })
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrSnapshotRecord, kind)
	}
	if err != nil {
		return fmt.Errorf("%w: kind %d: %v", ErrSnapshotRecord, kind, err)
	}
	return nil
}

// restoreInto unmarshals body as a record of type R and stores the key and
// value that kv extracts from it in m, refusing a key already there.
func restoreInto[R any, K comparable, V any](body []byte, m map[K]V, kv func(R) (K, V)) error {
	var rec R
	if err := unmarshal(body, &rec); err != nil {
		return err
	}
	k, v := kv(rec)
	if _, dup := m[k]; dup {
		return errDuplicate
	}
	m[k] = v
	return nil
}

// restoreNode decodes a node record into s.nodes and s.replicas.
func (s *state) restoreNode(body []byte) error {
	var rec nodeRecord
	if err := unmarshal(body, &rec); err != nil {
		return err
	}
	if _, dup := s.nodes[rec.ID]; dup {
		return errDuplicate
	}
	s.nodes[rec.ID] = rec.Addr
	if rec.Replica {
		s.replicas[rec.ID] = true
	}
	return nil
}

// errDuplicate reports a key that a snapshot holds twice.
var errDuplicate = errors.New("duplicate key")

// tokenLoader collects the token records of a snapshot and builds the
// state's token maps once it has them all: a map made for its final size
// fills about twice as fast as one that grows a record at a time.
type tokenLoader struct {
	owners  ownerCache
	access  []accessEntry
	refresh []refreshEntry
	sealed  map[Digest][]byte
}

// addAccess decodes an access token record.
func (l *tokenLoader) addAccess(body []byte) error {
	f, err := decodeToken(body, false)
	if err != nil {
		return err
	}
	l.access = append(l.access, accessEntry{d: f.digest, t: l.owners.access(&f)})
	return nil
}

// addRefresh decodes a refresh token record.
func (l *tokenLoader) addRefresh(body []byte) error {
	f, err := decodeToken(body, true)
	if err != nil {
		return err
	}
	l.refresh = append(l.refresh, refreshEntry{d: f.digest, t: l.owners.refresh(&f)})
	if f.sealed != nil {
		if l.sealed == nil {
			l.sealed = make(map[Digest][]byte)
		}
		l.sealed[f.digest] = cloneBytes(f.sealed)
	}
	return nil
}

// into stores the collected tokens in s, whose token maps are empty.
func (l *tokenLoader) into(s *state) error {
	s.access = make(map[Digest]storedAccess, len(l.access))
	for _, e := range l.access {
		s.access[e.d] = e.t
	}
	s.refresh = make(map[Digest]storedRefresh, len(l.refresh))
	for _, e := range l.refresh {
		s.refresh[e.d] = e.t
	}
	s.sealed = l.sealed
	if s.sealed == nil {
		s.sealed = make(map[Digest][]byte)
	}
	switch {
	case len(s.access) != len(l.access):
		return fmt.Errorf("%w: kind %d: %v", ErrSnapshotRecord, kindAccess, errDuplicate)
	case len(s.refresh) != len(l.refresh):
		return fmt.Errorf("%w: kind %d: %v", ErrSnapshotRecord, kindRefresh, errDuplicate)
	}
	return nil
}

// restoreCluster decodes the cluster record into s.
func (s *state) restoreCluster(body []byte) error {
	var rec clusterRecord
	if err := unmarshal(body, &rec); err != nil {
		return err
	}
	if s.cluster != "" || s.clock != 0 {
		return errDuplicate
	}
	s.cluster, s.clock = rec.UUID, rec.Time
	return nil
}

// readState decodes the snapshot read from r into a new state and returns it
// with the stream's header, once the whole stream decoded and its checksum
// verified.
func readState(r io.Reader) (*state, snapshot.Header, error) {
	sr, err := snapshot.NewReader(r) // buffers on its own
	if err != nil {
		return nil, snapshot.Header{}, err
	}
	s := newState()
	s.index = sr.Header().Index
	var tokens tokenLoader
	for {
		kind, body, err := sr.Next()
		if err == io.EOF { // bare io.EOF only: the trailer verified
			if err := tokens.into(s); err != nil {
				return nil, sr.Header(), err
			}
			if s.clock == 0 {
				s.clock = s.latestRecordTime()
			}
			return s, sr.Header(), nil
		}
		if err != nil {
			return nil, sr.Header(), err
		}
		if err := s.restoreRecord(kind, body, &tokens); err != nil {
			return nil, sr.Header(), err
		}
	}
}

// CheckSnapshot reads a whole snapshot from r exactly as Restore would,
// decoding every record into a state that it then discards, and returns the
// stream's header. It returns nil only if Restore would accept the same
// bytes, so a caller that must not fail halfway through a restore (Raft
// panics when its FSM refuses a snapshot) checks first. It needs as much
// memory as the state the snapshot holds, for as long as it runs.
//
// Errors are those of Restore: the snapshot package's sentinels or
// ErrSnapshotRecord, wrapped.
func CheckSnapshot(r io.Reader) (snapshot.Header, error) {
	_, h, err := readState(r)
	if err != nil {
		return h, fmt.Errorf("fsm: check snapshot: %w", err)
	}
	return h, nil
}

// latestRecordTime returns the latest time a record of s was written at,
// which stands for the log's clock in a snapshot written before the clock
// was kept in it. Every proposal carries a request ID, and a purge forgets
// IDs only older than DedupRetention at its own time, then remembers its
// own, so the command applied last is among the remembered ones; the
// token records' times are a lower bound in any case.
func (s *state) latestRecordTime() int64 {
	var t int64
	for _, a := range s.dedup {
		t = max(t, a.Time)
	}
	for _, r := range s.access {
		t = max(t, r.created)
	}
	for _, r := range s.refresh {
		t = max(t, r.created, r.usedAt)
	}
	return t
}
