package api

import (
	"log/slog"
	"sync"

	"github.com/tokend/tokend/fsm"
)

// roleGrants turns a user's role names into privileges: the built-in
// reserved roles (rolePrivileges), then the custom roles of the replicated
// state. A role that does not exist grants nothing; as Elasticsearch does,
// it is logged (once per name and process) and the user is not refused.
type roleGrants struct {
	log    *slog.Logger
	warned sync.Map // role names logged as missing
}

// grant returns the privileges that roles grant in state. Built-in roles
// cost a map lookup; custom roles are read under the state's read lock,
// without copying.
func (g *roleGrants) grant(state *fsm.FSM, roles []string) privilege {
	var got privilege
	custom := false
	for _, name := range roles {
		if p, ok := rolePrivileges[name]; ok {
			got |= p
		} else {
			custom = true
		}
	}
	if !custom {
		return got
	}
	missing := state.RoleCluster(roles, func(cluster []string) {
		for _, c := range cluster {
			got |= clusterPrivileges[c]
		}
	})
	for _, name := range missing {
		if _, builtin := rolePrivileges[name]; !builtin {
			g.warnMissing(name)
		}
	}
	return got
}

// warnMissing logs, once per name, that a user names a role that does not
// exist.
func (g *roleGrants) warnMissing(name string) {
	if _, logged := g.warned.LoadOrStore(name, true); !logged && g.log != nil {
		g.log.Warn("a user names a role that does not exist: it grants nothing", "role", name)
	}
}

// clusterNames lists the Elasticsearch cluster privileges that make up p,
// for showing a built-in role: "all" alone when p is every privilege.
func clusterNames(p privilege) []string {
	if p == privAll {
		return []string{"all"}
	}
	out := []string{}
	for _, name := range sortedKeys(clusterPrivileges) {
		if bits := clusterPrivileges[name]; bits != privAll && bits&^p == 0 {
			out = append(out, name)
		}
	}
	return out
}
