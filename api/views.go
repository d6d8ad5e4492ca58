package api

import (
	"encoding/json"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
)

// userJSON is a user as the get user API shows it.
type userJSON struct {
	Username string          `json:"username"`
	Roles    []string        `json:"roles"`
	FullName *string         `json:"full_name"`
	Email    *string         `json:"email"`
	Metadata json.RawMessage `json:"metadata"`
	Enabled  bool            `json:"enabled"`
}

// authJSON is the _authenticate answer, also embedded in token answers.
type authJSON struct {
	userJSON
	AuthenticationRealm fsm.Realm `json:"authentication_realm"`
	LookupRealm         fsm.Realm `json:"lookup_realm"`
	AuthenticationType  string    `json:"authentication_type"`
}

// userView renders u; empty names are null and reserved users are marked in
// their metadata, as in Elasticsearch.
func userView(u fsm.User) userJSON {
	v := userJSON{Username: u.Username, Roles: u.Roles, Metadata: u.Metadata, Enabled: u.Enabled}
	if v.Roles == nil {
		v.Roles = []string{}
	}
	if u.FullName != "" {
		v.FullName = &u.FullName
	}
	if u.Email != "" {
		v.Email = &u.Email
	}
	if len(v.Metadata) == 0 {
		v.Metadata = json.RawMessage(`{}`)
		if u.Realm == fsm.ReservedRealm {
			v.Metadata = json.RawMessage(`{"_reserved":true}`)
		}
	}
	return v
}

// authView renders an authenticated user.
func authView(u fsm.User, realm fsm.Realm, authType string) authJSON {
	return authJSON{userJSON: userView(u), AuthenticationRealm: realm, LookupRealm: realm, AuthenticationType: authType}
}

// authenticateMe serves GET /_security/_authenticate.
func (s *tokenRoutes) authenticateMe(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	if !wantsPretty(r) {
		if body, ok := s.answers.body(p); ok {
			writeJSONBody(w, http.StatusOK, body)
			return nil
		}
	}
	writeJSON(w, r, http.StatusOK, authView(p.user, p.realm, p.authType))
	return nil
}
