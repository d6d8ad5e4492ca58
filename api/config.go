package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// Defaults and bounds of Config. None of the settings is reloadable: New
// copies the Config and never changes it.
const (
	DefaultClusterName  = "tokend"
	DefaultVersion      = "7.17.0"
	DefaultTokenTimeout = 20 * time.Minute
	// The request timeout and the purge interval are the coordination's:
	// api hands both to it (cluster.Config).
	DefaultRequestTimeout = cluster.DefaultRequestTimeout
	DefaultPurgeInterval  = cluster.DefaultPurgeInterval
	// MinTokenTimeout and MaxTokenTimeout bound TokenTimeout, as
	// Elasticsearch bounds xpack.security.authc.token.timeout.
	MinTokenTimeout = time.Second
	MaxTokenTimeout = time.Hour
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// NodeID is this node's Raft server ID.
	NodeID string
	// Replica makes this node a read replica (`tokend serve --replica`): it
	// asks to join as a permanent non-voter that no leader promotes.
	Replica bool
	// HTTPAdvertise is the host:port other nodes and clients use to reach
	// this node's API; it is recorded in the state for forwarding.
	HTTPAdvertise string
	// ClusterName is reported as cluster_name (default "tokend").
	ClusterName string
	// Version is reported as version.number (default "7.17.0").
	Version string
	// TokenTimeout is the access token lifetime (default 20m, 1s..1h).
	TokenTimeout time.Duration
	// NodeSecret is --node-secret as given; the API does not read it (it
	// uses Credential, which cmd/tokend sets from it).
	NodeSecret string
	// Credential is the cluster's node credential (--node-secret, or the
	// one generated at bootstrap and received in join answers): nodes prove
	// to each other with it on node-to-node routes. Nil: none known.
	Credential *peerauth.Credential
	// DisableReplayRevocation keeps a refresh token replayed after the retry
	// window from revoking its token family (Elasticsearch's behaviour).
	DisableReplayRevocation bool
	// RequestTimeout bounds every proposal, forward and catch-up of one
	// request (default 10s). Keep it above 5s, the longest a read lease
	// lasts (package cluster): a revocation
	// may wait that long for a replica that is out of contact.
	RequestTimeout time.Duration
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// Peers are HTTP base URLs of members (the --join list). A restarted
	// node asks them, besides the members its state knows, when it must
	// tell the cluster a new address or check whether it is still a member.
	Peers []string
	// Metrics is where the server registers its own metrics
	// (tokend_tokens_*, tokend_token_*, tokend_auth_*, tokend_users,
	// tokend_node_auth_failures_total), next to the node's
	// (raftnode.Config.Metrics). One Server per Registerer. Nil: a private
	// registry.
	Metrics prometheus.Registerer
	// Gatherer is what /_prometheus/metrics and /metrics serve: in tokend,
	// the registry Metrics is, which also holds the node's, Raft's and the
	// Go and process collectors. Nil: Metrics, which must then be a
	// prometheus.Gatherer too (a *prometheus.Registry is).
	Gatherer prometheus.Gatherer
	// PeerTLS, when set, makes this node call other nodes' APIs (forwarding,
	// catch-up, status, membership checks, snapshot transfers) over https
	// with this client configuration: the cluster's CA in RootCAs and, for
	// clusters that require client certificates, this node's certificate.
	// Nil: plain http.
	PeerTLS *tls.Config
	// ClusterCA, when set, are the certificates of the cluster CA: the
	// HTTP listener must then ask for client certificates (and verify them)
	// and every node-to-node call must present one the cluster CA signed.
	// Joins, forwarded writes (X-Tokend-Forwarded), client addresses and
	// node proofs are refused without it. Nil: no such requirement.
	ClusterCA []*x509.Certificate
	// Build describes the running binary: reported by GET / (build_hash,
	// build_date), the status route and so `tokend nodes`. Zero fields
	// are reported as "unknown".
	Build BuildInfo
	// Audit, when set, receives the request events (package audit).
	Audit *audit.Trail
	// Clock is this node's wall clock (default time.Now). The leader stamps
	// commands with it, and every node checks token expiry against it;
	// neither ever goes back before a time the log already holds (see
	// docs/guarantees.md, clock skew). Tests set it to skew one node.
	Clock func() time.Time
	// PurgeInterval is how often the leader proposes a Purge of expired
	// records (default 1m).
	PurgeInterval time.Duration
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.TokenTimeout == 0 {
		c.TokenTimeout = DefaultTokenTimeout
	}
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
	return c
}

// Validate reports the first setting that New would refuse. Zero values
// that have defaults are accepted.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.NodeID == "" {
		return errors.New("api: NodeID is required")
	}
	host, port, err := net.SplitHostPort(c.HTTPAdvertise)
	if err != nil || port == "" {
		return fmt.Errorf("api: HTTPAdvertise %q is not host:port", c.HTTPAdvertise)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("api: HTTPAdvertise %q is not an address other nodes can reach", c.HTTPAdvertise)
	}
	if c.TokenTimeout < MinTokenTimeout || c.TokenTimeout > MaxTokenTimeout {
		return fmt.Errorf("api: TokenTimeout %v is outside [%v, %v]", c.TokenTimeout, MinTokenTimeout, MaxTokenTimeout)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("api: RequestTimeout %v is negative", c.RequestTimeout)
	}
	if c.PurgeInterval < 0 {
		return fmt.Errorf("api: PurgeInterval %v is negative", c.PurgeInterval)
	}
	if c.Metrics != nil && c.Gatherer == nil {
		if _, ok := c.Metrics.(prometheus.Gatherer); !ok {
			return errors.New("api: Metrics is not a prometheus.Gatherer: set Gatherer to serve it")
		}
	}
	return nil
}

// metricsRegistry returns where the server registers its metrics and what
// it serves, after the rules of Metrics and Gatherer (Validate made sure
// that the assertion holds).
func (c Config) metricsRegistry() (prometheus.Registerer, prometheus.Gatherer) {
	reg := c.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if c.Gatherer != nil {
		return reg, c.Gatherer
	}
	return reg, reg.(prometheus.Gatherer)
}

// instruments are where the server registers its metrics (reg), what it
// serves (gatherer) and the API's own metrics (meter).
type instruments struct {
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer
	meter    *apiMetrics
}

// instruments registers the API's metrics over state after the rules of
// Metrics and Gatherer.
func (c Config) instruments(state *fsm.FSM) instruments {
	reg, gatherer := c.metricsRegistry()
	return instruments{reg: reg, gatherer: gatherer, meter: newAPIMetrics(reg, state)}
}

// BuildInfo identifies the build a node runs; the status route reports it
// (cluster.Status.Build).
type BuildInfo = cluster.BuildInfo

// orUnknown returns v, or "unknown" when it is empty.
func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}
