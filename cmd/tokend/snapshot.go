package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tokend/tokend/snapshot"
)

// snapshotPath is the state resource served by api: GET saves, PUT restores.
const snapshotPath = "/_tokend/snapshot"

// defaultTransferTimeout bounds a whole save or restore, transfer included.
const defaultTransferTimeout = time.Hour

// snapshotCommands maps each `tokend snapshot` subcommand to its implementation.
var snapshotCommands = map[string]command{
	"save":    snapshotSave,
	"restore": snapshotRestore,
}

// runSnapshot dispatches `tokend snapshot SUBCOMMAND`.
func runSnapshot(e env, args []string) error {
	return group{name: "snapshot", cmds: snapshotCommands, about: map[string]string{
		"save":    "save a consistent snapshot of the whole state to FILE",
		"restore": "replace the whole cluster's state with FILE (--yes), or --offline rebuild a lost cluster",
	}}.run(e, args)
}

// transferFlags are the flags both subcommands take.
type transferFlags struct {
	quiet   bool
	timeout time.Duration
}

func (tf *transferFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&tf.quiet, "quiet", false, "no progress on stderr (there is none when stderr is not a terminal)")
	fs.DurationVar(&tf.timeout, "timeout", defaultTransferTimeout, "give up after this `duration`, transfer included")
}

// savedSnapshot is what `snapshot save --json` prints.
type savedSnapshot struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	Records uint64 `json:"records"`
	Index   uint64 `json:"index"` // the Raft position the leader took it at
	Term    uint64 `json:"term"`
}

// snapshotSave downloads a snapshot from the leader, through the node named
// by --addr, into FILE: it writes FILE.tmp, checking the stream as it
// arrives, syncs it, verifies the file on disk with snapshot.Verify and only
// then renames it to FILE. On any failure FILE is left as it was.
func snapshotSave(e env, args []string) error {
	var tf transferFlags
	op, err := parseOperator(e, "snapshot save FILE [--addr URL] [-u USER:PASSWORD] [--json] [--quiet] [--timeout D]",
		1, args, tf.register)
	if err != nil {
		return err
	}
	file := op.args[0]
	ctx, cancel := context.WithTimeout(context.Background(), tf.timeout)
	defer cancel()
	resp, err := op.c.stream(ctx, http.MethodGet, snapshotPath, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p := newProgress(e, tf.quiet, "downloading", resp.ContentLength)
	hdr, size, err := saveFile(file, resp.Body, p)
	p.done()
	if err != nil {
		return err
	}
	out := savedSnapshot{File: file, Bytes: size, Records: hdr.Records,
		Index: headerUint(resp.Header, "X-Tokend-Snapshot-Index"), Term: headerUint(resp.Header, "X-Tokend-Snapshot-Term")}
	if op.json {
		return printValue(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "saved the snapshot taken at index %d (%d records, %s) to %s\n", out.Index, out.Records, mib(size), file)
	return nil
}

// saveFile writes the snapshot read from body to file by way of file.tmp
// and returns its header and size.
func saveFile(file string, body io.Reader, p *progress) (snapshot.Header, int64, error) {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return snapshot.Header{}, 0, err
	}
	hdr, err := copySnapshot(f, body, p)
	if err != nil {
		err = fmt.Errorf("downloading the snapshot: %w", err)
	} else {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	var size int64
	if err == nil {
		size, err = verifyFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return hdr, 0, err
	}
	return hdr, size, nil
}

// verifyFile checks the snapshot in name with snapshot.Verify and returns
// its size.
func verifyFile(name string) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := snapshot.Verify(f); err != nil {
		return 0, fmt.Errorf("%s does not verify: %w", name, err)
	}
	return f.Seek(0, io.SeekEnd)
}

// copySnapshot copies a snapshot from src to dst, reading it with a
// snapshot.Reader on the way so that a damaged or truncated stream is an
// error, and counting bytes and records on p. It returns the header.
func copySnapshot(dst io.Writer, src io.Reader, p *progress) (snapshot.Header, error) {
	sr, err := snapshot.NewReader(io.TeeReader(p.reader(src), dst))
	if err != nil {
		return snapshot.Header{}, err
	}
	p.records = sr.Header().Records
	for {
		_, _, err := sr.Next()
		if err == io.EOF {
			return sr.Header(), nil
		}
		if err != nil {
			return sr.Header(), err
		}
		p.record()
	}
}

// stream sends method path with body (size bytes of octet stream; nil for
// none) and returns the response for the caller to read and close. A non-2xx
// answer is returned as an *apiError. Unlike call it has no timeout of its
// own: a transfer takes as long as the state is large, so ctx bounds it.
func (c *client) stream(ctx context.Context, method, path string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	// The operator client's TLS settings, without its overall timeout: a
	// transfer is bounded by ctx (--timeout) instead.
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		return nil, newAPIError(resp.StatusCode, raw)
	}
	return resp, nil
}

// headerUint returns the header's value as a number, 0 if absent or not one.
func headerUint(h http.Header, key string) uint64 {
	v, _ := strconv.ParseUint(h.Get(key), 10, 64)
	return v
}

// printValue writes v as indented JSON.
func printValue(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printJSON(w, raw)
}
