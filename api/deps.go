package api

import (
	"log/slog"
	"net/http"

	"github.com/tokend/tokend/fsm"
)

// deps is what the Server and its route groups share: fields only, so
// that sharing them adds no methods to anyone. Each group embeds it and
// keeps its own methods.
type deps struct {
	cfg   Config
	node  Node
	state *fsm.FSM
	log   *slog.Logger
	meter *apiMetrics
	// coordination is the other nodes, as the routes reach them.
	coordination
	// gate authenticates and authorizes requests, users' and nodes'.
	gate *gate
	// commits proposes commands and holds revocations' answers.
	commits *committer
}

// tokenRoutes serves the token routes: grants, invalidation, revocation,
// introspection, the forward-auth check, the OAuth metadata and
// _authenticate.
type tokenRoutes struct {
	*deps
	answers *authAnswers // encoded _authenticate answers
}

// securityRoutes serves the native realm's user, role and privilege
// routes.
type securityRoutes struct {
	*deps
}

// clusterRoutes serves the cluster routes operators and monitoring call:
// info, health, nodes, status, membership changes, enrollment, probes,
// metrics and snapshots.
type clusterRoutes struct {
	*deps
	snap    Snapshotter  // nil: the node cannot save or restore snapshots
	metrics http.Handler // promhttp over Config.Gatherer, served by serveMetrics
}

// peerRoutes serves the routes the other nodes call: join, read index,
// wait applied and batched proposals.
type peerRoutes struct {
	*deps
}
