package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// usageError marks a mistake in the command line, as opposed to a failure.
// usage, when set, is printed after the one-line reason: the synopsis and
// the flags of the command that was mistyped.
type usageError struct {
	err   error
	usage string
}

// Error returns the underlying message.
func (u usageError) Error() string { return u.err.Error() }

// Unwrap exposes the underlying error (flag.ErrHelp in particular).
func (u usageError) Unwrap() error { return u.err }

// usageErr wraps err as a usage mistake; nil and flag.ErrHelp pass through.
func usageErr(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err: err}
}

// flagUsage renders a command's synopsis and its flags with defaults.
func flagUsage(fs *flag.FlagSet, synopsis string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: tokend %s\n", strings.TrimPrefix(synopsis, "usage: tokend "))
	fs.SetOutput(&b)
	fmt.Fprintln(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// parseFlags parses args with fs, flags anywhere among the positional
// arguments. -h/--help prints the usage to stdout and returns flag.ErrHelp
// (exit 0); an unknown or malformed flag is a usage mistake that names it
// and carries the usage (exit 2).
func parseFlags(e env, fs *flag.FlagSet, synopsis string, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(e.stdout, flagUsage(fs, synopsis))
		return nil, err
	case err != nil:
		return nil, usageError{err: err, usage: flagUsage(fs, synopsis)}
	}
	return pos, nil
}

// group is a command made of subcommands (`tokend GROUP NAME ...`).
type group struct {
	name string
	cmds map[string]command
	// about describes each subcommand in one line, for the group's usage.
	about map[string]string
}

// usage lists the group's subcommands.
func (g group) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: tokend %s <command> [arguments]\n\nCommands:\n", g.name)
	for _, n := range slices.Sorted(maps.Keys(g.cmds)) {
		fmt.Fprintf(&b, "  %-10s %s\n", n, g.about[n])
	}
	fmt.Fprintf(&b, "\nRun tokend %s <command> -h for its flags.\n", g.name)
	return b.String()
}

// run runs the subcommand named by args[0]. -h, --help and help print the
// group's usage (exit 0); a missing or unknown subcommand is a usage
// mistake that carries it (exit 2).
func (g group) run(e env, args []string) error {
	if len(args) == 0 {
		return usageError{err: fmt.Errorf("%s needs a command", g.name), usage: g.usage()}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stdout, g.usage())
		return flag.ErrHelp
	}
	cmd, ok := g.cmds[args[0]]
	if !ok {
		return usageError{err: fmt.Errorf("unknown %s command %q", g.name, args[0]), usage: g.usage()}
	}
	return cmd(e, args[1:])
}
