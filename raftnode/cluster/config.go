package cluster

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/tokend/tokend/raftnode/peerauth"
)

// Defaults of Config.
const (
	// DefaultRequestTimeout is Config.RequestTimeout's default.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultPurgeInterval is Config.PurgeInterval's default.
	DefaultPurgeInterval = time.Minute
)

// Config configures a Cluster. Zero fields take the defaults above. None of
// the settings is reloadable: New copies the Config and never changes it.
type Config struct {
	// NodeID is this node's Raft server ID.
	NodeID string
	// HTTPAdvertise is the host:port other nodes use to reach this node's
	// API; housekeeping records it in the state.
	HTTPAdvertise string
	// Replica makes this node a read replica: a permanent non-voter that
	// no leader promotes.
	Replica bool
	// Credential is the cluster's node credential, under which this node
	// signs its calls to other nodes. Nil: none known.
	Credential *peerauth.Credential
	// ClusterCert says this node presents a certificate of the cluster CA
	// on its calls to other nodes (PeerTLS), which proves it is a node
	// without the credential.
	ClusterCert bool
	// PeerTLS, when set, makes this node call other nodes' APIs over https
	// with this client configuration. Nil: plain http.
	PeerTLS *tls.Config
	// RequestTimeout bounds every proposal, forward and catch-up of one
	// request (default 10s).
	RequestTimeout time.Duration
	// Logger receives the coordination's logs (default slog.Default()).
	Logger *slog.Logger
	// Peers are HTTP base URLs of members (the --join list), asked besides
	// the members the state knows when this node must tell the cluster a
	// new address or check whether it is still a member.
	Peers []string
	// Build describes the running binary, reported in this node's status.
	Build BuildInfo
	// Clock is this node's wall clock (default time.Now): the leader
	// stamps commands with it (see Clock).
	Clock func() time.Time
	// PurgeInterval is how often the leader proposes a Purge of expired
	// records (default 1m).
	PurgeInterval time.Duration
	// Metrics are the counters the coordination adds to; nil ones are
	// not counted.
	Metrics Metrics
}

// Counter is a metric that only goes up.
type Counter interface{ Inc() }

// Metrics are the coordination's counters, registered by the caller.
type Metrics struct {
	// BatchesForwarded counts the batches of token creations this
	// follower posted to the leader.
	BatchesForwarded Counter
}

// BuildInfo identifies the build a node runs, from Go's build information.
type BuildInfo struct {
	// Version is the release version, or "dev" with the revision.
	Version string `json:"version"`
	// Hash is the VCS revision the binary was built from.
	Hash string `json:"hash"`
	// Date is the time of that revision (RFC 3339).
	Date string `json:"date"`
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.PurgeInterval == 0 {
		c.PurgeInterval = DefaultPurgeInterval
	}
	if c.Metrics.BatchesForwarded == nil {
		c.Metrics.BatchesForwarded = uncounted{}
	}
	return c
}

// Validate reports the first setting that New would refuse.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("cluster: NodeID is required")
	case c.HTTPAdvertise == "":
		return errors.New("cluster: HTTPAdvertise is required")
	case c.RequestTimeout < 0:
		return errors.New("cluster: RequestTimeout is negative")
	case c.PurgeInterval < 0:
		return errors.New("cluster: PurgeInterval is negative")
	}
	return nil
}

// uncounted is the Counter of a metric nobody registered.
type uncounted struct{}

// Inc does nothing.
func (uncounted) Inc() {}
