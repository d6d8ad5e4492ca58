// Command tokend runs a node of the tokend cluster (`tokend serve`) and
// administers a running cluster over HTTP (`tokend nodes`, `tokend users`, ...).
package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/tokend/tokend/api"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `Usage: tokend <command> [arguments]

Commands:
  serve                         run a node (see tokend serve -h)
  nodes                         list the cluster's nodes
  enroll [--ttl 30m]            print a one-time token for a new node: tokend serve --enrollment-token TOKEN
  remove NODE_ID                remove a node from the cluster (live or dead, the leader too)
  transfer-leader [NODE_ID]     hand leadership to NODE_ID (or to any other voter)
  users add NAME --roles a,b    create a user, or change one with --update (password from --password or stdin)
  users passwd NAME             change a user's password
  users rm NAME                 delete a user
  users list                    list the native users
  users enable|disable NAME     enable or disable a user
  snapshot save FILE            save a consistent snapshot of the state to FILE
  snapshot restore --yes FILE   replace the whole cluster's state with FILE
  snapshot restore --offline --data-dir DIR --node-id ID --raft-addr ADDR FILE
                                rebuild a lost cluster: write FILE into an empty data dir
  recover --data-dir DIR --node-id ID --members ID=ADDR,...
                                offline, after a majority is lost for good: keep only the survivors as voters
  certs ca [--out DIR]          create the cluster CA (DIR/ca.crt, DIR/ca.key)
  certs node NAME [--dns ..] [--ip ..]
                                create a node certificate signed by the cluster CA
  probe [--addr URL]            exit 0 when the node is ready (GET /_tokend/readyz), 1 with its reason: a container health check
  version                       print the version
  help                          print this help

Operator commands take --addr URL (default http://127.0.0.1:9200, env TOKEND_ADDR),
-u user:password (default elastic with ELASTIC_PASSWORD) and --json; for an https URL,
--ca-cert FILE (env TOKEND_CA_CERT) and, if nodes require one, --client-cert/--client-key.
`

// env is what a command may touch of its process, so tests can supply their own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command runs one subcommand with the arguments after its name.
type command func(e env, args []string) error

// commands maps each subcommand name to its implementation.
var commands = map[string]command{
	"serve":           runServe,
	"nodes":           runNodes,
	"remove":          runRemove,
	"enroll":          runEnroll,
	"transfer-leader": runTransferLeader,
	"users":           runUsers,
	"snapshot":        runSnapshot,
	"recover":         runRecover,
	"probe":           runProbe,
	"version":         runVersion,
	"certs":           runCerts,
	"help":            runHelp,
}

func main() {
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(run(e, os.Args[1:]))
}

// run dispatches to a subcommand and turns its result into an exit code:
// 0 on success, 2 for a usage mistake, 1 for anything else, with a one-line
// reason on stderr.
func run(e env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok && (args[0] == "-h" || args[0] == "--help") {
		cmd = runHelp
	} else if !ok {
		fmt.Fprintf(e.stderr, "tokend: unknown command %q (try tokend help)\n", args[0])
		return 2
	}
	err := cmd(e, args[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "tokend %s: %v\n", args[0], ue.err)
		if ue.usage != "" {
			fmt.Fprint(e.stderr, "\n"+ue.usage)
		}
		return 2
	default:
		// errors.Join separates with newlines; the reason stays on one line.
		fmt.Fprintf(e.stderr, "tokend %s: %s\n", args[0], strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
}

// runHelp prints the command overview to stdout.
func runHelp(e env, _ []string) error {
	fmt.Fprint(e.stdout, usage)
	return nil
}

// runVersion prints the build version, the VCS revision and its date.
func runVersion(e env, args []string) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(e.stdout, "Usage: tokend version")
			return flag.ErrHelp
		}
		return usageError{err: fmt.Errorf("unexpected argument %q", args[0]), usage: "Usage: tokend version\n"}
	}
	b := buildInfo()
	fmt.Fprintf(e.stdout, "tokend %s (revision %s, %s)\n", b.Version, orUnknown(b.Hash), orUnknown(b.Date))
	return nil
}

// buildInfo describes this binary from Go's build information: the -X
// version (else the module version, else "dev"), the VCS revision (with
// "-dirty" when the tree had changes) and the revision's time.
func buildInfo() api.BuildInfo {
	b := api.BuildInfo{Version: version}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; version == "dev" && v != "" && v != "(devel)" {
		b.Version = v
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Hash = s.Value
		case "vcs.time":
			b.Date = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Hash != "" {
		b.Hash += "-dirty"
	}
	return b
}

// orUnknown renders an empty build field as "unknown".
func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}
