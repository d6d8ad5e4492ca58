package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"
)

// usersPath is the native realm's user resource.
const usersPath = "/_security/user"

// userCommands maps each `tokend users` subcommand to its implementation.
var userCommands = map[string]command{
	"add":     usersAdd,
	"passwd":  usersPasswd,
	"rm":      usersRm,
	"list":    usersList,
	"enable":  func(e env, args []string) error { return usersSetEnabled(e, args, "enable") },
	"disable": func(e env, args []string) error { return usersSetEnabled(e, args, "disable") },
}

// runUsers dispatches `tokend users SUBCOMMAND`.
func runUsers(e env, args []string) error { return dispatch("users", userCommands, e, args) }

// userPath is the resource of one user, with an optional action suffix.
func userPath(name, action string) string {
	p := usersPath + "/" + url.PathEscape(name)
	if action != "" {
		p += "/" + action
	}
	return p
}

// usersAdd creates a user, or updates it if it exists (PUT semantics).
func usersAdd(e env, args []string) error {
	var password, roles, fullName, email string
	op, err := parseOperator(e, "users add NAME [--password P] [--roles a,b] [--full-name N] [--email E]", 1, args,
		func(fs *flag.FlagSet) {
			fs.StringVar(&password, "password", "", "the user's `password` (default: one line from stdin)")
			fs.StringVar(&roles, "roles", "", "comma-separated `roles`")
			fs.StringVar(&fullName, "full-name", "", "the user's full `name`")
			fs.StringVar(&email, "email", "", "the user's `email` address")
		})
	if err != nil {
		return err
	}
	name := op.args[0]
	if password, err = passwordOrStdin(e, password, name); err != nil {
		return err
	}
	body := map[string]any{"password": password, "roles": splitRoles(roles)}
	if fullName != "" {
		body["full_name"] = fullName
	}
	if email != "" {
		body["email"] = email
	}
	raw, err := op.c.call(context.Background(), http.MethodPut, userPath(name, ""), body)
	if err != nil || op.json {
		return printOr(e.stdout, raw, err, op.json)
	}
	var out struct {
		Created bool `json:"created"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	verb := "updated"
	if out.Created {
		verb = "created"
	}
	fmt.Fprintf(e.stdout, "%s user %s\n", verb, name)
	return nil
}

// usersPasswd changes a user's password.
func usersPasswd(e env, args []string) error {
	var password string
	op, err := parseOperator(e, "users passwd NAME [--password P]", 1, args, func(fs *flag.FlagSet) {
		fs.StringVar(&password, "password", "", "the new `password` (default: one line from stdin)")
	})
	if err != nil {
		return err
	}
	name := op.args[0]
	if password, err = passwordOrStdin(e, password, name); err != nil {
		return err
	}
	raw, err := op.c.call(context.Background(), http.MethodPost, userPath(name, "_password"), map[string]string{"password": password})
	if err != nil || op.json {
		return printOr(e.stdout, raw, err, op.json)
	}
	fmt.Fprintf(e.stdout, "changed the password of user %s\n", name)
	return nil
}

// usersRm deletes a user; a user that does not exist is an error.
func usersRm(e env, args []string) error {
	op, err := parseOperator(e, "users rm NAME", 1, args, nil)
	if err != nil {
		return err
	}
	name := op.args[0]
	raw, err := op.c.call(context.Background(), http.MethodDelete, userPath(name, ""), nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Type == "" {
		return fmt.Errorf("user %s not found", name)
	}
	if err != nil || op.json {
		return printOr(e.stdout, raw, err, op.json)
	}
	fmt.Fprintf(e.stdout, "deleted user %s\n", name)
	return nil
}

// usersSetEnabled enables or disables a user; action is "enable" or "disable".
func usersSetEnabled(e env, args []string, action string) error {
	op, err := parseOperator(e, "users "+action+" NAME", 1, args, nil)
	if err != nil {
		return err
	}
	name := op.args[0]
	raw, err := op.c.call(context.Background(), http.MethodPut, userPath(name, "_"+action), nil)
	if err != nil || op.json {
		return printOr(e.stdout, raw, err, op.json)
	}
	fmt.Fprintf(e.stdout, "%sd user %s\n", action, name)
	return nil
}

// usersList prints the native users as a table, or the raw JSON.
func usersList(e env, args []string) error {
	op, err := parseOperator(e, "users list", 0, args, nil)
	if err != nil {
		return err
	}
	raw, err := op.c.call(context.Background(), http.MethodGet, usersPath, nil)
	if err != nil || op.json {
		return printOr(e.stdout, raw, err, op.json)
	}
	return renderUsers(e.stdout, raw)
}

// userInfo is one entry of GET /_security/user.
type userInfo struct {
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
	FullName *string  `json:"full_name"`
	Enabled  bool     `json:"enabled"`
}

// renderUsers writes the users answer as a table sorted by user name.
func renderUsers(w io.Writer, raw []byte) error {
	var users map[string]userInfo
	if err := json.Unmarshal(raw, &users); err != nil {
		return fmt.Errorf("unexpected users answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tROLES\tENABLED\tFULL NAME")
	for _, name := range sortedKeys(users) {
		u := users[name]
		full := ""
		if u.FullName != nil {
			full = *u.FullName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, strings.Join(u.Roles, ","), yesNo(u.Enabled), full)
	}
	return tw.Flush()
}

// printOr returns err if set, else prints raw as JSON when asJSON is set.
func printOr(w io.Writer, raw []byte, err error, asJSON bool) error {
	if err != nil || !asJSON {
		return err
	}
	return printJSON(w, raw)
}

// splitRoles turns "a, b,,c" into [a b c]; never nil, so roles is always sent.
func splitRoles(s string) []string {
	roles := []string{}
	for r := range strings.SplitSeq(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	return roles
}

// passwordOrStdin returns given, or else one line read from stdin. On a
// terminal it prompts on stderr and reads without echo, so the password is
// neither shown nor left in the scrollback.
func passwordOrStdin(e env, given, user string) (string, error) {
	if given != "" {
		return given, nil
	}
	var line string
	if tty, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(tty.Fd())) {
		fmt.Fprintf(e.stderr, "Password for %s: ", user)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password from the terminal: %w", err)
		}
		line = string(b)
	} else {
		read, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		line = strings.TrimRight(read, "\r\n")
	}
	if line == "" {
		return "", usageErr(errors.New("no password: give --password or one line on stdin"))
	}
	return line, nil
}
