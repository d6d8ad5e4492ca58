package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// Headers tokend reads or writes besides the standard ones.
const (
	headerProduct      = "X-Elastic-Product"
	headerForwarded    = "X-Tokend-Forwarded"
	headerServedBy     = "X-Tokend-Served-By"
	headerAppliedIndex = "X-Tokend-Applied-Index"
	headerNodeSecret   = "X-Tokend-Node-Secret"
	headerRequestID    = "X-Tokend-Request-ID"
)

// maxBodyBytes bounds request bodies; every tokend request body is small.
const maxBodyBytes = 1 << 20

// maxIdlePeerConns is how many idle connections a node keeps to each other
// node, for forwarded writes and node-to-node calls.
const maxIdlePeerConns = 256

// maxStaleness is how long a follower may go without hearing from its leader
// and still answer reads from its own state; beyond it, reads answer 503.
// It is a few election timeouts of hashicorp/raft's defaults, so a healthy
// follower (heartbeats every ~100 ms) never hits it.
const maxStaleness = 5 * time.Second

// Node is the consensus layer as the API uses it. raftnode.Node implements it.
type Node interface {
	// Propose appends c to the log and returns its result and log index once
	// it is applied locally. Leader only: ErrNotLeader elsewhere.
	// ErrIndeterminate means it may have been applied.
	Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error)
	// IsLeader reports whether this node believes it is the leader.
	IsLeader() bool
	// Leader returns the current leader's ID and Raft address, or "".
	Leader() (id, raftAddr string)
	// LeaderChange returns a channel closed at the next leader change.
	LeaderChange() <-chan struct{}
	// WaitApplied returns once the local state has applied index.
	WaitApplied(ctx context.Context, index uint64) error
	// ReadIndex confirms leadership and returns the commit index once it is
	// applied locally. Leader only.
	ReadIndex(ctx context.Context) (uint64, error)
	// Join adds a server as a non-voter, or re-addresses a member,
	// idempotently. Leader only.
	Join(ctx context.Context, id, raftAddr string) error
	// Promote makes a non-voter a voter. Leader only.
	Promote(ctx context.Context, id string) error
	// Remove removes a server; raftnode.ErrNotFound if unknown. Leader only.
	Remove(ctx context.Context, id string) error
	// TransferLeadershipTo hands leadership to voter id, or to any other
	// voter when id is "". Leader only.
	TransferLeadershipTo(ctx context.Context, id string) error
	// Addr is this node's advertised Raft address.
	Addr() string
	// Servers lists the cluster configuration.
	Servers() ([]raftnode.Server, error)
	// LastContact is when a follower last heard from its leader.
	LastContact() time.Time
	// Stats reports the node's Raft state.
	Stats() raftnode.Stats
	// Term is the current Raft term, cheaply (token checks on the leader
	// read it).
	Term() uint64
}

// Server is tokend's HTTP API. It is safe for concurrent use.
type Server struct {
	cfg     Config
	node    Node
	state   *fsm.FSM
	log     *slog.Logger
	client  *http.Client // forwarding and catch-up, to other nodes
	stream  *http.Client // snapshot transfers, to the leader
	verify  *verifyCache
	limits  *authLimits  // password failures per username and client address
	peers   *nodeGuard   // node proofs: replay guard, failure limits per address
	dummies *dummyCosts  // the hash an unknown user's password is checked against
	answers *authAnswers // encoded _authenticate answers
	handler http.Handler

	// unverifiable holds the users whose stored hash was refused unchecked
	// and logged (warnUnverifiable).
	unverifiable sync.Map
	// roles resolves users' roles into privileges.
	roles roleGrants

	meter   *apiMetrics
	metrics http.Handler // promhttp over Config.Gatherer, served by serveMetrics

	started atomic.Int64 // when New ran (Unix ns): the "no leader" answer's grace
	reach   reachCache   // voters reachable, for the "no leader" answer
	watch   memberWatch  // membership checks run by housekeeping
	lease   readLease    // a follower's permission to serve reads locally
	// grants is the leader's record of the read leases it granted.
	grants leaseLedger

	tokens   batcher    // token creations on their way into the log
	batching *batchPath // how a follower's batches reach the leader

	clock   *logClock    // command stamps and expiry checks
	offsets clockOffsets // the other voters' clocks, for the stamps

	warnedVoters atomic.Int64 // voters counted when warnEvenVoters last looked
}

// New returns a Server for node and its state. cfg is validated and copied.
func New(cfg Config, node Node, state *fsm.FSM) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node == nil || state == nil {
		return nil, fmt.Errorf("api: New needs a node and a state")
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		node:    node,
		state:   state,
		log:     cfg.Logger,
		client:  newPeerClient(cfg.RequestTimeout, cfg.PeerTLS),
		stream:  newStreamClient(cfg.PeerTLS),
		verify:  newVerifyCache(newBcryptGate(defaultBcryptSlots())),
		limits:  newAuthLimits(),
		dummies: newDummyCosts(cfg.Credential),
		answers: newAuthAnswers(),
		clock:   &logClock{wall: cfg.Clock, state: state, log: cfg.Logger},
		grants:  newLeaseLedger(),
	}
	s.started.Store(time.Now().UnixNano())
	s.roles.log = cfg.Logger
	s.clock.cluster = s.offsets.clusterTime
	reg, gatherer := cfg.metricsRegistry()
	s.tokens.send = s.sendBatch
	s.meter = newAPIMetrics(reg, state)
	s.peers = newNodeGuard(reg)
	s.batching = newBatchPath(reg)
	s.metrics = newMetricsHandler(gatherer, cfg.Logger)
	s.handler = s.middleware(s.routes())
	return s, nil
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// peerScheme is the URL scheme of other nodes' APIs: https when PeerTLS is set.
func (s *Server) peerScheme() string {
	if s.cfg.PeerTLS != nil {
		return "https"
	}
	return "http"
}

// newPeerClient returns the keep-alive client used to reach other nodes,
// over TLS with tlsCfg when it is set.
func newPeerClient(timeout time.Duration, tlsCfg *tls.Config) *http.Client {
	// Every forwarded write holds a connection to the leader for its whole
	// round trip: with fewer idle connections kept than concurrent writes,
	// each burst would close and re-dial (and, between nodes over TLS,
	// re-handshake) most of them.
	t := &http.Transport{
		Proxy:                 nil, // node-to-node traffic never goes through a proxy
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   maxIdlePeerConns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		TLSClientConfig:       tlsCfg.Clone(),
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

// handlerFunc is a route handler; a returned error is answered by writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error

// local adapts h to a route that runs on whichever node receives it.
func (s *Server) local(h handlerFunc) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if err := h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// routes registers every route.
func (s *Server) routes() *httprouter.Router {
	rt := httprouter.New()
	rt.RedirectTrailingSlash = false
	rt.RedirectFixedPath = false
	rt.NotFound = http.HandlerFunc(s.noRoute)
	rt.MethodNotAllowed = http.HandlerFunc(s.wrongMethod)
	for _, prefix := range []string{"/_security", "/_xpack/security"} {
		rt.POST(prefix+"/oauth2/token", s.local(s.tokenRoute(s.createToken)))
		rt.DELETE(prefix+"/oauth2/token", s.leaderWrite(s.tokenRoute(s.invalidateToken)))
		rt.GET(prefix+"/_authenticate", s.local(s.authenticateMe))
		s.userRoutes(rt, prefix)
		s.roleRoutes(rt, prefix)
	}
	rt.GET("/", s.local(s.info))
	rt.HEAD("/", s.local(s.info))
	rt.GET("/_cluster/health", s.local(s.health))
	rt.GET("/_nodes/:first", s.local(s.nodesHTTP))
	rt.GET("/_nodes/:first/:second", s.local(s.nodesHTTP))
	rt.POST(joinPath, s.leaderWith(s.checkJoin, s.join))
	rt.POST(enrollPath, s.leader(s.createEnrollment))
	rt.GET("/_tokend/cluster/nodes", s.local(s.nodes))
	rt.DELETE("/_tokend/cluster/nodes/:id", s.leader(s.removeNode))
	rt.GET(statusPath, s.local(s.status))
	rt.POST("/_tokend/cluster/transfer_leader", s.leader(s.transferLeader))
	rt.GET("/_tokend/cluster/read_index", s.leaderWith(s.checkReadIndex, s.readIndex))
	rt.POST(proposePath, s.local(s.proposeRoute))
	rt.GET("/_tokend/cluster/wait_applied", s.local(s.waitApplied))
	rt.GET(snapshotPath, s.snapshotRoute(actionSnapshotSave, s.saveSnapshot))
	rt.PUT(snapshotPath, s.snapshotRoute(actionSnapshotRestore, s.restoreSnapshot))
	rt.POST(introspectPath, s.local(s.introspect))
	rt.POST(revokePath, s.leaderWrite(s.revoke))
	rt.GET(metadataPath, s.local(s.metadata))
	rt.GET(forwardAuthPath, s.local(s.forwardAuth))
	for _, m := range forwardAuthMethods {
		rt.Handle(m, forwardAuthPath+"/*path", s.local(s.forwardAuth))
	}
	rt.GET("/_tokend/healthz", s.local(s.healthz))
	rt.GET("/_tokend/readyz", s.local(s.readyz))
	rt.GET("/_prometheus/metrics", s.local(s.serveMetrics))
	rt.GET("/metrics", s.local(s.serveMetrics))
	return rt
}

// userRoutes registers the native realm's user API under prefix.
func (s *Server) userRoutes(rt *httprouter.Router, prefix string) {
	u := prefix + "/user"
	rt.GET(u, s.local(s.getUsers))
	rt.GET(u+"/:name", s.userNameRoutes(s.local(s.getUsers)))
	rt.PUT(u+"/:name", s.leaderWrite(s.putUser))
	rt.POST(u+"/:name", s.userNameRoutes(s.leaderWrite(s.putUser)))
	rt.DELETE(u+"/:name", s.leaderWrite(s.deleteUser))
	for _, m := range []string{http.MethodPut, http.MethodPost} {
		rt.Handle(m, u+"/:name/_password", s.leaderWrite(s.changePassword))
		rt.Handle(m, u+"/:name/_enable", s.leaderWrite(s.setEnabled(true)))
		rt.Handle(m, u+"/:name/_disable", s.leaderWrite(s.setEnabled(false)))
	}
}

// noRoute answers a path no route serves.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFound(fmt.Sprintf("no handler found for uri [%s] and method [%s]", echoed(r.URL.RequestURI()), r.Method)))
}

// wrongMethod answers a known path with a method it does not serve;
// httprouter has already set Allow.
func (s *Server) wrongMethod(w http.ResponseWriter, r *http.Request) {
	reason := fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]",
		echoed(r.URL.RequestURI()), r.Method, w.Header().Get("Allow"))
	s.writeError(w, r, &esError{status: http.StatusMethodNotAllowed, typ: "method_not_allowed_exception", reason: reason})
}
