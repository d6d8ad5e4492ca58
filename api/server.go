package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

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

// Server is tokend's HTTP API: the routes, their adapters (local,
// leader, leaderWrite), the middleware and the error answers. The routes
// themselves are served by groups that share deps: tokens (tokenRoutes),
// users and roles (securityRoutes), cluster routes for operators
// (clusterRoutes) and for the other nodes (peerRoutes). It is safe for
// concurrent use.
type Server struct {
	*deps
	handler http.Handler

	tokenAPI    *tokenRoutes
	securityAPI *securityRoutes
	clusterAPI  *clusterRoutes
	peerAPI     *peerRoutes

	// cluster is the coordination New built, nil for a Server built over
	// other implementations of the coordination (newServer).
	cluster *cluster.Cluster
}

// New returns a Server for node and its state, with the coordination of
// node built over them (cluster.New). cfg is validated and copied.
func New(cfg Config, node cluster.Node, state *fsm.FSM) (*Server, error) {
	cfg, err := checkedConfig(cfg, node, state)
	if err != nil {
		return nil, err
	}
	inst := cfg.instruments(state)
	c, err := cluster.New(cfg.clusterConfig(inst.meter.batchesForwarded), node, state)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := assemble(cfg, node, state, coordinationOf(c), inst)
	s.cluster = c
	return s, nil
}

// newServer returns a Server for node and its state that reaches the
// other nodes through co, whatever implements it; New builds co with
// cluster.New. cfg is validated and copied. Such a Server has no
// housekeeping of its own to run.
func newServer(cfg Config, node Node, state *fsm.FSM, co coordination) (*Server, error) {
	cfg, err := checkedConfig(cfg, node, state)
	if err != nil {
		return nil, err
	}
	return assemble(cfg, node, state, co, cfg.instruments(state)), nil
}

// checkedConfig validates cfg for node and state and returns it with its
// defaults.
func checkedConfig(cfg Config, node Node, state *fsm.FSM) (Config, error) {
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if node == nil || state == nil {
		return cfg, fmt.Errorf("api: New needs a node and a state")
	}
	return cfg.withDefaults(), nil
}

// assemble builds the Server's parts over cfg, already validated and
// defaulted.
func assemble(cfg Config, node Node, state *fsm.FSM, co coordination, inst instruments) *Server {
	d := &deps{cfg: cfg, node: node, state: state, log: cfg.Logger, meter: inst.meter, coordination: co}
	d.gate = newGate(d, inst.reg)
	d.commits = &committer{deps: d}
	snap, _ := node.(Snapshotter)
	s := &Server{deps: d,
		tokenAPI:    &tokenRoutes{deps: d, answers: newAuthAnswers()},
		securityAPI: &securityRoutes{deps: d},
		clusterAPI:  &clusterRoutes{deps: d, snap: snap, metrics: newMetricsHandler(inst.gatherer, cfg.Logger)},
		peerAPI:     &peerRoutes{deps: d},
	}
	s.handler = s.middleware(s.routes())
	return s
}

// RunHousekeeping does the node's periodic coordination work until ctx
// ends (cluster.Cluster.Run); without a cluster (newServer) there is
// none, and it only waits for ctx to end.
func (s *Server) RunHousekeeping(ctx context.Context) {
	if s.cluster == nil {
		<-ctx.Done()
		return
	}
	s.cluster.Run(ctx)
}

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
