package raftnode

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// Defaults filled in by Config.Validate for zero fields.
const (
	DefaultApplyTimeout       = 5 * time.Second
	DefaultSnapshotThreshold  = 8192
	DefaultTrailingLogs       = 10240
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultHeartbeatTimeout   = time.Second
	DefaultElectionTimeout    = time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
)

// Config configures a Node. Fill it in completely, call Validate (Open does
// it too, on its own copy), and do not change it afterwards: Open keeps a
// copy and nothing in it is reloaded at runtime.
//
// Of these, Raft could reload TrailingLogs, SnapshotInterval,
// SnapshotThreshold, HeartbeatTimeout and ElectionTimeout at runtime
// (raft.ReloadableConfig); raftnode does not expose that yet.
type Config struct {
	// NodeID is this node's stable Raft server ID. Required.
	NodeID string
	// RaftBind is the TCP address the Raft transport listens on, e.g.
	// "127.0.0.1:9300". Port 0 picks a free port (tests).
	RaftBind string
	// RaftAdvertise is the address other nodes dial. It defaults to the bound
	// address, which therefore must then be a specific IP or host name.
	// Unspecified addresses (0.0.0.0, ::) are refused.
	RaftAdvertise string
	// TLS, when set, makes Raft traffic mutual TLS: every connection, in
	// either direction, presents this node's certificate and verifies the
	// peer's against the cluster CA. It must require and verify client
	// certificates (ClientAuth RequireAndVerifyClientCert, with ClientCAs)
	// and trust the CA for dialling (RootCAs); a dialled peer's certificate
	// must name the host of its Raft address. Nil means plain TCP,
	// authenticated with Credential.
	TLS *tls.Config
	// Credential is the cluster's node credential. Without TLS every Raft
	// connection, in either direction, first proves it (peerauth's
	// handshake) and is closed unread if it does not; while it is empty
	// (a node waiting for its join answer) every connection is refused.
	// Required when TLS is nil; ignored with TLS.
	Credential *peerauth.Credential
	// DataDir holds raft.db (log and stable store) and snapshots/. Required.
	DataDir string
	// Logger receives Raft's own log lines. Nil means slog.Default().
	Logger *slog.Logger

	// ApplyTimeout bounds Propose, ReadIndex and membership changes when the
	// caller's context has no earlier deadline. Default 5s.
	ApplyTimeout time.Duration

	// SnapshotThreshold is the number of new log entries that triggers a
	// snapshot (checked every SnapshotInterval); TrailingLogs is how many
	// entries are kept after it, so that a slow follower can catch up
	// without a full snapshot. Defaults 8192, 10240, 30s.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration

	// Raft timing. Zero means 1s, 1s and half the heartbeat timeout. The
	// lease must not exceed the heartbeat timeout, nor the heartbeat timeout
	// the election timeout.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration

	// Metrics receives this node's own metrics (tokend_node_*: Raft state,
	// term, indexes, apply lag, last contact, leader changes, snapshot size,
	// propose latency) and Raft's library metrics (tokend_raft_*), which are
	// process-wide: see librarymetrics.go. One Node per Registerer. Nil
	// keeps them unexposed.
	Metrics prometheus.Registerer

	// Observer, when set, is told of every applied command and restored
	// snapshot (the audit trail). It is called on the apply goroutine:
	// it must be quick and must not call back into the Node.
	Observer Observer
}

// Observer sees the replicated log as it applies.
type Observer interface {
	// Applied is called after the command of the entry at index applied
	// with result r at the log's time at (Unix ms).
	Applied(index uint64, c fsm.Command, r fsm.Result, at int64)
	// Restored is called after a snapshot at index replaced the state.
	Restored(index uint64)
	// Flush is called before a snapshot is taken; the snapshot is not
	// taken if it fails.
	Flush() error
}

// Validate fills in defaults and refuses missing or unusable values with an
// error wrapping ErrInvalidConfig. It is idempotent.
func (c *Config) Validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("%w: NodeID is required", ErrInvalidConfig)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	if err := c.validateAddrs(); err != nil {
		return err
	}
	if c.TLS == nil && c.Credential == nil {
		return fmt.Errorf("%w: Raft connections need TLS or a Credential to authenticate them", ErrInvalidConfig)
	}
	if c.TLS != nil && (c.TLS.ClientAuth != tls.RequireAndVerifyClientCert || c.TLS.ClientCAs == nil || c.TLS.RootCAs == nil) {
		return fmt.Errorf("%w: TLS must require and verify client certificates and name the CA in ClientCAs and RootCAs",
			ErrInvalidConfig)
	}
	c.fillDefaults()
	if err := raft.ValidateConfig(c.raftConfig(hclog.NewNullLogger())); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return nil
}

// validateAddrs checks RaftBind and RaftAdvertise and defaults the latter to
// the former when the bind address is a usable one.
func (c *Config) validateAddrs() error {
	host, port, err := net.SplitHostPort(c.RaftBind)
	if err != nil {
		return fmt.Errorf("%w: RaftBind %q: %v", ErrInvalidConfig, c.RaftBind, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%w: RaftBind %q: bad port", ErrInvalidConfig, c.RaftBind)
	}
	if c.RaftAdvertise != "" {
		return checkAdvertise(c.RaftAdvertise)
	}
	if unspecified(host) {
		return fmt.Errorf("%w: RaftBind %q is not an address other nodes can dial; set RaftAdvertise",
			ErrInvalidConfig, c.RaftBind)
	}
	if port != "0" {
		c.RaftAdvertise = c.RaftBind
	}
	// Port 0: the advertised address is the bound one, known after Open.
	return nil
}

// checkAdvertise refuses an advertised address that peers cannot dial.
func checkAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: RaftAdvertise %q: %v", ErrInvalidConfig, addr, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%w: RaftAdvertise %q needs an explicit port", ErrInvalidConfig, addr)
	}
	if unspecified(host) {
		return fmt.Errorf("%w: RaftAdvertise %q is unspecified; peers cannot dial it", ErrInvalidConfig, addr)
	}
	return nil
}

// unspecified reports whether host is empty or an unspecified IP.
func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// fillDefaults sets every zero optional field.
func (c *Config) fillDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	setDefault(&c.ApplyTimeout, DefaultApplyTimeout)
	setDefault(&c.SnapshotThreshold, DefaultSnapshotThreshold)
	setDefault(&c.TrailingLogs, DefaultTrailingLogs)
	setDefault(&c.SnapshotInterval, DefaultSnapshotInterval)
	setDefault(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&c.ElectionTimeout, max(DefaultElectionTimeout, c.HeartbeatTimeout))
	lease := DefaultLeaderLeaseTimeout
	if c.HeartbeatTimeout != DefaultHeartbeatTimeout {
		lease = c.HeartbeatTimeout / 2
	}
	setDefault(&c.LeaderLeaseTimeout, lease)
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// commitTimeout is how long the leader's replication loop idles before it
// sends an AppendEntries anyway. Followers learn the commit index only from
// AppendEntries (raft's heartbeats do not carry it), so this bounds how long
// a follower waits to apply an entry the leader has already answered for:
// with raft's 50 ms default a write forwarded by a follower, which waits to
// apply its own write before answering, took ~80 ms at one client. The cost
// is an empty AppendEntries per follower every 5-10 ms while idle: on a
// 3-node local cluster an idle leader uses ~11% of a core (2.6% at 50 ms)
// and a follower ~4% (0.6%); at 15 ms the forwarded write took 27 ms.
const commitTimeout = 5 * time.Millisecond

// raftConfig builds the hashicorp/raft configuration. ShutdownOnRemove stays
// true: a node removed from the cluster stops rather than keep answering
// reads from frozen state.
func (c *Config) raftConfig(logger hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.TrailingLogs = c.TrailingLogs
	rc.SnapshotInterval = c.SnapshotInterval
	rc.CommitTimeout = commitTimeout
	rc.Logger = logger
	// Without this, raft also emits per-peer metrics with the peer's ID in
	// the metric name, duplicating the ones labelled with peer_id.
	rc.NoLegacyTelemetry = true
	return rc
}
