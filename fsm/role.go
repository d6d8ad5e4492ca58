package fsm

import (
	"maps"
	"slices"
	"strings"

	"github.com/tokend/tokend/snapshot"
)

// Role is a custom role: the cluster privileges it grants, by their
// Elasticsearch names. Indices, Applications and Metadata are kept as the
// JSON they were given in, and grant nothing: tokend holds no indices or
// applications.
type Role struct {
	Name         string   `msgpack:"n" json:"-"`
	Cluster      []string `msgpack:"c" json:"cluster"`
	Indices      []byte   `msgpack:"i" json:"-"`
	Applications []byte   `msgpack:"a" json:"-"`
	RunAs        []string `msgpack:"ra" json:"run_as"`
	Metadata     []byte   `msgpack:"m" json:"-"`
}

// putRole creates or replaces a role; Result.Created says which.
func (s *state) putRole(c *PutRole) Result {
	_, exists := s.roles[c.Role.Name]
	s.roles[c.Role.Name] = cloneRole(c.Role)
	return Result{Created: !exists}
}

// deleteRole removes a role; NotFound if there is none of that name.
func (s *state) deleteRole(c *DeleteRole) Result {
	if _, ok := s.roles[c.Name]; !ok {
		return Result{Status: NotFound}
	}
	delete(s.roles, c.Name)
	return Result{}
}

// cloneRole returns a deep copy of r.
func cloneRole(r Role) Role {
	r.Cluster = slices.Clone(r.Cluster)
	r.RunAs = slices.Clone(r.RunAs)
	r.Indices = cloneBytes(r.Indices)
	r.Applications = cloneBytes(r.Applications)
	r.Metadata = cloneBytes(r.Metadata)
	return r
}

// Role returns a copy of the custom role named name.
func (f *FSM) Role(name string) (Role, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.s.roles[name]
	if !ok {
		return Role{}, false
	}
	return cloneRole(r), true
}

// RoleCluster calls fn with the cluster privileges of each of names that is
// a custom role, under the read lock, without copying: fn must not keep or
// modify the slice. It returns the names that are not custom roles. It is
// for the privilege check every request makes.
func (f *FSM) RoleCluster(names []string, fn func(cluster []string)) (missing []string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, n := range names {
		if r, ok := f.s.roles[n]; ok {
			fn(r.Cluster)
		} else {
			missing = append(missing, n)
		}
	}
	return missing
}

// Roles returns copies of every custom role, sorted by name.
func (f *FSM) Roles() []Role {
	f.mu.RLock()
	out := make([]Role, 0, len(f.s.roles))
	for _, r := range f.s.roles {
		out = append(out, cloneRole(r))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// writeRoles writes the role records of v, sorted by name.
func (v *View) writeRoles(sw *snapshot.Writer) error {
	for _, name := range slices.Sorted(maps.Keys(v.s.roles)) {
		if err := sw.Write(kindRole, v.s.roles[name]); err != nil {
			return err
		}
	}
	return nil
}
