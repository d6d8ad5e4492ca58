package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Operator command defaults.
const (
	defaultAddr     = "http://127.0.0.1:9200"
	operatorTimeout = 30 * time.Second
	maxResponseBody = 8 << 20
)

// operator is a parsed operator command line: its positional arguments,
// whether to print raw JSON, and a client for the node named by --addr.
type operator struct {
	args []string
	json bool
	c    *client
}

// parseOperator parses the shared operator flags (--addr, -u, --json), the
// command's own flags registered by setup, and exactly nargs positional
// arguments (up to -nargs when nargs is negative), which may come before,
// between or after the flags. On -h it
// prints synopsis and the flags to stdout and returns flag.ErrHelp.
func parseOperator(e env, synopsis string, nargs int, args []string, setup func(*flag.FlagSet)) (*operator, error) {
	fs := flag.NewFlagSet("tokend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := e.getenv("TOKEND_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&addr, "addr", addr, "`url` of any node's HTTP API (env TOKEND_ADDR)")
	auth := fs.String("u", "", "credentials `user:password` (default elastic and ELASTIC_PASSWORD)")
	asJSON := fs.Bool("json", false, "print the server's JSON answer")
	var tf tlsFlags
	tf.register(fs, e.getenv)
	if setup != nil {
		setup(fs)
	}
	pos, err := parseFlags(e, fs, synopsis, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != nargs && (nargs >= 0 || len(pos) > -nargs) {
		return nil, usageError{err: fmt.Errorf("wrong number of arguments (%d)", len(pos)), usage: flagUsage(fs, synopsis)}
	}
	c, err := newClient(addr, *auth, e.getenv("ELASTIC_PASSWORD"))
	if err != nil {
		return nil, usageErr(err)
	}
	if c.hc.Transport, err = tf.transport(); err != nil {
		return nil, usageErr(err)
	}
	return &operator{args: pos, json: *asJSON, c: c}, nil
}

// parseInterleaved parses flags found anywhere in args and returns the
// remaining positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// client calls one node's HTTP API with Basic credentials.
type client struct {
	base     string
	user     string
	password string
	hc       *http.Client
}

// newClient builds a client for addr. auth is "user:password"; when empty,
// the elastic user with fallbackPassword is used, or no credentials at all
// if that is empty too.
func newClient(addr, auth, fallbackPassword string) (*client, error) {
	base, err := joinURL(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	c := &client{base: base, hc: &http.Client{Timeout: operatorTimeout}}
	switch {
	case auth != "":
		var ok bool
		if c.user, c.password, ok = strings.Cut(auth, ":"); !ok || c.user == "" {
			return nil, errors.New("-u: want user:password")
		}
	case fallbackPassword != "":
		c.user, c.password = "elastic", fallbackPassword
	}
	return c, nil
}

// call sends method path with body (JSON-encoded unless nil) and returns the
// answer's body. A non-2xx answer is returned as an *apiError.
func (c *client) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return raw, newAPIError(resp.StatusCode, raw)
	}
	return raw, nil
}

// apiError is a non-2xx answer from the server.
type apiError struct {
	Status int
	Type   string
	Reason string
}

// Error is the server's reason and the HTTP status.
func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Reason, e.Status)
}

// newAPIError reads the Elasticsearch error envelope, or the OAuth shape, and
// falls back to the body's first line or the status text.
func newAPIError(status int, raw []byte) *apiError {
	var env struct {
		Error json.RawMessage `json:"error"`
		Desc  string          `json:"error_description"`
	}
	var inner struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	e := &apiError{Status: status}
	if json.Unmarshal(raw, &env) == nil && len(env.Error) > 0 {
		if json.Unmarshal(env.Error, &inner) == nil {
			e.Type, e.Reason = inner.Type, inner.Reason
		} else if json.Unmarshal(env.Error, &e.Type) == nil {
			e.Reason = env.Desc
		}
	}
	if e.Reason == "" {
		line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		e.Reason = line
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(status)
	}
	return e
}

// printJSON writes raw indented, followed by a newline.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("server answered invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
