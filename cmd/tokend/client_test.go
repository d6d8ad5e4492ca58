package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

const cannedNodes = `{"leader":"node1","nodes":[
 {"id":"node1","raft_addr":"127.0.0.1:9300","http_addr":"127.0.0.1:9200","voter":true,"leader":true,
  "state":"leader","last_contact_ms":0,"applied_index":42,"role":"voter","lag_entries":0,"reachable":true,
  "build":{"version":"v1.4.0","hash":"0123456789abcdef0123","date":"2026-12-01T10:00:00Z"}},
 {"id":"node2","raft_addr":"127.0.0.1:9301","http_addr":"127.0.0.1:9201","voter":false,"leader":false,
  "state":"non-voter","last_contact_ms":35,"applied_index":40,"role":"replica","lag_entries":2,
  "lease_held":true,"lease_left_ms":4200,"reachable":true,
  "build":{"version":"dev","hash":"","date":""}},
 {"id":"node3","raft_addr":"127.0.0.1:9302","http_addr":"","voter":true,"leader":false,
  "state":"unknown","last_contact_ms":null,"applied_index":null,"role":"voter","lease_held":false,"reachable":false}]}`

const cannedUsers = `{
 "zoe":{"username":"zoe","roles":[],"full_name":null,"email":null,"metadata":{},"enabled":false},
 "alice":{"username":"alice","roles":["admin","monitor"],"full_name":"Alice A","email":"a@example.com","metadata":{},"enabled":true}}`

// fakeNode serves canned answers and records the last request.
type fakeNode struct {
	lastAuth string
	lastBody string
	lastPath string
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pw, _ := r.BasicAuth()
	f.lastAuth = user + ":" + pw
	b, _ := io.ReadAll(r.Body)
	f.lastBody = string(b)
	f.lastPath = r.Method + " " + r.URL.EscapedPath()
	w.Header().Set("Content-Type", "application/json")
	switch f.lastPath {
	case "GET /_tokend/cluster/nodes":
		io.WriteString(w, cannedNodes)
	case "POST /_tokend/cluster/transfer_leader":
		io.WriteString(w, `{"acknowledged":true,"leader":"node2"}`)
	case "GET /_security/user":
		io.WriteString(w, cannedUsers)
	case "PUT /_security/user/bob":
		io.WriteString(w, `{"created":true}`)
	case "GET /_security/user/bob":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{}`)
	case "GET /_security/user/alice":
		io.WriteString(w, `{"alice":{"username":"alice","roles":["superuser","monitor"],"full_name":"Alice A","email":null,"enabled":true}}`)
	case "PUT /_security/user/alice":
		io.WriteString(w, `{"created":false}`)
	case "DELETE /_security/user/ghost":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"found":false}`)
	default:
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"root_cause":[],"type":"security_exception","reason":"action is unauthorized for user [bob]"},"status":403}`)
	}
}

// runCLI runs tokend with args against the fake node and returns exit code,
// stdout and stderr.
func runCLI(t *testing.T, srv *httptest.Server, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: envMap("TOKEND_ADDR", srv.URL, "ELASTIC_PASSWORD", "changeme"),
	}
	code := run(e, args)
	return code, out.String(), errOut.String()
}

func TestNodes_PrintsAlignedTable(t *testing.T) {
	fake := &fakeNode{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	code, out, errOut := runCLI(t, srv, "", "nodes")
	want := "" +
		"ID     ROLE     RAFT ADDRESS    HTTP ADDRESS    STATE      LAST CONTACT  APPLIED  LAG  LEASE      REACHABLE  BUILD\n" +
		"node1  voter    127.0.0.1:9300  127.0.0.1:9200  leader     -             42       0    -          yes        v1.4.0@0123456789ab\n" +
		"node2  replica  127.0.0.1:9301  127.0.0.1:9201  non-voter  35ms ago      40       2    4.2s left  yes        dev\n" +
		"node3  voter    127.0.0.1:9302  -               unknown    never         -        -    none       no         -\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	if fake.lastAuth != "elastic:changeme" {
		t.Errorf("credentials = %q, want elastic with ELASTIC_PASSWORD", fake.lastAuth)
	}
}

func TestTransferLeader_NamedOrAnyVoter(t *testing.T) {
	fake := &fakeNode{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	code, out, errOut := runCLI(t, srv, "", "transfer-leader", "node2")
	if code != 0 || out != "leader is now node2\n" || fake.lastBody != `{"node_id":"node2"}` {
		t.Fatalf("exit %d, stdout %q, stderr %q, body %q", code, out, errOut, fake.lastBody)
	}
	code, _, _ = runCLI(t, srv, "", "transfer-leader", "--addr", srv.URL)
	if code != 0 || fake.lastBody != `{}` || fake.lastPath != "POST /_tokend/cluster/transfer_leader" {
		t.Fatalf("exit %d, body %q, path %q", code, fake.lastBody, fake.lastPath)
	}
	if code, _, _ := runCLI(t, srv, "", "transfer-leader", "a", "b"); code != 2 {
		t.Fatalf("two node IDs: exit %d, want 2", code)
	}
}

func TestNodes_JSONFlagPrintsServerDocument(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	code, out, _ := runCLI(t, srv, "", "nodes", "--json", "-u", "root:pw")
	var got, want any
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, output not JSON (%v): %s", code, err, out)
	}
	if err := json.Unmarshal([]byte(cannedNodes), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json = %s, want %s", out, cannedNodes)
	}
}

func TestUsersList_SortsByNameWithRolesAndFullName(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	code, out, _ := runCLI(t, srv, "", "users", "list")
	want := "" +
		"USERNAME  ROLES          ENABLED  FULL NAME\n" +
		"alice     admin,monitor  yes      Alice A\n" +
		"zoe                      no       \n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout:\n%q\nwant:\n%q", code, out, want)
	}
}

func TestUsersAdd_ReadsPasswordFromStdinWhenFlagMissing(t *testing.T) {
	fake := &fakeNode{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	code, out, errOut := runCLI(t, srv, "hunter22\n", "users", "add", "bob", "--roles", "a, b", "--email", "b@x")
	if code != 0 || out != "created user bob\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := `{"email":"b@x","password":"hunter22","roles":["a","b"]}`
	if fake.lastBody != want {
		t.Errorf("body = %s, want %s", fake.lastBody, want)
	}
}

func TestUsersAdd_ExistingUserNeedsUpdateAndKeepsItsRoles(t *testing.T) {
	fake := &fakeNode{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	code, _, errOut := runCLI(t, srv, "", "users", "add", "alice", "--password", "s3cret-pw")
	if code != 1 || !strings.Contains(errOut, "already exists") || fake.lastPath != "GET /_security/user/alice" {
		t.Fatalf("without --update: exit %d, stderr %q, last request %s", code, errOut, fake.lastPath)
	}
	code, out, errOut := runCLI(t, srv, "", "users", "add", "alice", "--update", "--password", "s3cret-pw")
	if code != 0 || out != "updated user alice\n" || errOut != "" {
		t.Fatalf("with --update: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := `{"full_name":"Alice A","password":"s3cret-pw","roles":["superuser","monitor"]}`
	if fake.lastBody != want {
		t.Errorf("body = %s, want %s (roles and full name kept)", fake.lastBody, want)
	}
	runCLI(t, srv, "", "users", "add", "alice", "--update", "--password", "s3cret-pw", "--roles", "")
	if want := `{"full_name":"Alice A","password":"s3cret-pw","roles":[]}`; fake.lastBody != want {
		t.Errorf("--roles given empty: body = %s, want %s", fake.lastBody, want)
	}
}

func TestUsersAdd_WarnsAboutUnknownRoles(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	code, _, errOut := runCLI(t, srv, "", "users", "add", "bob", "--password", "hunter22", "--roles", "superuser,supreuser")
	if code != 0 || !strings.Contains(errOut, "role [supreuser] is not a built-in role") || strings.Contains(errOut, "[superuser]") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestUsers_ServerErrorPrintsReasonAndExits1(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	code, out, errOut := runCLI(t, srv, "", "users", "disable", "carol")
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q, want 1 and nothing", code, out)
	}
	if want := "tokend users: action is unauthorized for user [bob] (HTTP 403)\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestUsersRm_UnknownUserIsAnError(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	code, _, errOut := runCLI(t, srv, "", "users", "rm", "ghost")
	if code != 1 || !strings.Contains(errOut, "user ghost not found") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
}

func TestRun_UsageMistakesExit2(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	for _, args := range [][]string{{}, {"bogus"}, {"remove"}, {"users"}, {"users", "add"}, {"nodes", "-u", "nocolon"}} {
		if code, _, errOut := runCLI(t, srv, "", args...); code != 2 || errOut == "" {
			t.Errorf("tokend %q: exit %d stderr %q, want 2 with a reason", args, code, errOut)
		}
	}
}

func TestRun_EveryCommandAnswersHelpWithItsUsage(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	for _, args := range [][]string{
		{"serve"}, {"nodes"}, {"remove"}, {"transfer-leader"}, {"version"}, {"recover"}, {"probe"},
		{"users"}, {"users", "add"}, {"users", "passwd"}, {"users", "rm"}, {"users", "list"}, {"users", "enable"}, {"users", "disable"},
		{"snapshot"}, {"snapshot", "save"}, {"snapshot", "restore"}, {"certs"}, {"certs", "ca"}, {"certs", "node"},
	} {
		for _, h := range []string{"-h", "--help"} {
			code, out, errOut := runCLI(t, srv, "", append(args, h)...)
			want := "Usage: tokend " + strings.Join(args, " ")
			if code != 0 || !strings.HasPrefix(out, want) || errOut != "" {
				t.Errorf("tokend %s %s: exit %d, stdout %.60q, stderr %q; want 0 and %q", strings.Join(args, " "), h, code, out, errOut, want)
			}
		}
	}
}

func TestRun_UnknownFlagNamesItselfAndPrintsTheUsage(t *testing.T) {
	srv := httptest.NewServer(&fakeNode{})
	defer srv.Close()
	for _, args := range [][]string{
		{"serve", "--bogus"}, {"nodes", "--bogus"}, {"users", "add", "bob", "--bogus"}, {"certs", "ca", "--bogus"},
		{"snapshot", "save", "f", "--bogus"}, {"recover", "--bogus"}, {"certs", "bogus"}, {"users"},
	} {
		code, _, errOut := runCLI(t, srv, "", args...)
		if code != 2 || !strings.Contains(errOut, "Usage: tokend "+args[0]) {
			t.Errorf("tokend %q: exit %d, stderr %q; want 2 and the usage", args, code, errOut)
		}
		if strings.HasPrefix(args[len(args)-1], "--") && !strings.Contains(errOut, "-bogus") {
			t.Errorf("tokend %q: the unknown flag is not named: %q", args, errOut)
		}
	}
}

func TestProbe_ExitsZeroWhenReadyAndOneWithTheReason(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != readyPath || r.Header.Get("Authorization") != "" {
			t.Errorf("probe asked %s with %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		if ready {
			io.WriteString(w, `{"status":"ok"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"root_cause":[],"type":"status_exception","reason":"not ready: no leader is elected"},"status":503}`)
	}))
	defer srv.Close()
	if code, out, errOut := runCLI(t, srv, "", "probe", "--addr", srv.URL); code != 0 || out != "ready\n" {
		t.Fatalf("ready node: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	ready = false
	if code, _, errOut := runCLI(t, srv, "", "probe", "--addr", srv.URL); code != 1 || !strings.Contains(errOut, "no leader is elected") {
		t.Fatalf("node without a leader: exit %d, stderr %q", code, errOut)
	}
	srv.Close()
	if code, _, errOut := runCLI(t, srv, "", "probe", "--addr", srv.URL); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Fatalf("node down: exit %d, stderr %q", code, errOut)
	}
}

func TestProbe_DefaultsToThisContainersNode(t *testing.T) {
	env := envMap("TOKEND_HTTP_ADDR", "0.0.0.0:9201", "TOKEND_TLS_CERT", "/certs/n.crt")
	if got := probeDefaultAddr(env); got != "https://127.0.0.1:9201" {
		t.Errorf("with TLS on 9201: %s", got)
	}
	if got := probeDefaultAddr(envMap()); got != "http://127.0.0.1:9200" {
		t.Errorf("without settings: %s", got)
	}
}
