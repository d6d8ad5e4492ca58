// Package cluster tests tokend's cluster behaviour in one process: several
// nodes built from the same constructors as cmd/tokend (fsm, raftnode, api),
// talking real Raft and real HTTP over 127.0.0.1 sockets.
package cluster
