package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/api/metrics"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// Headers tokend reads or writes besides the standard ones; the ones
// between nodes are package cluster's.
const (
	headerProduct      = "X-Elastic-Product"
	headerForwarded    = cluster.HeaderForwarded
	headerServedBy     = cluster.HeaderServedBy
	headerAppliedIndex = cluster.HeaderAppliedIndex
	headerNodeSecret   = cluster.HeaderNodeSecret
	headerRequestID    = cluster.HeaderRequestID
)

// maxBodyBytes bounds request bodies; every tokend request body is small.
const maxBodyBytes = 1 << 20

// Server is tokend's HTTP API. It is safe for concurrent use.
type Server struct {
	cfg     Config
	node    Node
	snap    Snapshotter // nil: the node cannot save or restore snapshots
	state   *fsm.FSM
	log     *slog.Logger
	answers *authAnswers // encoded _authenticate answers
	handler http.Handler

	passwords *credentials.Verifier // password checks and their failure limits
	peers     *nodeGuard            // node proofs: replay guard, failure limits per address

	// roles resolves users' roles into privileges.
	roles roleGrants

	meter      *apiMetrics
	metricRegs []*metrics.Registry // served by serveMetrics, in order

	// cluster is the coordination with the other nodes; the routes reach
	// it through the interfaces below (coordination.go).
	cluster     *cluster.Cluster
	writes      writes
	forwarder   forwarder
	reads       reads
	revocations revocations
	members     members
	membership  membership
	clock       commandClock
}

// New returns a Server for node and its state, with the coordination of
// node built over them (cluster.New). cfg is validated and copied.
func New(cfg Config, node cluster.Node, state *fsm.FSM) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node == nil || state == nil {
		return nil, fmt.Errorf("api: New needs a node and a state")
	}
	cfg = cfg.withDefaults()
	reg := cfg.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	meter := newAPIMetrics(reg, state)
	c, err := cluster.New(cfg.clusterConfig(meter.batchesForwarded), node, state)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		node:    node,
		state:   state,
		log:     cfg.Logger,
		peers:   newNodeGuard(reg),
		answers: newAuthAnswers(),
		meter:   meter,

		cluster:     c,
		writes:      c.Writes(),
		forwarder:   c.Forwarder(),
		reads:       c.Reads(),
		revocations: c.Revocations(),
		members:     c.Members(),
		membership:  c.Members(),
		clock:       c.Clock(),
	}
	s.snap, _ = node.(Snapshotter)
	s.passwords = credentials.NewVerifier(credentials.Config{State: state, CatchUp: s.reads.CatchUp,
		Credential: cfg.Credential, Log: cfg.Logger})
	s.roles.log = cfg.Logger
	s.metricRegs = []*metrics.Registry{reg}
	if cfg.ProcessMetrics != nil {
		s.metricRegs = append(s.metricRegs, cfg.ProcessMetrics)
	}
	s.handler = s.middleware(s.routes())
	return s, nil
}

// RunHousekeeping does the node's periodic coordination work until ctx
// ends (cluster.Cluster.Run).
func (s *Server) RunHousekeeping(ctx context.Context) { s.cluster.Run(ctx) }

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

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
	rt.GET(cluster.PathReadIndex, s.leaderWith(s.checkReadIndex, s.readIndex))
	rt.POST(proposePath, s.local(s.proposeRoute))
	rt.GET(cluster.PathWaitApplied, s.local(s.waitApplied))
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
