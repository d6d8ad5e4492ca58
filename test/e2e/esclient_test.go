package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	elasticsearch "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/gettoken"
	"github.com/elastic/go-elasticsearch/v8/typedapi/security/invalidatetoken"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/accesstokengranttype"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/healthstatus"
)

// typedClient builds the official typed client against the given nodes.
func typedClient(t *testing.T, nodes []*proc, user, pw string, h http.Header) *elasticsearch.TypedClient {
	t.Helper()
	var addrs []string
	for _, p := range nodes {
		addrs = append(addrs, p.URL())
	}
	es, err := elasticsearch.NewTypedClient(elasticsearch.Config{
		Addresses: addrs, Username: user, Password: pw, Header: h,
		EnableCompatibilityMode: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestOfficialGoClient_TokenLifecycleAgainstCluster drives the cluster with
// github.com/elastic/go-elasticsearch's typed API, as client developers will:
// the client's product check, JSON decoding and compatibility headers must
// all accept tokend's answers.
func TestOfficialGoClient_TokenLifecycleAgainstCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	anon := typedClient(t, nodes[1:2], "", "", nil)
	user, pw := "elastic", superPassword
	tok, err := anon.Security.GetToken().Request(&gettoken.Request{
		GrantType: &accesstokengranttype.Password, Username: &user, Password: &pw,
	}).Do(ctx)
	if err != nil {
		t.Fatalf("GetToken (password grant): %v", err)
	}
	if tok.Type != "Bearer" || tok.ExpiresIn != 1200 || tok.RefreshToken == nil || tok.Authentication.Username != "elastic" {
		t.Fatalf("GetToken answer: %+v", tok)
	}

	withToken := typedClient(t, nodes[2:3], "", "", http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
	who, err := withToken.Security.Authenticate().Do(ctx)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if who.Username != "elastic" || who.AuthenticationType != "token" || who.AuthenticationRealm.Name != "reserved" {
		t.Fatalf("Authenticate answer: %+v", who)
	}
	health, err := withToken.Cluster.Health().Do(ctx)
	if err != nil {
		t.Fatalf("Cluster.Health: %v", err)
	}
	if health.Status != healthstatus.Green || health.NumberOfNodes != 3 {
		t.Fatalf("health: status %v, %d nodes", health.Status, health.NumberOfNodes)
	}

	refreshed, err := anon.Security.GetToken().Request(&gettoken.Request{
		GrantType: &accesstokengranttype.Refreshtoken, RefreshToken: tok.RefreshToken,
	}).Do(ctx)
	if err != nil || refreshed.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v %+v", err, refreshed)
	}

	admin := typedClient(t, nodes, "elastic", superPassword, nil)
	inv, err := admin.Security.InvalidateToken().Request(&invalidatetoken.Request{Token: &tok.AccessToken}).Do(ctx)
	if err != nil || inv.InvalidatedTokens != 1 || inv.ErrorCount != 0 {
		t.Fatalf("InvalidateToken: %v %+v", err, inv)
	}

	_, err = withToken.Security.Authenticate().Do(ctx)
	var esErr *types.ElasticsearchError
	if !errors.As(err, &esErr) || esErr.Status != 401 || esErr.ErrorCause.Type != "security_exception" {
		t.Fatalf("Authenticate with an invalidated token: %v", err)
	}
	if esErr.ErrorCause.Reason == nil || !strings.Contains(*esErr.ErrorCause.Reason, "token expired") {
		t.Fatalf("reason: %v", esErr.ErrorCause.Reason)
	}
}
