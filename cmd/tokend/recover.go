package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tokend/tokend/raftnode"
)

// recoverUsage is the synopsis of `tokend recover`.
const recoverUsage = "recover --data-dir DIR --node-id ID --members ID=RAFT_ADDR[,ID=RAFT_ADDR...] [--yes]"

// errRecoverNotConfirmed refuses a recovery that nobody confirmed.
var errRecoverNotConfirmed = errors.New("nothing was changed: pass --yes to confirm (or run the command on a terminal and answer yes)")

// runRecover rewrites a stopped node's Raft configuration to the surviving
// members after a majority of the cluster is lost for good (docs/operations.md
// "Lost quorum").
func runRecover(e env, args []string) error {
	fs := flag.NewFlagSet("tokend recover", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var dataDir, nodeID, members string
	var yes bool
	fs.StringVar(&dataDir, "data-dir", "", "the stopped node's data `dir`")
	fs.StringVar(&nodeID, "node-id", "", "the node's `id`")
	fs.StringVar(&members, "members", "", "the voters to keep, every survivor: `ID=RAFT_ADDR,...` (the same list on each)")
	fs.BoolVar(&yes, "yes", false, "rewrite the configuration without asking")
	if _, err := parseFlags(e, fs, recoverUsage, args); err != nil {
		return err
	}
	list, err := parseMembers(members)
	if err == nil && (dataDir == "" || nodeID == "") {
		err = errors.New("--data-dir and --node-id are required")
	}
	if err != nil {
		return usageError{err: err, usage: flagUsage(fs, recoverUsage)}
	}
	if err := confirmRecover(e, dataDir, nodeID, list, yes); err != nil {
		return err
	}
	err = raftnode.Recover(raftnode.Recovery{DataDir: dataDir, NodeID: nodeID, Members: list})
	if errors.Is(err, raftnode.ErrInvalidConfig) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "recovered %s: its configuration now holds %d voter(s): %s\n"+
		"run the same command on every other survivor, then start them all with their usual flags\n",
		dataDir, len(list), members)
	return nil
}

// parseMembers parses "id=addr,id=addr".
func parseMembers(s string) ([]raftnode.Member, error) {
	var out []raftnode.Member
	for part := range strings.SplitSeq(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--members wants ID=RAFT_ADDR pairs, got %q", part)
		}
		out = append(out, raftnode.Member{ID: id, RaftAddr: addr})
	}
	return out, nil
}

// confirmRecover says what the recovery does and goes on only with --yes or
// "yes" typed on a terminal.
func confirmRecover(e env, dataDir, nodeID string, members []raftnode.Member, yes bool) error {
	var ids []string
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	fmt.Fprintf(e.stderr, "This rewrites the Raft configuration of node %s in %s to the voters %s only.\n"+
		"Use it only when the other members are gone for good: a member left out that comes back would form a\n"+
		"second cluster with them. Entries the lost majority never acknowledged may be lost. Stop the node first.\n",
		nodeID, dataDir, strings.Join(ids, ", "))
	return confirmed(e, yes, "Type yes to rewrite the configuration: ", errRecoverNotConfirmed)
}
