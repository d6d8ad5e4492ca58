// Command bigstate writes a tokend snapshot file holding a large state: a
// user and n access tokens of the real format, for measuring how long a
// node joining a cluster of that size takes to serve (scripts/bench.sh
// restores it offline into the first node). It prints a few of the tokens'
// plaintexts, one per line, to -tokens so the measurement can use them.
//
// Usage:
//
//	go run ./scripts/bench/bigstate -n 1000000 -out state.snapshot -tokens tokens.txt
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tokend/tokend/fsm"
)

// sampleTokens is how many token plaintexts go to -tokens.
const sampleTokens = 100

func main() {
	n := flag.Int("n", 1_000_000, "access tokens in the state")
	out := flag.String("out", "state.snapshot", "snapshot `file` to write")
	tokens := flag.String("tokens", "tokens.txt", "`file` for a sample of the tokens' plaintexts")
	flag.Parse()
	if err := run(*n, *out, *tokens); err != nil {
		fmt.Fprintln(os.Stderr, "bigstate:", err)
		os.Exit(1)
	}
}

// run builds the state and writes the snapshot and the token sample.
func run(n int, out, tokensFile string) error {
	if n <= 0 {
		return errors.New("-n must be positive")
	}
	start := time.Now()
	f := fsm.New()
	now := time.Now().UnixMilli()
	if r := f.Apply(1, &fsm.InitCluster{Meta: fsm.Meta{Time: now}, UUID: "bigstate"}); r.Status != fsm.OK {
		return fmt.Errorf("init cluster: %v", r.Status)
	}
	user := fsm.User{Username: "bench", Hash: []byte("$2a$10$unusable"), Enabled: true, Realm: fsm.NativeRealm}
	if r := f.Apply(2, &fsm.PutUser{Meta: fsm.Meta{Time: now}, User: user}); r.Status != fsm.OK {
		return fmt.Errorf("put user: %v", r.Status)
	}
	sample, err := os.OpenFile(tokensFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(sample)
	for i := range n {
		tok := accessToken()
		c := &fsm.CreateToken{Meta: fsm.Meta{Time: now}, Access: fsm.DigestOf(tok), User: user.Username,
			Realm: fsm.NativeRealm, Lifetime: time.Hour.Milliseconds()}
		if r := f.Apply(uint64(3+i), c); r.Status != fsm.OK {
			return fmt.Errorf("token %d: %v", i, r.Status)
		}
		if i < sampleTokens {
			fmt.Fprintln(w, tok)
		}
	}
	if err := errors.Join(w.Flush(), sample.Close()); err != nil {
		return err
	}
	file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	size, err := f.Snapshot().WriteTo(file)
	if err = errors.Join(err, file.Sync(), file.Close()); err != nil {
		return err
	}
	fmt.Printf("wrote %d tokens, %.1f MiB, to %s in %v\n", n, float64(size)/(1<<20), out, time.Since(start).Round(time.Millisecond))
	return nil
}

// accessToken is a fresh access token in tokend's format (api/credentials/token.go):
// "tka1_" and 32 random bytes in URL-safe base64 without padding.
func accessToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "tka1_" + base64.RawURLEncoding.EncodeToString(b)
}
