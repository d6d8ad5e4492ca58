package raftnode

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/tokend/tokend/raftnode/peerauth"
)

// authFailLogEvery is the least interval between two log lines about
// refused Raft connections: a flood of attempts makes one line per
// interval, with the count of those it stands for.
const authFailLogEvery = 10 * time.Second

// authFailLog reports Raft connections refused by the credential
// handshake: each one in tokend_node_raft_auth_failures_total, and at WARN
// at most once per authFailLogEvery, naming the remote address and the
// reason (never key material: the handshake's errors carry none).
type authFailLog struct {
	n *Node

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// refused records one refused connection.
func (a *authFailLog) refused(conn net.Conn, err error) {
	a.n.m.authFailures.Inc()
	if errors.Is(err, peerauth.ErrNoCredential) {
		// A node waiting for its join answer: the leader's first attempts
		// are expected and raft retries them.
		a.n.log.Debug("raft connection refused: this node has no node credential yet", "remote", conn.RemoteAddr().String())
		return
	}
	a.mu.Lock()
	now := time.Now()
	if now.Sub(a.last) < authFailLogEvery {
		a.suppressed++
		a.mu.Unlock()
		return
	}
	suppressed := a.suppressed
	a.last, a.suppressed = now, 0
	a.mu.Unlock()
	a.n.log.Warn("raft connection refused: it did not prove the cluster's node credential",
		"remote", conn.RemoteAddr().String(), "err", err, "also_refused_since_last_line", suppressed)
}
