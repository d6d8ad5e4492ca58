package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// hostileRoute is a JSON endpoint under test, with the credentials it needs.
type hostileRoute struct {
	method, path string
	hdr          []string
	field        string // a string field the endpoint accepts
}

// hostileRoutes are the endpoints that decode a JSON body.
func hostileRoutes() []hostileRoute {
	admin := basicAuth("elastic", "elastic-pw")
	return []hostileRoute{
		{"POST", "/_security/oauth2/token", nil, "grant_type"},
		{"DELETE", "/_security/oauth2/token", admin, "token"},
		{"PUT", "/_security/user/carol", admin, "password"},
		{"POST", "/_security/user/_password", admin, "password"},
	}
}

// wantEnvelope checks an Elasticsearch error envelope of the given status
// and type whose reason contains reason.
func (r resp) wantEnvelope(t *testing.T, status int, typ, reason string) {
	t.Helper()
	r.want(t, status)
	var env struct {
		Error struct {
			RootCause []struct{ Type, Reason string } `json:"root_cause"`
			Type      string                          `json:"type"`
			Reason    string                          `json:"reason"`
		} `json:"error"`
		Status int `json:"status"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("not an envelope: %v: %.200s", err, r.body)
	}
	e := env.Error
	if env.Status != status || e.Type != typ || !strings.Contains(e.Reason, reason) ||
		len(e.RootCause) != 1 || e.RootCause[0].Type != typ || e.RootCause[0].Reason != e.Reason {
		t.Fatalf("want %d %s containing %q, got %.300s", status, typ, reason, r.body)
	}
}

func TestHostileBodies_AreRefusedWithAParseException(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	for _, rt := range hostileRoutes() {
		f := rt.field
		cases := []struct{ name, body, reason string }{
			{"unknown field", `{"` + f + `":"x","colour":"blue"}`, "unknown field [colour]"},
			{"duplicate key", `{"` + f + `":"password","` + f + `":"client_credentials"}`, "duplicate field [" + f + "]"},
			{"nested duplicate key", `{"` + f + `":"x","metadata":{"k":1,"k":2}}`, "duplicate field [k]"},
			{"number for a string", `{"` + f + `":5}`, "failed to parse field [" + f + "]: expected a string but found number"},
			{"object for a string", `{"` + f + `":{"a":1}}`, "failed to parse field [" + f + "]: expected a string but found object"},
			{"array body", `["` + f + `"]`, "request body must be a JSON object"},
			{"non-UTF-8", "{\"" + f + "\":\"\xff\xfe\"}", "request body is not valid UTF-8"},
			{"lone surrogate bytes", "{\"" + f + "\":\"\xed\xa0\x80\"}", "request body is not valid UTF-8"},
			{"trailing garbage", `{"` + f + `":"x"} junk`, "request body has data after the JSON object"},
			{"second object", `{"` + f + `":"x"}{}`, "request body has data after the JSON object"},
			{"truncated", `{"` + f + `":"x`, "request body is not valid JSON"},
			{"whitespace only", " \n\t ", "request body is required"},
			{"deep nesting", `{"` + f + `":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
				"request body is nested too deeply"},
		}
		for _, c := range cases {
			t.Run(rt.method+" "+rt.path+" "+c.name, func(t *testing.T) {
				n.do(rt.method, rt.path, c.body, rt.hdr...).wantEnvelope(t, 400, "parse_exception", c.reason)
			})
		}
		t.Run(rt.method+" "+rt.path+" empty body", func(t *testing.T) {
			n.do(rt.method, rt.path, "", rt.hdr...).wantEnvelope(t, 400, "parse_exception", "request body is required")
		})
		t.Run(rt.method+" "+rt.path+" over the body limit", func(t *testing.T) {
			body := `{"` + f + `":"` + strings.Repeat("a", maxBodyBytes) + `"}`
			n.do(rt.method, rt.path, body, rt.hdr...).wantEnvelope(t, 413, "content_too_long_exception",
				"request body is larger than 1048576 bytes")
		})
	}
}

// Values that fit in the body limit but could never be meant are refused:
// a user whose details approach the body limit would also exceed the
// snapshot's record size and stop the cluster from snapshotting.
func TestHostileBodies_AbsurdValuesWithinTheLimit(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	big := strings.Repeat("a", 900<<10)
	for name, body := range map[string]string{
		"full_name": `{"password":"long-enough","roles":[],"full_name":"` + big + `"}`,
		"roles":     `{"password":"long-enough","roles":["` + big + `"]}`,
		"metadata":  `{"password":"long-enough","roles":[],"metadata":{"k":"` + big + `"}}`,
		"many roles": `{"password":"long-enough","roles":[` +
			strings.TrimSuffix(strings.Repeat(`"r",`, 60000), ",") + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			n.do("PUT", "/_security/user/"+strings.Repeat("u", maxUsernameLength), body, admin...).wantEnvelope(t, 400,
				"action_request_validation_exception", "roles, full_name, email and metadata must together be at most [262144] bytes")
		})
	}
	n.do("PUT", "/_security/user/carol", `{"password":"`+big+`","roles":[]}`, admin...).wantEnvelope(t, 400,
		"action_request_validation_exception", "passwords must be at most [72] bytes long")
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"`+big+`"}`).wantOAuth(t, "unsupported_grant_type",
		"Validation Failed: 1: grant_type only supports the values: [password, refresh_token, client_credentials];")
	n.do("DELETE", "/_security/oauth2/token", `{"token":"`+big+`"}`).want(t, 404)
	ok := strings.Repeat("a", maxUserDetailBytes-100)
	n.do("PUT", "/_security/user/carol", `{"password":"long-enough","roles":[],"full_name":"`+ok+`"}`, admin...).want(t, 200)
}
