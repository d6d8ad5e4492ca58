package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"
)

// Names under /_security/user/ that are routes, not users: Elasticsearch
// reserves every user name beginning with "_" for them.
const (
	userPrivilegesName    = "_privileges"
	userHasPrivilegesName = "_has_privileges"
)

// Elasticsearch action names of the privilege routes; every authenticated
// user may ask about its own privileges.
const (
	actionGetPrivileges = "cluster:admin/xpack/security/user/list_privileges"
	actionHasPrivileges = "cluster:admin/xpack/security/user/has_privileges"
)

// clusterPrivileges maps Elasticsearch's cluster privilege names to the
// privileges tokend checks: what a role naming it grants, and what a
// holder must have for _has_privileges to say it is held.
var clusterPrivileges = map[string]privilege{
	"all":              privAll,
	"manage":           privAll,
	"manage_security":  privAll,
	"read_security":    privReadSecurity,
	"monitor":          privMonitor,
	"manage_token":     privManageToken,
	"introspect_token": privIntrospect, // tokend's own: RFC 7662 introspection
}

// heldClusterPrivileges lists, in Elasticsearch's terms, the cluster
// privileges p's roles grant: the role names' own privileges, most
// general first.
func heldClusterPrivileges(p *principal) []string {
	out := []string{}
	for _, name := range []string{"all", "monitor", "manage_token", "read_security", "introspect_token"} {
		if p.has(clusterPrivileges[name]) {
			out = append(out, name)
			if name == "all" {
				break
			}
		}
	}
	return out
}

// getUserPrivileges serves GET /_security/user/_privileges: the caller's
// cluster privileges. tokend holds no indices or applications, so those
// lists are empty.
func (s *securityRoutes) getUserPrivileges(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"cluster": heldClusterPrivileges(p), "global": []any{}, "indices": []any{},
		"applications": []any{}, "run_as": []any{},
	})
	return nil
}

// hasPrivilegesRequest is the body of _has_privileges.
type hasPrivilegesRequest struct {
	Cluster []string `json:"cluster"`
	Index   []struct {
		Names           []string `json:"names"`
		Privileges      []string `json:"privileges"`
		AllowRestricted *bool    `json:"allow_restricted_indices"`
	} `json:"index"`
	Application []struct {
		Application string   `json:"application"`
		Privileges  []string `json:"privileges"`
		Resources   []string `json:"resources"`
	} `json:"application"`
}

// hasPrivileges serves GET|POST /_security/user/_has_privileges: whether
// the caller holds each cluster privilege named. tokend keeps no indices
// or applications: every index or application privilege asked about is
// reported as not held, except to a holder of "all".
func (s *securityRoutes) hasPrivileges(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	var q hasPrivilegesRequest
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	all := p.has(clusterPrivileges["all"])
	cluster := map[string]bool{}
	hasAll := true
	for _, name := range q.Cluster {
		want, ok := clusterPrivileges[name]
		if !ok {
			return illegalArgument(fmt.Sprintf("unknown cluster privilege [%s]. a privilege must be one of %v",
				echoed(name), sortedKeys(clusterPrivileges)))
		}
		cluster[name] = p.has(want)
		hasAll = hasAll && cluster[name]
	}
	index := map[string]map[string]bool{}
	for _, ix := range q.Index {
		for _, n := range ix.Names {
			if index[n] == nil {
				index[n] = map[string]bool{}
			}
			for _, priv := range ix.Privileges {
				index[n][priv] = all
				hasAll = hasAll && all
			}
		}
	}
	application := map[string]map[string]map[string]bool{}
	for _, app := range q.Application {
		if application[app.Application] == nil {
			application[app.Application] = map[string]map[string]bool{}
		}
		for _, res := range app.Resources {
			if application[app.Application][res] == nil {
				application[app.Application][res] = map[string]bool{}
			}
			for _, priv := range app.Privileges {
				application[app.Application][res][priv] = all
				hasAll = hasAll && all
			}
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"username": p.user.Username, "has_all_requested": hasAll,
		"cluster": cluster, "index": index, "application": application,
	})
	return nil
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
