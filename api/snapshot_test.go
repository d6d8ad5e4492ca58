package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/snapshot"
)

// raftServer is a Server over a real single raftnode.Node, because the
// snapshot routes are only as good as Raft's save and restore underneath.
type raftServer struct {
	*testNode // do and passwordGrant; its fake node is unused
	raft      *raftnode.Node
	state     *fsm.FSM
}

// startRaftServer opens a Raft node and serves its API on a local listener.
func startRaftServer(t *testing.T, id string) *raftServer {
	t.Helper()
	discard := slog.New(slog.DiscardHandler)
	state := fsm.New()
	rn, err := raftnode.Open(raftnode.Config{NodeID: id, RaftBind: "127.0.0.1:0", DataDir: t.TempDir(), Logger: discard,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond,
		Credential: peerauth.NewCredential([]byte(testSecret + "-raft-credential"))}, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rn.Shutdown() })
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	srv, err := New(Config{NodeID: id, HTTPAdvertise: ts.Listener.Addr().String(), Credential: peerauth.NewCredential([]byte(testSecret)),
		RequestTimeout: 5 * time.Second, Logger: discard}, rn, state)
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	return &raftServer{testNode: &testNode{t: t, srv: srv, ts: ts}, raft: rn, state: state}
}

// newRaftLeader starts a seeded single-node cluster.
func newRaftLeader(t *testing.T) *raftServer {
	t.Helper()
	l := startRaftServer(t, "n1")
	if err := l.raft.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "n1 leads", l.raft.IsLeader)
	l.mustPropose(&fsm.InitCluster{UUID: "test-uuid"})
	l.mustPropose(&fsm.SetNode{NodeID: "n1", HTTPAddr: l.srv.cfg.HTTPAdvertise})
	for _, u := range testUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		l.mustPropose(&fsm.PutUser{User: fsm.User{Username: u.name, Hash: hash, Roles: u.roles, Enabled: true, Realm: u.realm}})
	}
	return l
}

// addRaftFollower starts node id and makes it a member of l's cluster.
func addRaftFollower(t *testing.T, l *raftServer, id string) *raftServer {
	t.Helper()
	f := startRaftServer(t, id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.raft.Join(ctx, id, f.raft.Addr()); err != nil {
		t.Fatal(err)
	}
	index := l.mustPropose(&fsm.SetNode{NodeID: id, HTTPAddr: f.srv.cfg.HTTPAdvertise})
	if err := f.raft.WaitApplied(ctx, index); err != nil {
		t.Fatal(err)
	}
	return f
}

// mustPropose proposes c through the API's own path and returns its index.
func (s *raftServer) mustPropose(c fsm.Command) uint64 {
	s.t.Helper()
	res, index, err := s.srv.commits.propose(context.Background(), nil, c)
	if err != nil || res.Status != fsm.OK {
		s.t.Fatalf("propose %T: %v %v", c, res.Status, err)
	}
	return index
}

// stateBytes is the node's state as snapshot bytes: equal states, equal bytes.
func (s *raftServer) stateBytes() []byte {
	s.t.Helper()
	var b bytes.Buffer
	if _, err := s.state.Snapshot().WriteTo(&b); err != nil {
		s.t.Fatal(err)
	}
	return b.Bytes()
}

// save downloads a snapshot through s and checks that it verifies.
func (s *raftServer) save() resp {
	s.t.Helper()
	r := s.do("GET", snapshotPath, "", basicAuth("elastic", "elastic-pw")...).want(s.t, 200)
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		s.t.Fatalf("Content-Type %q", ct)
	}
	if r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) || r.header.Get(headerSnapshotIndex) == "" {
		s.t.Fatalf("headers %v for %d bytes", r.header, len(r.body))
	}
	if _, err := snapshot.Verify(bytes.NewReader(r.body)); err != nil {
		s.t.Fatalf("downloaded snapshot does not verify: %v", err)
	}
	return r
}

// restore uploads b through s as an octet stream.
func (s *raftServer) restore(b []byte) resp {
	s.t.Helper()
	req, err := http.NewRequest("PUT", s.ts.URL+snapshotPath, bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.SetBasicAuth("elastic", "elastic-pw")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: body}
}

func TestSnapshotRoutes_NeedSuperuser(t *testing.T) {
	l := newRaftLeader(t)
	l.do("GET", snapshotPath, "").want(t, 401)
	l.do("PUT", snapshotPath, "x").want(t, 401)
	l.do("GET", snapshotPath, "", basicAuth("monty", "monty-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:admin/tokend/snapshot/save] is unauthorized for user [monty]")
	l.do("PUT", snapshotPath, "x", basicAuth("monty", "monty-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:admin/tokend/snapshot/restore] is unauthorized for user [monty]")
}

// After a restore, tokens and passwords are those of the snapshot, and the
// Basic-auth cache, warmed with the password set after the save, does not
// let that password in any more.
func TestSnapshotRestore_BringsBackTokensAndPasswords(t *testing.T) {
	l := newRaftLeader(t)
	elastic := basicAuth("elastic", "elastic-pw")
	kept, _ := l.passwordGrant("alice", "alice-pw")
	saved := l.save()

	l.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, kept)).want(t, 200)
	l.do("POST", "/_security/user/alice/_password", `{"password":"alice-new-pw"}`, elastic...).want(t, 200)
	l.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-new-pw")...).want(t, 200)
	later, _ := l.passwordGrant("alice", "alice-new-pw")

	m := l.restore(saved.body).want(t, 200).json(t)
	snap, _ := m["snapshot"].(map[string]any)
	if m["acknowledged"] != true || snap["records"] == nil || snap["bytes"] != float64(len(saved.body)) {
		t.Fatalf("restore answer: %v", m)
	}
	l.do("GET", "/_security/_authenticate", "", bearer(kept)...).want(t, 200)
	l.do("GET", "/_security/_authenticate", "", bearer(later)...).want(t, 401)
	l.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-new-pw")...).want(t, 401)
	l.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	l.passwordGrant("alice", "alice-pw") // writes go on after a restore
}

func TestSnapshotRestore_DamagedUploadIs400AndStateUntouched(t *testing.T) {
	l := newRaftLeader(t)
	saved := l.save().body
	live, _ := l.passwordGrant("alice", "alice-pw")
	before := l.stateBytes()
	flipped := bytes.Clone(saved)
	flipped[len(flipped)-40] ^= 0x80
	for name, b := range map[string][]byte{
		"truncated":      saved[:len(saved)/2],
		"flipped byte":   flipped,
		"not a snapshot": []byte(`{"grant_type":"password"}`),
		"empty":          nil,
	} {
		r := l.restore(b).want(t, 400)
		var env envelopeJSON
		if err := json.Unmarshal(r.body, &env); err != nil || env.Status != 400 ||
			env.Error.Type != "snapshot_restore_exception" || len(env.Error.RootCause) != 1 ||
			!strings.HasPrefix(env.Error.Reason, "the snapshot was refused and nothing was restored: ") {
			t.Fatalf("%s: %s", name, r.body)
		}
	}
	if !bytes.Equal(l.stateBytes(), before) {
		t.Fatal("a refused restore changed the state")
	}
	l.do("GET", "/_security/_authenticate", "", bearer(live)...).want(t, 200)
}

// A follower proxies both directions to the leader, and after a restore of
// a snapshot taken before it joined, the cluster still knows its address.
func TestSnapshotRoutes_FollowerStreamsThroughTheLeader(t *testing.T) {
	l := newRaftLeader(t)
	old, _ := l.passwordGrant("alice", "alice-pw")
	savedAlone := l.save().body
	f := addRaftFollower(t, l, "n2")

	got := f.save()
	if got.header.Get(headerServedBy) != "n1" {
		t.Fatalf("save through the follower was served by %q", got.header.Get(headerServedBy))
	}
	newer, _ := f.passwordGrant("alice", "alice-pw")
	r := f.restore(savedAlone).want(t, 200)
	if r.header.Get(headerServedBy) != "n1" {
		t.Fatalf("restore through the follower was served by %q", r.header.Get(headerServedBy))
	}
	for _, n := range []*raftServer{l, f} {
		n.do("GET", "/_security/_authenticate", "", bearer(newer)...).want(t, 401)
		n.do("GET", "/_security/_authenticate", "", bearer(old)...).want(t, 200)
		if addr, ok := n.state.NodeAddr("n2"); !ok || addr != f.srv.cfg.HTTPAdvertise {
			t.Fatalf("%s lost the follower's address: %q", n.srv.cfg.NodeID, addr)
		}
	}
	f.passwordGrant("alice", "alice-pw") // forwarding still works
}
