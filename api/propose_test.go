package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// batchBody encodes cmds as a follower posts them to proposePath.
func batchBody(t *testing.T, cmds ...fsm.Command) string {
	t.Helper()
	q := cluster.ProposeRequest{}
	for _, c := range cmds {
		e, err := fsm.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		q.Entries = append(q.Entries, e)
	}
	b, err := msgpack.Marshal(&q)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCreate is a token creation for alice with a fresh token and request ID.
func newCreate() (*fsm.CreateToken, string) {
	tok, d := credentials.NewToken(credentials.AccessPrefix)
	return &fsm.CreateToken{Meta: fsm.Meta{ID: cluster.NewRequestID()}, Access: d, User: "alice", Realm: fsm.NativeRealm,
		Lifetime: time.Minute.Milliseconds()}, tok
}

func TestProposeRoute_NodesOnlyAndTokenCreationsOnly(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	newFollower(t, leader)
	asNode := func(id, body string) []string {
		return append([]string{"Content-Type", msgpackType}, leader.proofFor(id, "POST", proposePath, body)...)
	}
	post := func(id, body string) resp { return leader.do("POST", proposePath, body, asNode(id, body)...) }
	c, tok := newCreate()
	r := post("n2", batchBody(t, c)).want(t, 200)
	var answer cluster.ProposeResponse
	if err := msgpack.Unmarshal(r.body, &answer); err != nil || len(answer.Results) != 1 || answer.Results[0].Status != fsm.OK {
		t.Fatalf("answer %+v, %v", answer, err)
	}
	rec, ok := leader.node.state.AccessToken(fsm.DigestOf(tok))
	if !ok {
		t.Fatal("the batch's token was not committed")
	}
	if drift := time.Now().UnixMilli() - rec.Created; drift < 0 || drift > 10_000 {
		t.Fatalf("token created at %d: not stamped with the leader's clock", rec.Created)
	}

	before := leader.node.logLen()
	c2, _ := newCreate()
	leader.do("POST", proposePath, batchBody(t, c2), "Content-Type", msgpackType, headerForwarded, "n2").
		wantError(t, 403, "security_exception", "action [cluster:admin/tokend/propose] is reserved to cluster nodes")
	leader.do("POST", proposePath, batchBody(t, c2), asNode("n2", batchBody(t, c))...).
		wantError(t, 401, "security_exception", "invalid node authentication: node proof does not match")
	post("n9", batchBody(t, c2)).wantError(t, 400, "illegal_argument_exception", "node [n9] is not a member of the cluster")
	admin := &fsm.PutUser{Meta: fsm.Meta{ID: cluster.NewRequestID()}, User: fsm.User{Username: "mallory", Hash: []byte("x"), Roles: []string{"superuser"}, Enabled: true}}
	post("n2", batchBody(t, c2, admin)).wantError(t, 400, "illegal_argument_exception", "command 1 of the batch is not a token creation")
	post("n2", "\xc1\xc1").wantError(t, 400, "parse_exception", "request body is not a batch of commands")
	post("n2", batchBody(t)).wantError(t, 400, "illegal_argument_exception", "a batch holds 1 to 256 commands, not 0")
	// A JSON body is not a batch either.
	leader.do("POST", proposePath, `{"e":[]}`, leader.proofFor("n2", "POST", proposePath, `{"e":[]}`)...).
		wantError(t, 400, "parse_exception", "request body is not a batch of commands")
	if after := leader.node.logLen(); after != before {
		t.Fatalf("refused batches reached the log: %d entries, then %d", before, after)
	}
	if _, ok := leader.node.state.User("mallory"); ok {
		t.Fatal("a user was created through the batch route")
	}
}

func TestProposeRoute_WithoutANodeCredentialIsRefused(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, func(c *Config) { c.Credential = nil })
	c, _ := newCreate()
	leader.do("POST", proposePath, batchBody(t, c), "Content-Type", msgpackType, headerForwarded, "n1").
		wantError(t, 403, "security_exception", "action [cluster:admin/tokend/propose] is reserved to cluster nodes")
	body := batchBody(t, c)
	leader.do("POST", proposePath, body, append([]string{"Content-Type", msgpackType}, leader.proofFor("n1", "POST", proposePath, body)...)...).
		wantError(t, 401, "security_exception", "this node has no node credential yet")
}

func TestProposeRoute_OnAFollowerIs503(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	c, _ := newCreate()
	body := batchBody(t, c)
	follower.do("POST", proposePath, body, append([]string{"Content-Type", msgpackType}, follower.proofFor("n1", "POST", proposePath, body)...)...).
		wantError(t, 503, "not_master_exception", "this node lost leadership during the request")
}

// A follower checks a password against its own state, which may lag; the
// leader's state machine then refuses the token if the password changed.
func TestGrant_OnALaggingFollowerAnOldPasswordGetsNoToken(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	leader.propose(&fsm.SetPassword{Username: "alice", Hash: mustUser(t, leader, "monty").Hash})
	follower.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).
		wantError(t, 401, "security_exception", "unable to authenticate user [alice] for REST request [/_security/oauth2/token]")
	follower.do("POST", "/_security/oauth2/token", grantBody("alice", "monty-pw")).want(t, 200)
}

// Without the node credential or a cluster CA a follower cannot send
// batches: it proxies grants to the leader instead.
func TestGrant_FollowerWithoutNodeCredentialsProxiesToTheLeader(t *testing.T) {
	t.Parallel()
	noSecret := func(c *Config) { c.Credential = nil }
	leader := newLeader(t, noSecret)
	follower := startNode(t, newFakeFollower("n2", leader.node), noSecret)
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: follower.srv.cfg.HTTPAdvertise})
	if err := follower.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	r := follower.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).want(t, 200)
	if r.header.Get(headerServedBy) != "n1" {
		t.Fatalf("headers %v: not served by the leader", r.header)
	}
}

func TestGrant_ConcurrentGrantsShareRaftEntries(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	before := leader.node.logLen()
	const grants = 40
	var wg sync.WaitGroup
	for range grants {
		wg.Go(func() {
			follower.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).want(t, 200)
		})
	}
	wg.Wait()
	entries := leader.node.logLen() - before
	if entries == 0 || entries > grants {
		t.Fatalf("%d grants took %d log entries", grants, entries)
	}
	t.Logf("%d concurrent grants took %d log entries", grants, entries)
}
