package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// serverMetadata is the RFC 8414 authorization server metadata document.
type serverMetadata struct {
	Issuer                   string   `json:"issuer"`
	TokenEndpoint            string   `json:"token_endpoint"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	ResponseTypes            []string `json:"response_types_supported"`
	GrantTypes               []string `json:"grant_types_supported"`
	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported          []string `json:"scopes_supported"`
}

// metadata serves GET /.well-known/oauth-authorization-server (RFC 8414)
// without credentials. The issuer is this node's address as the client
// reached it (Host), so every node names itself. tokend has no
// authorization endpoint: response_types_supported is empty. The token
// endpoint takes Elasticsearch's JSON body, not a form; "none" is the
// password and refresh grants, client_secret_basic a Basic caller.
func (s *tokenRoutes) metadata(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	writeJSON(w, r, http.StatusOK, serverMetadata{
		Issuer:                   base,
		TokenEndpoint:            base + "/_security/oauth2/token",
		IntrospectionEndpoint:    base + introspectPath,
		RevocationEndpoint:       base + revokePath,
		ResponseTypes:            []string{},
		GrantTypes:               []string{"password", "refresh_token", "client_credentials"},
		TokenAuthMethods:         []string{"none", "client_secret_basic"},
		IntrospectionAuthMethods: []string{"client_secret_basic", "bearer"},
		RevocationAuthMethods:    []string{"none"},
		ScopesSupported:          []string{introspectScope},
	})
	return nil
}
