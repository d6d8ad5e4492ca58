package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/tokend/tokend/api"
)

// enrollPath is the route that creates enrollment tokens.
const enrollPath = "/_tokend/cluster/enrollment"

// runEnroll prints an enrollment token for a new node (superuser): start
// the node with `tokend serve --enrollment-token TOKEN`. The token is
// printed to stdout only.
func runEnroll(e env, args []string) error {
	synopsis := "enroll [--ttl 30m] [--addr URL] [-u USER:PASSWORD] [--json]"
	var ttl time.Duration
	op, err := parseOperator(e, synopsis, 0, args, func(fs *flag.FlagSet) {
		fs.DurationVar(&ttl, "ttl", api.DefaultEnrollmentTTL, "how long the token may be used, at most once (1m to 24h)")
	})
	if err != nil {
		return err
	}
	raw, err := op.c.call(context.Background(), http.MethodPost, enrollPath, map[string]string{"ttl": ttl.String()})
	if err != nil {
		return err
	}
	if op.json {
		return printJSON(e.stdout, raw)
	}
	var a api.EnrollAnswer
	if err := json.Unmarshal(raw, &a); err != nil || a.Token == "" {
		return fmt.Errorf("unexpected enrollment answer: %v", err)
	}
	fmt.Fprintln(e.stdout, a.Token)
	return nil
}
