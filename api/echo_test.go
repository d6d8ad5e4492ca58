package api

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tokend/tokend/test/testkit"
)

func TestEchoed_CapsAtACharacterBoundary(t *testing.T) {
	t.Parallel()
	short := strings.Repeat("a", maxEchoBytes)
	if got := echoed(short); got != short {
		t.Fatalf("a value of %d bytes was changed: %q", maxEchoBytes, got)
	}
	if got := echoed(short + "b"); got != short+"..." {
		t.Fatalf("one byte too many: %q", got)
	}
	wide := strings.Repeat("é", maxEchoBytes) // two bytes each
	got := echoed("a" + wide)
	if !utf8.ValidString(got) || len(got) > maxEchoBytes+3 || !strings.HasSuffix(got, "...") {
		t.Fatalf("cut inside a character or too long: %d bytes %q", len(got), got)
	}
}

// Huge values a client sends (a username of hundreds of kilobytes, a long
// query string, a long name in the path) come back in 401 and 404 reasons,
// and go to the log, cut to maxEchoBytes.
func TestErrors_EchoHugeClientValuesCapped(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	n := newLeader(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	huge := strings.Repeat("u", 900<<10)
	capped := strings.Repeat("u", maxEchoBytes) + "..."
	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"password","username":%q,"password":"some-pw"}`, huge)).
		wantError(t, 401, "security_exception",
			"unable to authenticate user ["+capped+"] for REST request [/_security/oauth2/token]")
	basicName := huge[:600<<10] // its Basic header stays under the 1 MB header limit
	n.do("GET", "/_security/_authenticate", "", basicAuth(basicName, "some-pw")...).wantError(t, 401, "security_exception",
		"unable to authenticate user ["+capped+"] for REST request [/_security/_authenticate]")
	path := "/_security/_authenticate?q=" + huge[:600<<10]
	n.do("GET", path, "").wantError(t, 401, "security_exception",
		"missing authentication credentials for REST request ["+echoed(path)+"]")
	n.do("PUT", "/_security/user/"+huge[:600<<10]+"/_password", `{"password":"long-enough"}`, basicAuth("elastic", "elastic-pw")...).
		wantError(t, 404, "resource_not_found_exception", "user ["+capped+"] does not exist")
	if len(logs.Bytes()) > 64<<10 || strings.Contains(logs.String(), capped[:maxEchoBytes]+"u") {
		t.Fatalf("the log quotes a huge value in full (%d bytes)", len(logs.Bytes()))
	}
}
