package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tokend/tokend/fsm"
)

// errRestoreNotConfirmed refuses an online restore that nobody confirmed.
var errRestoreNotConfirmed = errors.New("the cluster's state was not replaced: pass --yes to confirm " +
	"(or run the command on a terminal and answer yes)")

// restoreSummary is what a snapshot file would put in place of the
// cluster's state: the log index it was taken at, when the file was
// written, and how many records of each kind it holds.
type restoreSummary struct {
	index   uint64
	written time.Time
	counts  fsm.Counts
}

// summarizeSnapshot decodes the snapshot in file into a state of its own,
// exactly as the leader will, and describes it.
func summarizeSnapshot(file string) (restoreSummary, error) {
	f, err := os.Open(file)
	if err != nil {
		return restoreSummary{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return restoreSummary{}, err
	}
	state := fsm.New()
	if err := state.Restore(f); err != nil {
		return restoreSummary{}, fmt.Errorf("%s does not verify: %w", file, err)
	}
	return restoreSummary{index: state.AppliedIndex(), written: info.ModTime(), counts: state.Counts()}, nil
}

// confirmRestore prints what an online restore replaces and goes on only
// when the operator confirmed it: --yes, or "yes" typed on a terminal.
func confirmRestore(e env, file string, s restoreSummary, yes bool) error {
	fmt.Fprintf(e.stderr, "%s: snapshot of log index %d, file written %s\n", file, s.index, s.written.UTC().Format(time.RFC3339))
	fmt.Fprintf(e.stderr, "  %d access tokens, %d refresh tokens, %d users\n",
		s.counts.AccessTokens, s.counts.RefreshTokens, s.counts.Users)
	fmt.Fprintln(e.stderr, "Restoring replaces the whole cluster's state with this snapshot. Every token issued, "+
		"refreshed or invalidated and every user created, changed or deleted since it was taken is undone: "+
		"tokens revoked since then work again, and deleted users come back.")
	return confirmed(e, yes, "Type yes to replace the cluster's state: ", errRestoreNotConfirmed)
}

// confirmed goes on (nil) when the operator confirmed a destructive
// command: yes (its --yes flag), or "yes" typed on a terminal after
// prompt. Without either it returns refused: a usage mistake (exit 2)
// when there is no terminal to ask on.
func confirmed(e env, yes bool, prompt string, refused error) error {
	if yes {
		return nil
	}
	if !isTerminal(e.stdin) {
		return usageErr(refused)
	}
	fmt.Fprint(e.stderr, prompt)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return refused
	}
	return nil
}
