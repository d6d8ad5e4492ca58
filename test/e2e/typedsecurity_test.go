package e2e

import (
	"slices"
)

// nativeRealm is where users created through the user API authenticate.
var nativeRealm = realmDoc{Name: "default_native", Type: "native"}

// tokens covers GetToken (every grant), Authenticate with the tokens, and
// InvalidateToken by token, refresh token, username and realm.
func (r *typedRun) tokens() {
	anon := r.client(r.nodes[1:2], "", "", nil)
	pw, err := anon.GetToken(r.ctx, tokenQuery{Grant: "password", Username: "alice", Password: alicePW1})
	r.ok("GetToken password", err)
	if pw.Type != "Bearer" || pw.ExpiresIn != 1200 || pw.RefreshToken == nil || pw.Authentication.Username != "alice" {
		r.t.Fatalf("GetToken password: %+v", pw)
	}
	who, err := r.bearer(2, pw.AccessToken).Authenticate(r.ctx)
	r.ok("Authenticate with the token", err)
	if who.Username != "alice" || who.AuthenticationType != "token" || who.AuthenticationRealm != nativeRealm ||
		!slices.Equal(who.Roles, []string{"monitor"}) {
		r.t.Fatalf("Authenticate with alice's token: %+v", who)
	}
	cc, err := r.client(nil, "alice", alicePW1, nil).GetToken(r.ctx, tokenQuery{Grant: "client_credentials"})
	r.ok("GetToken client_credentials", err)
	if cc.AccessToken == "" || cc.RefreshToken != nil || cc.Authentication.Username != "alice" {
		r.t.Fatalf("GetToken client_credentials: %+v", cc)
	}
	r.whoIs(r.bearer(0, cc.AccessToken), "alice", "token")
	ref, err := anon.GetToken(r.ctx, tokenQuery{Grant: "refresh_token", RefreshToken: *pw.RefreshToken})
	r.ok("GetToken refresh_token", err)
	if ref.AccessToken == pw.AccessToken || ref.RefreshToken == nil || *ref.RefreshToken == *pw.RefreshToken {
		r.t.Fatalf("GetToken refresh_token: %+v", ref)
	}
	r.whoIs(r.bearer(1, ref.AccessToken), "alice", "token")

	r.invalidate(anon, invalidateQuery{Token: pw.AccessToken}, 1)
	_, err = r.bearer(2, pw.AccessToken).Authenticate(r.ctx)
	r.refused("Authenticate with an invalidated token", err, 401)
	r.invalidate(anon, invalidateQuery{RefreshToken: *ref.RefreshToken}, 1)
	_, err = anon.GetToken(r.ctx, tokenQuery{Grant: "refresh_token", RefreshToken: *ref.RefreshToken})
	r.refused("GetToken with an invalidated refresh token", err, 400)
	// Left to invalidate: the client_credentials token, the refreshed pair's
	// access token and the spent first refresh token.
	r.invalidate(r.admin, invalidateQuery{Username: "alice"}, 3)
	for i, tok := range []string{cc.AccessToken, ref.AccessToken} {
		_, err = r.bearer(i, tok).Authenticate(r.ctx)
		r.refused("Authenticate with a token invalidated by username", err, 401)
	}
	bob, err := anon.GetToken(r.ctx, tokenQuery{Grant: "password", Username: "bob", Password: bobPW1})
	r.ok("GetToken password bob", err)
	r.invalidate(r.client(nil, "bob", bobPW1, nil), invalidateQuery{RealmName: nativeRealm.Name}, 2)
	_, err = r.bearer(2, bob.AccessToken).Authenticate(r.ctx)
	r.refused("Authenticate with a token invalidated by realm", err, 401)
}

// invalidate checks that c's invalidation of q invalidates n tokens.
func (r *typedRun) invalidate(c typedAPI, q invalidateQuery, n int) {
	r.t.Helper()
	got, err := c.InvalidateToken(r.ctx, q)
	r.ok("InvalidateToken", err)
	if got.InvalidatedTokens != n || got.ErrorCount != 0 {
		r.t.Fatalf("InvalidateToken %+v: want %d invalidated, got %+v", q, n, got)
	}
}

// privileges covers GetUserPrivileges and HasPrivileges.
func (r *typedRun) privileges() {
	alice, bob := r.client(nil, "alice", alicePW1, nil), r.client(nil, "bob", bobPW1, nil)
	for _, c := range []struct {
		api  typedAPI
		want []string
	}{{alice, []string{"monitor"}}, {bob, []string{"manage_token"}}, {r.admin, []string{"all"}}} {
		got, err := c.api.UserPrivileges(r.ctx)
		r.ok("GetUserPrivileges", err)
		if !slices.Equal(got.Cluster, c.want) {
			r.t.Fatalf("GetUserPrivileges: want cluster %v, got %+v", c.want, got)
		}
	}
	has, err := alice.HasPrivileges(r.ctx, "monitor", "manage_token")
	r.ok("HasPrivileges alice", err)
	if has.Username != "alice" || has.HasAllRequested || len(has.Cluster) != 2 || !has.Cluster["monitor"] || has.Cluster["manage_token"] {
		r.t.Fatalf("HasPrivileges alice monitor, manage_token: %+v", has)
	}
	has, err = r.admin.HasPrivileges(r.ctx, "all", "manage_security", "manage_token")
	r.ok("HasPrivileges elastic", err)
	if has.Username != "elastic" || !has.HasAllRequested || !has.Cluster["all"] || !has.Cluster["manage_security"] {
		r.t.Fatalf("HasPrivileges elastic all, manage_security, manage_token: %+v", has)
	}
}

// passwords covers ChangePassword, the caller's own and another user's.
func (r *typedRun) passwords() {
	r.ok("ChangePassword own", r.client(nil, "alice", alicePW1, nil).ChangePassword(r.ctx, "", alicePW2))
	r.ok("ChangePassword bob's", r.admin.ChangePassword(r.ctx, "bob", bobPW2))
	for _, p := range r.nodes {
		one := []*proc{p}
		_, err := r.client(one, "alice", alicePW1, nil).Authenticate(r.ctx)
		r.refused("Authenticate with alice's old password", err, 401)
		_, err = r.client(one, "bob", bobPW1, nil).Authenticate(r.ctx)
		r.refused("Authenticate with bob's old password", err, 401)
		r.whoIs(r.client(one, "alice", alicePW2, nil), "alice", "realm")
		r.whoIs(r.client(one, "bob", bobPW2, nil), "bob", "realm")
	}
	err := r.client(nil, "alice", alicePW2, nil).ChangePassword(r.ctx, "bob", "stolen-pw")
	r.refused("ChangePassword of another user without the privilege", err, 403)
}

// enableDisableDelete covers DisableUser, EnableUser and DeleteUser.
func (r *typedRun) enableDisableDelete() {
	r.ok("DisableUser", r.admin.DisableUser(r.ctx, "alice"))
	for _, p := range r.nodes {
		_, err := r.client([]*proc{p}, "alice", alicePW2, nil).Authenticate(r.ctx)
		r.refused("Authenticate as a disabled user", err, 401)
	}
	users, err := r.admin.GetUsers(r.ctx, "alice")
	r.ok("GetUser disabled alice", err)
	if users["alice"].Enabled {
		r.t.Fatalf("GetUser after DisableUser: %+v", users)
	}
	r.ok("EnableUser", r.admin.EnableUser(r.ctx, "alice"))
	// A node that would refuse a password catches up with the leader first
	// (api/credentials Verifier.match), so every node accepts the enabled user
	// at once.
	for _, p := range r.nodes {
		r.whoIs(r.client([]*proc{p}, "alice", alicePW2, nil), "alice", "realm")
	}

	found, err := r.admin.DeleteUser(r.ctx, "bob")
	r.ok("DeleteUser bob", err)
	if !found {
		r.t.Fatal("DeleteUser bob: found false")
	}
	_, err = r.admin.DeleteUser(r.ctx, "bob")
	r.refused("DeleteUser bob again", err, 404)
	_, err = r.admin.GetUsers(r.ctx, "bob")
	r.refused("GetUser deleted bob", err, 404)
	for _, p := range r.nodes {
		_, err = r.client([]*proc{p}, "bob", bobPW2, nil).Authenticate(r.ctx)
		r.refused("Authenticate as a deleted user", err, 401)
	}
}
