package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
)

// Elasticsearch action names of the roles API, named in 403 answers.
const (
	actionPutRole    = "cluster:admin/xpack/security/role/put"
	actionGetRoles   = "cluster:admin/xpack/security/role/get"
	actionDeleteRole = "cluster:admin/xpack/security/role/delete"
)

// maxRoleBytes bounds a role's JSON parts together, so that a role record
// stays far below the snapshot's record size limit.
const maxRoleBytes = 256 << 10

// invalidRoleName is Elasticsearch's description of valid role names.
const invalidRoleName = "Role names must be at least 1 and no more than 507 characters. They can contain " +
	"alphanumeric characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in the Basic Latin " +
	"(ASCII) block. Leading or trailing whitespace is not allowed."

// putRoleRequest is the body of PUT /_security/role/{name}. Index and
// application privileges are kept as given and grant nothing; the other
// parts tokend has no use for are accepted and dropped.
type putRoleRequest struct {
	Cluster           []string        `json:"cluster"`
	Indices           json.RawMessage `json:"indices"`
	Applications      json.RawMessage `json:"applications"`
	RunAs             []string        `json:"run_as"`
	Metadata          json.RawMessage `json:"metadata"`
	Global            json.RawMessage `json:"global"`
	TransientMetadata json.RawMessage `json:"transient_metadata"`
	Description       *string         `json:"description"`
	// Remote privileges (Elasticsearch 8) are accepted and ignored.
	RemoteIndices json.RawMessage `json:"remote_indices"`
	RemoteCluster json.RawMessage `json:"remote_cluster"`
}

// role validates q as the role name and returns the record to store.
func (q putRoleRequest) role(name string) (fsm.Role, error) {
	if usernameProblem(name) != "" {
		return fsm.Role{}, validationFailed(invalidRoleName)
	}
	for _, c := range q.Cluster {
		if _, ok := clusterPrivileges[c]; !ok {
			return fsm.Role{}, illegalArgument(fmt.Sprintf("unknown cluster privilege [%s]. a privilege must be one of %v",
				echoed(c), sortedKeys(clusterPrivileges)))
		}
	}
	var msgs []string
	for _, f := range []struct {
		name  string
		raw   json.RawMessage
		array bool
	}{{"indices", q.Indices, true}, {"applications", q.Applications, true}, {"metadata", q.Metadata, false}} {
		if p := jsonKind(f.raw, f.array); p != "" {
			msgs = append(msgs, fmt.Sprintf("[%s] must be %s", f.name, p))
		}
	}
	if len(msgs) > 0 {
		return fsm.Role{}, validationFailed(msgs...)
	}
	if len(q.Indices)+len(q.Applications)+len(q.Metadata)+len(strings.Join(q.RunAs, ""))+len(strings.Join(q.Cluster, "")) > maxRoleBytes {
		return fsm.Role{}, validationFailed(fmt.Sprintf("a role must be at most [%d] bytes", maxRoleBytes))
	}
	return fsm.Role{Name: name, Cluster: q.Cluster, Indices: nullToNil(q.Indices), Applications: nullToNil(q.Applications),
		RunAs: q.RunAs, Metadata: nullToNil(q.Metadata)}, nil
}

// jsonKind returns what raw must be ("an array" or "an object") when it
// is neither absent, null nor that, or "".
func jsonKind(raw json.RawMessage, array bool) string {
	raw = nullToNil(raw)
	if len(raw) == 0 {
		return ""
	}
	open, want := byte('{'), "an object"
	if array {
		open, want = '[', "an array"
	}
	if raw[0] != open {
		return want
	}
	return ""
}

// nullToNil returns nil for an absent or null JSON value, raw otherwise.
func nullToNil(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// reservedRole is the 400 for a change to a built-in role.
func reservedRole(name, verb string) error {
	return illegalArgument(fmt.Sprintf("role [%s] is reserved and cannot be %s", echoed(name), verb))
}

// putRole serves PUT|POST /_security/role/{name} (leader). A change that
// may take a privilege away is answered once every replica applied it,
// as a password change is.
func (s *securityRoutes) putRole(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionPutRole, privSuperuser); err != nil {
		return err
	}
	name := p.ByName("name")
	if _, reserved := rolePrivileges[name]; reserved {
		return reservedRole(name, "modified")
	}
	var q putRoleRequest
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	role, err := q.role(name)
	if err != nil {
		return err
	}
	res, index, err := s.commits.propose(r.Context(), w, &fsm.PutRole{Role: role})
	if err != nil {
		return err
	}
	if !res.Created {
		s.revocations.Await(r.Context(), index)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"role": map[string]bool{"created": res.Created}})
	return nil
}

// deleteRole serves DELETE /_security/role/{name} (leader).
func (s *securityRoutes) deleteRole(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionDeleteRole, privSuperuser); err != nil {
		return err
	}
	name := p.ByName("name")
	if _, reserved := rolePrivileges[name]; reserved {
		return reservedRole(name, "deleted")
	}
	return s.deleteNamed(w, r, &fsm.DeleteRole{Name: name})
}

// roleJSON is a role as GET /_security/role shows it.
type roleJSON struct {
	Cluster           []string        `json:"cluster"`
	Indices           json.RawMessage `json:"indices"`
	Applications      json.RawMessage `json:"applications"`
	RunAs             []string        `json:"run_as"`
	Metadata          json.RawMessage `json:"metadata"`
	TransientMetadata map[string]bool `json:"transient_metadata"`
}

// customRoleView is the view of a stored role.
func customRoleView(r fsm.Role) roleJSON {
	v := roleJSON{Cluster: r.Cluster, Indices: r.Indices, Applications: r.Applications, RunAs: r.RunAs,
		Metadata: r.Metadata, TransientMetadata: map[string]bool{"enabled": true}}
	if v.Cluster == nil {
		v.Cluster = []string{}
	}
	if v.RunAs == nil {
		v.RunAs = []string{}
	}
	if v.Indices == nil {
		v.Indices = json.RawMessage("[]")
	}
	if v.Applications == nil {
		v.Applications = json.RawMessage("[]")
	}
	if v.Metadata == nil {
		v.Metadata = json.RawMessage("{}")
	}
	return v
}

// reservedRoleView is the view of a built-in role.
func reservedRoleView(name string) roleJSON {
	v := customRoleView(fsm.Role{Name: name, Cluster: clusterNames(rolePrivileges[name])})
	v.Metadata = json.RawMessage(`{"_reserved":true}`)
	return v
}

// getRoles serves GET /_security/role[/{name[,name...]}]: the built-in
// roles and the custom ones.
func (s *securityRoutes) getRoles(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionGetRoles, privReadSecurity); err != nil {
		return err
	}
	all := func() map[string]roleJSON {
		out := map[string]roleJSON{}
		for name := range rolePrivileges {
			out[name] = reservedRoleView(name)
		}
		for _, role := range s.state.Roles() {
			out[role.Name] = customRoleView(role)
		}
		return out
	}
	return writeNamed(w, r, p.ByName("name"), all, func(name string) (roleJSON, bool, error) {
		if _, ok := rolePrivileges[name]; ok {
			return reservedRoleView(name), true, nil
		}
		role, ok := s.state.Role(name)
		if !ok {
			if err := s.reads.CatchUp(r.Context()); err != nil {
				return roleJSON{}, false, err
			}
			role, ok = s.state.Role(name)
		}
		return customRoleView(role), ok, nil
	})
}
