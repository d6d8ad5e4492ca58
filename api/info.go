package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// acknowledged is the answer to a membership change.
var acknowledged = map[string]bool{"acknowledged": true}

// info serves GET and HEAD /: Elasticsearch's info document, which the
// official clients read in ping() and info().
func (s *clusterRoutes) info(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authenticate(r); err != nil {
		return err
	}
	uuid := s.state.ClusterUUID()
	if uuid == "" {
		uuid = "_na_"
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"name":         s.cfg.NodeID,
		"cluster_name": s.cfg.ClusterName,
		"cluster_uuid": uuid,
		"version": map[string]any{
			"number":                              s.cfg.Version,
			"build_flavor":                        "default",
			"build_type":                          "tokend",
			"build_hash":                          orUnknown(s.cfg.Build.Hash),
			"build_date":                          orUnknown(s.cfg.Build.Date),
			"build_snapshot":                      false,
			"lucene_version":                      "8.11.1",
			"minimum_wire_compatibility_version":  "6.8.0",
			"minimum_index_compatibility_version": "6.0.0-beta1",
		},
		"tagline": "You Know, for Search",
	})
	return nil
}
