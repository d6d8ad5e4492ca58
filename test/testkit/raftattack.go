package testkit

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokend/tokend/fsm"
)

// RaftAttack is the result of ForgeUser against one node.
type RaftAttack struct {
	// Probe is the answer to an AppendEntries with term 0, which a member
	// refuses while revealing its term and last log index; ProbeErr is set
	// when no answer came.
	Probe    raft.AppendEntriesResponse
	ProbeErr error
	// Append is the answer to the forged entry; AppendErr is set when no
	// answer came.
	Append    raft.AppendEntriesResponse
	AppendErr error
}

// ForgeUser performs, with trans (hashicorp/raft's own transport, or any
// other), the attack of an outsider on a Raft port: it learns the node's
// term and last index from a refused AppendEntries, then sends a new term's
// AppendEntries carrying a PutUser command for username with hash (a
// bcrypt hash) and role superuser, with the commit index set past it. When
// the probe gets no answer, the forged entry is still sent, under a term far
// ahead.
func ForgeUser(trans raft.Transport, id, addr, username string, hash []byte) RaftAttack {
	var a RaftAttack
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(trans.LocalAddr())}
	a.ProbeErr = trans.AppendEntries(raft.ServerID(id), raft.ServerAddress(addr),
		&raft.AppendEntriesRequest{RPCHeader: header, Term: 0}, &a.Probe)
	term, last := a.Probe.Term, a.Probe.LastLog
	if a.ProbeErr != nil {
		term = 1 << 20
	}
	cmd := &fsm.PutUser{Meta: fsm.Meta{Time: time.Now().UnixMilli()}, User: fsm.User{
		Username: username, Hash: hash, Roles: []string{"superuser"}, Enabled: true, Realm: fsm.NativeRealm}}
	_, _ = rand.Read(cmd.ID[:])
	data, err := fsm.Encode(cmd)
	if err != nil {
		a.AppendErr = fmt.Errorf("encode: %w", err)
		return a
	}
	req := &raft.AppendEntriesRequest{RPCHeader: header, Term: term + 1, PrevLogEntry: last, PrevLogTerm: term,
		LeaderCommitIndex: last + 1,
		Entries:           []*raft.Log{{Index: last + 1, Term: term + 1, Type: raft.LogCommand, Data: data}}}
	a.AppendErr = trans.AppendEntries(raft.ServerID(id), raft.ServerAddress(addr), req, &a.Append)
	return a
}
