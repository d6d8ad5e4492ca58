package api

import (
	"net/http"
	"strings"
)

// writeNamed answers GET of a named resource as Elasticsearch does for
// users and roles: every one (all) when names is empty, else each of the
// comma-separated names that one finds (found false: there is none), and
// {} with 404 when none was found.
func writeNamed[V any](w http.ResponseWriter, r *http.Request, names string, all func() map[string]V,
	one func(name string) (v V, found bool, err error)) error {
	if names == "" {
		writeJSON(w, r, http.StatusOK, all())
		return nil
	}
	out := map[string]V{}
	for _, name := range strings.Split(names, ",") {
		v, found, err := one(name)
		if err != nil {
			return err
		}
		if found {
			out[name] = v
		}
	}
	status := http.StatusOK
	if len(out) == 0 {
		status = http.StatusNotFound // Elasticsearch answers {} with 404
	}
	writeJSON(w, r, status, out)
	return nil
}
