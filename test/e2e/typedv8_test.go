package e2e

import (
	"context"
	"errors"
	"net/http"

	es8 "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/changepassword"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/gettoken"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/hasprivileges"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/invalidatetoken"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/putuser"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/accesstokengranttype"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/clusterprivilege"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/healthstatus"
)

// typedV8 is typedAPI over go-elasticsearch/v8's typed client in
// compatibility mode, as 8.x users run it against 7.x servers (its typed
// requests send compatible-with=8 headers).
type typedV8 struct{ c *es8.TypedClient }

// newTypedV8 is newTypedAPI for go-elasticsearch/v8.
func newTypedV8(addrs []string, user, pw string, h http.Header) (typedAPI, error) {
	c, err := es8.NewTypedClient(es8.Config{Addresses: addrs, Username: user, Password: pw, Header: h,
		EnableCompatibilityMode: true})
	return typedV8{c}, err
}

func (v typedV8) Ping(ctx context.Context) (bool, error) { return v.c.Ping().Do(ctx) }

func (v typedV8) Info(ctx context.Context) (infoDoc, error) {
	return recode[infoDoc](v.c.Info().Do(ctx))
}

func (v typedV8) Health(ctx context.Context, n string) (healthDoc, error) {
	return recode[healthDoc](v.c.Cluster.Health().WaitForStatus(healthstatus.Green).WaitForNodes(n).Timeout("30s").Do(ctx))
}

func (v typedV8) NodesHTTP(ctx context.Context, selector string) (nodesDoc, error) {
	q := v.c.Nodes.Info().Metric("http")
	if selector != "" {
		q = q.NodeId(selector)
	}
	return recode[nodesDoc](q.Do(ctx))
}

func (v typedV8) GetToken(ctx context.Context, q tokenQuery) (tokenDoc, error) {
	return recode[tokenDoc](v.c.Security.GetToken().Request(&gettoken.Request{
		GrantType: &accesstokengranttype.AccessTokenGrantType{Name: q.Grant},
		Username:  orNil(q.Username), Password: orNil(q.Password), RefreshToken: orNil(q.RefreshToken),
	}).Do(ctx))
}

func (v typedV8) Authenticate(ctx context.Context) (whoDoc, error) {
	return recode[whoDoc](v.c.Security.Authenticate().Do(ctx))
}

func (v typedV8) InvalidateToken(ctx context.Context, q invalidateQuery) (invalidatedDoc, error) {
	return recode[invalidatedDoc](v.c.Security.InvalidateToken().Request(&invalidatetoken.Request{
		Token: orNil(q.Token), RefreshToken: orNil(q.RefreshToken), Username: orNil(q.Username), RealmName: orNil(q.RealmName),
	}).Do(ctx))
}

func (v typedV8) PutUser(ctx context.Context, name string, q userQuery) (bool, error) {
	res, err := v.c.Security.PutUser(name).Request(&putuser.Request{Username: &name, Password: orNil(q.Password),
		Roles: q.Roles, FullName: orNil(q.FullName), Email: orNil(q.Email), Metadata: q.Metadata}).Do(ctx)
	return err == nil && res.Created, err
}

func (v typedV8) GetUsers(ctx context.Context, names ...string) (map[string]userDoc, error) {
	q := v.c.Security.GetUser()
	if len(names) > 0 {
		q = q.Username(names...)
	}
	return recode[map[string]userDoc](q.Do(ctx))
}

func (v typedV8) ChangePassword(ctx context.Context, name, password string) error {
	q := v.c.Security.ChangePassword().Request(&changepassword.Request{Password: &password})
	if name != "" {
		q = q.Username(name)
	}
	_, err := q.Do(ctx)
	return err
}

func (v typedV8) EnableUser(ctx context.Context, name string) error {
	_, err := v.c.Security.EnableUser(name).Do(ctx)
	return err
}

func (v typedV8) DisableUser(ctx context.Context, name string) error {
	_, err := v.c.Security.DisableUser(name).Do(ctx)
	return err
}

func (v typedV8) DeleteUser(ctx context.Context, name string) (bool, error) {
	res, err := v.c.Security.DeleteUser(name).Do(ctx)
	return err == nil && res.Found, err
}

func (v typedV8) UserPrivileges(ctx context.Context) (privilegesDoc, error) {
	return recode[privilegesDoc](v.c.Security.GetUserPrivileges().Do(ctx))
}

func (v typedV8) HasPrivileges(ctx context.Context, cluster ...string) (hasPrivilegesDoc, error) {
	q := &hasprivileges.Request{}
	for _, name := range cluster {
		q.Cluster = append(q.Cluster, clusterprivilege.ClusterPrivilege{Name: name})
	}
	return recode[hasPrivilegesDoc](v.c.Security.HasPrivileges().Request(q).Do(ctx))
}

func (v typedV8) Status(err error) int {
	var e *types.ElasticsearchError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
