package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/security/hasprivileges"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/putrole"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/putuser"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/clusterprivilege"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/indexprivilege"
)

// TestOfficialGoClient_RolesAndHasPrivileges drives the roles API with the
// official client's typed API: put role, get role, a user holding the
// custom role, has_privileges, and the 403 the client surfaces.
func TestOfficialGoClient_RolesAndHasPrivileges(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := typedClient(t, nodes, "elastic", superPassword, nil)

	put, err := admin.Security.PutRole("watchers").Request(&putrole.Request{
		Cluster: []clusterprivilege.ClusterPrivilege{clusterprivilege.Monitor},
		Indices: []types.IndicesPrivileges{{Names: []string{"logs-*"}, Privileges: []indexprivilege.IndexPrivilege{indexprivilege.Read}}},
	}).Do(ctx)
	if err != nil || !put.Role.Created {
		t.Fatalf("PutRole: %+v, %v", put, err)
	}
	got, err := admin.Security.GetRole().Name("watchers").Do(ctx)
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	role, ok := got["watchers"]
	if !ok || len(role.Cluster) != 1 || role.Cluster[0] != clusterprivilege.Monitor ||
		len(role.Indices) != 1 || role.Indices[0].Names[0] != "logs-*" {
		t.Fatalf("GetRole answer: %+v", got)
	}
	if _, err := admin.Security.GetRole().Do(ctx); err != nil {
		t.Fatalf("GetRole (all): %v", err)
	}

	pw := "walter-password"
	if _, err := admin.Security.PutUser("walter").Request(&putuser.Request{Password: &pw, Roles: []string{"watchers"}}).Do(ctx); err != nil {
		t.Fatalf("PutUser: %v", err)
	}
	walter := typedClient(t, nodes, "walter", pw, nil)
	has, err := walter.Security.HasPrivileges().Request(&hasprivileges.Request{
		Cluster: []clusterprivilege.ClusterPrivilege{clusterprivilege.Monitor, clusterprivilege.Managetoken},
	}).Do(ctx)
	if err != nil {
		t.Fatalf("HasPrivileges: %v", err)
	}
	if has.Username != "walter" || has.HasAllRequested || !has.Cluster["monitor"] || has.Cluster["manage_token"] {
		t.Fatalf("HasPrivileges answer: %+v", has)
	}
	if _, err := walter.Cluster.Health().Do(ctx); err != nil {
		t.Fatalf("Cluster.Health as a holder of monitor: %v", err)
	}
	_, err = walter.Security.PutRole("mine").Request(&putrole.Request{}).Do(ctx)
	var esErr *types.ElasticsearchError
	if !errors.As(err, &esErr) || esErr.Status != http.StatusForbidden || esErr.ErrorCause.Reason == nil ||
		*esErr.ErrorCause.Reason != "action [cluster:admin/xpack/security/role/put] is unauthorized for user [walter]" {
		t.Fatalf("PutRole as walter: %v", err)
	}
	if del, err := admin.Security.DeleteRole("watchers").Do(ctx); err != nil || !del.Found {
		t.Fatalf("DeleteRole: %+v, %v", del, err)
	}
	if _, err := walter.Cluster.Health().Do(ctx); !errors.As(err, &esErr) || esErr.Status != http.StatusForbidden {
		t.Fatalf("Cluster.Health once the role is gone: %v", err)
	}
}
