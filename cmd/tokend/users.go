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
	"slices"
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
func runUsers(e env, args []string) error {
	return group{name: "users", cmds: userCommands, about: map[string]string{
		"add":     "create a user, or change one with --update",
		"passwd":  "change a user's password",
		"rm":      "delete a user",
		"list":    "list the native users",
		"enable":  "enable a user",
		"disable": "disable a user (its tokens are invalidated)",
	}}.run(e, args)
}

// userPath is the resource of one user, with an optional action suffix.
func userPath(name, action string) string {
	p := usersPath + "/" + url.PathEscape(name)
	if action != "" {
		p += "/" + action
	}
	return p
}

// builtinRoles are the roles every cluster knows; README "Roles and
// privileges" says what each grants.
var builtinRoles = []string{"superuser", "monitor", "monitoring_user", "token_manager"}

// usersAdd creates a user. An existing user is changed only with --update,
// which keeps its roles, full name and email unless they are given.
func usersAdd(e env, args []string) error {
	var password, roles, fullName, email string
	var update bool
	var flags *flag.FlagSet
	op, err := parseOperator(e, "users add NAME [--update] [--password P] [--roles a,b] [--full-name N] [--email E]", 1, args,
		func(fs *flag.FlagSet) {
			flags = fs
			fs.StringVar(&password, "password", "", "the user's `password` (default: one line from stdin)")
			fs.StringVar(&roles, "roles", "", "comma-separated `roles`")
			fs.StringVar(&fullName, "full-name", "", "the user's full `name`")
			fs.StringVar(&email, "email", "", "the user's `email` address")
			fs.BoolVar(&update, "update", false, "change the user if it exists, keeping what is not given")
		})
	if err != nil {
		return err
	}
	name := op.args[0]
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	existing, err := getUser(op.c, name)
	if err != nil {
		return err
	}
	if existing != nil && !update {
		return fmt.Errorf("user %s already exists; nothing was changed (pass --update to change it: "+
			"its roles, full name and email are kept unless given)", name)
	}
	if password, err = passwordOrStdin(e, password, name); err != nil {
		return err
	}
	body := map[string]any{"password": password, "roles": splitRoles(roles)}
	if existing != nil {
		keepUnlessGiven(body, given, existing)
	}
	if fullName != "" {
		body["full_name"] = fullName
	}
	if email != "" {
		body["email"] = email
	}
	warnUnknownRoles(e.stderr, body["roles"].([]string))
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

// storedUser is a user as GET /_security/user/NAME describes it.
type storedUser struct {
	Roles    []string `json:"roles"`
	FullName *string  `json:"full_name"`
	Email    *string  `json:"email"`
}

// getUser returns the user named name, or nil when there is none.
func getUser(c *client, name string) (*storedUser, error) {
	raw, err := c.call(context.Background(), http.MethodGet, userPath(name, ""), nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var users map[string]storedUser
	if err := json.Unmarshal(raw, &users); err != nil {
		return nil, fmt.Errorf("unexpected answer: %w", err)
	}
	u, ok := users[name]
	if !ok {
		return nil, nil
	}
	return &u, nil
}

// keepUnlessGiven carries the existing user's roles, full name and email
// into body for each that was not given on the command line, since a PUT
// replaces the whole user.
func keepUnlessGiven(body map[string]any, given map[string]bool, u *storedUser) {
	if !given["roles"] {
		body["roles"] = append([]string{}, u.Roles...)
	}
	if !given["full-name"] && u.FullName != nil {
		body["full_name"] = *u.FullName
	}
	if !given["email"] && u.Email != nil {
		body["email"] = *u.Email
	}
}

// warnUnknownRoles writes a warning for each role that no cluster knows: it
// grants nothing, though the user is stored with it.
func warnUnknownRoles(w io.Writer, roles []string) {
	for _, r := range roles {
		if !slices.Contains(builtinRoles, r) {
			fmt.Fprintf(w, "warning: role [%s] is not a built-in role (%s); it grants nothing\n", r, strings.Join(builtinRoles, ", "))
		}
	}
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
