package api

import (
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode/cluster"
)

// routes registers every route, each served by its group.
func (s *Server) routes() *httprouter.Router {
	rt := httprouter.New()
	rt.RedirectTrailingSlash = false
	rt.RedirectFixedPath = false
	rt.NotFound = http.HandlerFunc(s.noRoute)
	rt.MethodNotAllowed = http.HandlerFunc(s.wrongMethod)
	t, c, p := s.tokenAPI, s.clusterAPI, s.peerAPI
	for _, prefix := range []string{"/_security", "/_xpack/security"} {
		rt.POST(prefix+"/oauth2/token", s.local(t.tokenRoute(t.createToken)))
		rt.DELETE(prefix+"/oauth2/token", s.leaderWrite(t.tokenRoute(t.invalidateToken)))
		rt.GET(prefix+"/_authenticate", s.local(t.authenticateMe))
		s.userRoutes(rt, prefix)
		s.roleRoutes(rt, prefix)
	}
	rt.GET("/", s.local(c.info))
	rt.HEAD("/", s.local(c.info))
	rt.GET("/_cluster/health", s.local(c.health))
	rt.GET("/_nodes/:first", s.local(c.nodesHTTP))
	rt.GET("/_nodes/:first/:second", s.local(c.nodesHTTP))
	rt.POST(joinPath, s.leaderWith(s.gate.checkJoin, p.join))
	rt.POST(enrollPath, s.leader(c.createEnrollment))
	rt.GET("/_tokend/cluster/nodes", s.local(c.nodes))
	rt.DELETE("/_tokend/cluster/nodes/:id", s.leader(c.removeNode))
	rt.GET(statusPath, s.local(c.status))
	rt.POST("/_tokend/cluster/transfer_leader", s.leader(c.transferLeader))
	rt.GET(cluster.PathReadIndex, s.leaderWith(p.checkReadIndex, p.readIndex))
	rt.POST(proposePath, s.local(p.proposeRoute))
	rt.GET(cluster.PathWaitApplied, s.local(p.waitApplied))
	rt.GET(snapshotPath, s.snapshotRoute(actionSnapshotSave, c.saveSnapshot))
	rt.PUT(snapshotPath, s.snapshotRoute(actionSnapshotRestore, c.restoreSnapshot))
	rt.POST(introspectPath, s.local(t.introspect))
	rt.POST(revokePath, s.leaderWrite(t.revoke))
	rt.GET(metadataPath, s.local(t.metadata))
	rt.GET(forwardAuthPath, s.local(t.forwardAuth))
	for _, m := range forwardAuthMethods {
		rt.Handle(m, forwardAuthPath+"/*path", s.local(t.forwardAuth))
	}
	rt.GET("/_tokend/healthz", s.local(c.healthz))
	rt.GET("/_tokend/readyz", s.local(c.readyz))
	rt.GET("/_prometheus/metrics", s.local(c.serveMetrics))
	rt.GET("/metrics", s.local(c.serveMetrics))
	return rt
}

// userRoutes registers the native realm's user API under prefix.
func (s *Server) userRoutes(rt *httprouter.Router, prefix string) {
	u, path := s.securityAPI, prefix+"/user"
	rt.GET(path, s.local(u.getUsers))
	rt.GET(path+"/:name", s.userNameRoutes(s.local(u.getUsers)))
	rt.PUT(path+"/:name", s.leaderWrite(u.putUser))
	rt.POST(path+"/:name", s.userNameRoutes(s.leaderWrite(u.putUser)))
	rt.DELETE(path+"/:name", s.leaderWrite(u.deleteUser))
	for _, m := range []string{http.MethodPut, http.MethodPost} {
		rt.Handle(m, path+"/:name/_password", s.leaderWrite(u.changePassword))
		rt.Handle(m, path+"/:name/_enable", s.leaderWrite(u.setEnabled(true)))
		rt.Handle(m, path+"/:name/_disable", s.leaderWrite(u.setEnabled(false)))
	}
}

// roleRoutes registers the roles API under prefix.
func (s *Server) roleRoutes(rt *httprouter.Router, prefix string) {
	u, r := s.securityAPI, prefix+"/role"
	rt.GET(r, s.local(u.getRoles))
	rt.GET(r+"/:name", s.local(u.getRoles))
	rt.PUT(r+"/:name", s.leaderWrite(u.putRole))
	rt.POST(r+"/:name", s.leaderWrite(u.putRole))
	rt.DELETE(r+"/:name", s.leaderWrite(u.deleteRole))
}

// userNameRoutes serves the routes that share a path with user names
// (GET /_security/user/_privileges, GET|POST .../_has_privileges) and hands
// every other name to users.
func (s *Server) userNameRoutes(users httprouter.Handle) httprouter.Handle {
	u := s.securityAPI
	privileges, hasPrivileges := s.local(u.getUserPrivileges), s.local(u.hasPrivileges)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		switch name := p.ByName("name"); {
		case name == userPrivilegesName && r.Method == http.MethodGet:
			privileges(w, r, p)
		case name == userHasPrivilegesName && (r.Method == http.MethodGet || r.Method == http.MethodPost):
			hasPrivileges(w, r, p)
		default:
			users(w, r, p)
		}
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
