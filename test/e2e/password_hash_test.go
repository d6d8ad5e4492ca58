package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// cost31Hash is a well-formed bcrypt hash of cost 31: one comparison
// against it would hold a CPU for days.
const cost31Hash = "$2a$31$beF1EpR5uFX3md/417gI3.Xsv7CZzmMHwrFSUH1V400rgImpx.aIy"

// The attack of issue 17 against a real process: a user with no roles sets
// a cost-31 hash as its own password, then pins bcrypt with Basic requests.
// The hash is refused, the user and others keep logging in, and the node
// stops promptly.
func TestPasswordHash_SelfServiceCost31IsRefusedOnARealNode(t *testing.T) {
	t.Parallel()
	node := startCluster(t, 1)[0]
	admin := testkit.Basic("elastic", superPassword)
	if r := do(t, node, "PUT", "/_security/user/mallory", `{"password":"mallory-pw","roles":[]}`, admin); r.Status != 200 {
		t.Fatalf("create mallory: %d %s", r.Status, r.Body)
	}
	mallory := testkit.Basic("mallory", "mallory-pw")
	body := fmt.Sprintf(`{"password_hash":%q}`, cost31Hash)
	for _, path := range []string{"/_security/user/_password", "/_security/user/mallory/_password"} {
		r := do(t, node, "POST", path, body, mallory)
		if r.Status != 400 || !strings.Contains(string(r.Body), "[password_hash] may only be set by a superuser") {
			t.Fatalf("self-service cost-31 hash on %s: %d %s", path, r.Status, r.Body)
		}
	}
	r := do(t, node, "POST", "/_security/user/mallory/_password", body, admin)
	if r.Status != 400 || !strings.Contains(string(r.Body), "bcrypt cost of at most [14]") {
		t.Fatalf("superuser cost-31 hash: %d %s", r.Status, r.Body)
	}
	// Nothing is pinned: every check answers at once, wrong or right.
	start := time.Now()
	for _, c := range []struct {
		user, pw string
		want     int
	}{{"mallory", "wrong-pw", 401}, {"mallory", "mallory-pw", 200}, {"elastic", superPassword, 200}} {
		if r := do(t, node, "GET", "/_security/_authenticate", "", testkit.Basic(c.user, c.pw)); r.Status != c.want {
			t.Fatalf("%s: %d, want %d: %s", c.user, r.Status, c.want, r.Body)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("three password checks took %v", d)
	}
	start = time.Now()
	if err := node.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stopping took %v", d)
	}
}
