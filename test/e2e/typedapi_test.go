package e2e

import (
	"context"
	"encoding/json"
	"net/http"
)

// typedAPI is what the typed-client coverage drives, implemented once per
// major version of github.com/elastic/go-elasticsearch (typedv8_test.go,
// typedv9_test.go). Each method is one call of that version's typed API;
// its answer, as the typed client decoded it, is re-encoded into the
// version-neutral documents below, so one scenario checks both versions.
type typedAPI interface {
	Ping(ctx context.Context) (bool, error)
	Info(ctx context.Context) (infoDoc, error)
	// Health waits for a green cluster of n nodes.
	Health(ctx context.Context, n string) (healthDoc, error)
	// NodesHTTP asks for the http metric of the nodes selector ("" for none).
	NodesHTTP(ctx context.Context, selector string) (nodesDoc, error)
	GetToken(ctx context.Context, q tokenQuery) (tokenDoc, error)
	Authenticate(ctx context.Context) (whoDoc, error)
	InvalidateToken(ctx context.Context, q invalidateQuery) (invalidatedDoc, error)
	// PutUser sends the name in the body's username too, as Elasticsearch
	// 7's clients do.
	PutUser(ctx context.Context, name string, q userQuery) (created bool, err error)
	// GetUsers gets the named users, or all of them without a name.
	GetUsers(ctx context.Context, names ...string) (map[string]userDoc, error)
	// ChangePassword changes name's password, the caller's own for "".
	ChangePassword(ctx context.Context, name, password string) error
	EnableUser(ctx context.Context, name string) error
	DisableUser(ctx context.Context, name string) error
	DeleteUser(ctx context.Context, name string) (found bool, err error)
	UserPrivileges(ctx context.Context) (privilegesDoc, error)
	HasPrivileges(ctx context.Context, cluster ...string) (hasPrivilegesDoc, error)
	// Status is the HTTP status of a typed client's error answer, or 0
	// when err is not one.
	Status(err error) int
}

// newTypedAPI builds one version's typed client against addrs with Basic
// credentials (none for "") and extra headers.
type newTypedAPI func(addrs []string, user, pw string, h http.Header) (typedAPI, error)

// tokenQuery is a get token request; empty strings are left out.
type tokenQuery struct {
	Grant, Username, Password, RefreshToken string
}

// invalidateQuery is an invalidate token request; empty strings are left out.
type invalidateQuery struct {
	Token, RefreshToken, Username, RealmName string
}

// userQuery is a put user request; an empty password is left out.
type userQuery struct {
	Password, FullName, Email string
	Roles                     []string
	Metadata                  map[string]json.RawMessage
}

// infoDoc is GET /.
type infoDoc struct {
	Name        string `json:"name"`
	ClusterName string `json:"cluster_name"`
	Tagline     string `json:"tagline"`
	Version     struct {
		Number      string `json:"number"`
		BuildFlavor string `json:"build_flavor"`
		BuildHash   string `json:"build_hash"`
	} `json:"version"`
}

// healthDoc is GET /_cluster/health.
type healthDoc struct {
	ClusterName   string `json:"cluster_name"`
	Status        string `json:"status"`
	NumberOfNodes int    `json:"number_of_nodes"`
	TimedOut      bool   `json:"timed_out"`
}

// nodesDoc is GET /_nodes/http.
type nodesDoc struct {
	ClusterName string `json:"cluster_name"`
	Nodes       map[string]struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
		HTTP  struct {
			PublishAddress string `json:"publish_address"`
		} `json:"http"`
	} `json:"nodes"`
}

// tokenDoc is a get token answer.
type tokenDoc struct {
	AccessToken    string  `json:"access_token"`
	Type           string  `json:"type"`
	ExpiresIn      int     `json:"expires_in"`
	RefreshToken   *string `json:"refresh_token"`
	Authentication whoDoc  `json:"authentication"`
}

// realmDoc names a realm.
type realmDoc struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// whoDoc is GET /_security/_authenticate.
type whoDoc struct {
	Username            string   `json:"username"`
	Roles               []string `json:"roles"`
	Enabled             bool     `json:"enabled"`
	AuthenticationType  string   `json:"authentication_type"`
	AuthenticationRealm realmDoc `json:"authentication_realm"`
}

// invalidatedDoc is an invalidate token answer.
type invalidatedDoc struct {
	InvalidatedTokens           int `json:"invalidated_tokens"`
	PreviouslyInvalidatedTokens int `json:"previously_invalidated_tokens"`
	ErrorCount                  int `json:"error_count"`
}

// userDoc is one user of GET /_security/user.
type userDoc struct {
	Username string                     `json:"username"`
	Roles    []string                   `json:"roles"`
	FullName *string                    `json:"full_name"`
	Email    *string                    `json:"email"`
	Metadata map[string]json.RawMessage `json:"metadata"`
	Enabled  bool                       `json:"enabled"`
}

// privilegesDoc is GET /_security/user/_privileges.
type privilegesDoc struct {
	Cluster []string `json:"cluster"`
}

// hasPrivilegesDoc is POST /_security/user/_has_privileges.
type hasPrivilegesDoc struct {
	Username        string          `json:"username"`
	HasAllRequested bool            `json:"has_all_requested"`
	Cluster         map[string]bool `json:"cluster"`
}

// recode re-encodes a typed client's decoded answer into a neutral
// document. A field the typed client failed to decode is missing here.
func recode[T any](v any, err error) (T, error) {
	var out T
	if err != nil {
		return out, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}

// orNil is nil for "", else &s: the typed requests leave nil fields out.
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
