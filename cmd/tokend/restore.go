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

	"github.com/tokend/tokend/raftnode"
)

// offlineFlags are the flags of `snapshot restore --offline`.
type offlineFlags struct {
	offline  bool
	dataDir  string
	nodeID   string
	raftAddr string
}

func (o *offlineFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.offline, "offline", false, "rebuild a node from FILE in an empty --data-dir instead of uploading it")
	fs.StringVar(&o.dataDir, "data-dir", "", "with --offline: the new node's empty data `dir`")
	fs.StringVar(&o.nodeID, "node-id", "", "with --offline: the new node's `id` (give tokend serve the same)")
	fs.StringVar(&o.raftAddr, "raft-addr", "", "with --offline: the new node's advertised Raft `address` (give tokend serve the same)")
}

// restoreAnswer is the server's answer to PUT /_tokend/snapshot.
type restoreAnswer struct {
	Index    uint64 `json:"index"`
	Snapshot struct {
		Index   uint64 `json:"index"`
		Records uint64 `json:"records"`
		Bytes   int64  `json:"bytes"`
	} `json:"snapshot"`
}

// snapshotRestore replaces the cluster's state with FILE (uploaded through
// the node named by --addr to the leader), or with --offline writes FILE
// into an empty data dir from which `tokend serve` starts a new cluster.
func snapshotRestore(e env, args []string) error {
	var tf transferFlags
	var o offlineFlags
	var yes bool
	op, err := parseOperator(e, "snapshot restore FILE [--yes] [--addr URL] [-u USER:PASSWORD] [--json] [--quiet] [--timeout D]\n"+
		"       tokend snapshot restore --offline --data-dir DIR --node-id ID --raft-addr ADDR FILE [--json]",
		1, args, func(fs *flag.FlagSet) {
			tf.register(fs)
			o.register(fs)
			fs.BoolVar(&yes, "yes", false, "replace the cluster's state without asking (online restore)")
		})
	if err != nil {
		return err
	}
	if o.offline {
		return restoreOffline(e, op, o)
	}
	if o.dataDir != "" || o.nodeID != "" || o.raftAddr != "" {
		return usageErr(errors.New("--data-dir, --node-id and --raft-addr go with --offline"))
	}
	return restoreOnline(e, op, tf, yes)
}

// restoreOnline verifies FILE locally, says what it would replace and asks
// for confirmation, then uploads it with progress and prints the leader's
// answer.
func restoreOnline(e env, op *operator, tf transferFlags, yes bool) error {
	file := op.args[0]
	size, err := verifyFile(file)
	if err != nil {
		return fmt.Errorf("nothing was sent: %w", err)
	}
	summary, err := summarizeSnapshot(file)
	if err != nil {
		return fmt.Errorf("nothing was sent: %w", err)
	}
	if err := confirmRestore(e, file, summary, yes); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), tf.timeout)
	defer cancel()
	p := newProgress(e, tf.quiet, "uploading", size)
	raw, err := upload(ctx, op.c, f, size, p)
	if err != nil {
		return err
	}
	if op.json {
		return printJSON(e.stdout, raw)
	}
	var a restoreAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("unexpected restore answer: %w", err)
	}
	fmt.Fprintf(e.stdout, "restored the snapshot taken at index %d (%d records, %s) from %s; the cluster serves it from index %d\n",
		a.Snapshot.Index, a.Snapshot.Records, mib(a.Snapshot.Bytes), file, a.Index)
	return nil
}

// upload streams the snapshot in f to the cluster and returns the answer.
// The bytes go through a snapshot.Reader on their way, for the progress
// count and to stop at once should the file change under us.
func upload(ctx context.Context, c *client, f io.Reader, size int64, p *progress) ([]byte, error) {
	pr, pw := io.Pipe()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_, err := copySnapshot(pw, f, p)
		pw.CloseWithError(err)
		p.done()
		if err == nil {
			p.note("uploaded; the leader is checking and restoring the snapshot")
		}
	}()
	resp, err := c.stream(ctx, http.MethodPut, snapshotPath, pr, size)
	pr.CloseWithError(errors.New("upload ended")) // unblocks the copy if the server answered early
	<-sent
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
}

// offlineRestored is what `snapshot restore --offline --json` prints.
type offlineRestored struct {
	DataDir  string `json:"data_dir"`
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	Index    uint64 `json:"index"`
	Records  uint64 `json:"records"`
	Bytes    int64  `json:"bytes"`
}

// restoreOffline writes FILE into an empty data dir as the only voter's
// snapshot and says how to start the node.
func restoreOffline(e env, op *operator, o offlineFlags) error {
	if o.dataDir == "" || o.nodeID == "" || o.raftAddr == "" {
		return usageErr(errors.New("--offline needs --data-dir, --node-id and --raft-addr"))
	}
	file := op.args[0]
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := raftnode.RestoreOffline(raftnode.OfflineRestore{DataDir: o.dataDir, NodeID: o.nodeID, RaftAddr: o.raftAddr}, f)
	switch {
	case errors.Is(err, raftnode.ErrDataDirNotEmpty):
		return fmt.Errorf("refusing to restore into --data-dir %s, which is not empty (%w): offline restore only writes "+
			"into an empty or new directory; stop the node and move its data away, or choose another directory", o.dataDir, err)
	case errors.Is(err, raftnode.ErrInvalidConfig):
		return usageErr(err)
	case err != nil:
		return fmt.Errorf("nothing was written: %w", err)
	}
	if _, err := newCredential(o.dataDir); err != nil {
		return fmt.Errorf("restored into %s, but %w; start it with --node-secret", o.dataDir, err)
	}
	out := offlineRestored{DataDir: o.dataDir, NodeID: o.nodeID, RaftAddr: o.raftAddr,
		Index: res.Header.Index, Records: res.Header.Records, Bytes: res.Size}
	if op.json {
		return printValue(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "restored %s (index %d, %d records) into %s as node %s at %s\n"+
		"start it with: tokend serve --data-dir %s --node-id %s --raft-addr %s ...\n"+
		"then start the other nodes with empty data dirs and --join pointing at it\n",
		file, out.Index, out.Records, o.dataDir, o.nodeID, o.raftAddr, o.dataDir, o.nodeID, o.raftAddr)
	return nil
}
