package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tokend/tokend/api"
)

// Cluster membership routes served by api.
const (
	nodesPath    = "/_tokend/cluster/nodes"
	transferPath = "/_tokend/cluster/transfer_leader"
)

// runNodes prints the cluster's members as a table, or the raw JSON.
func runNodes(e env, args []string) error {
	op, err := parseOperator(e, "nodes [--addr URL] [-u USER:PASSWORD] [--json]", 0, args, nil)
	if err != nil {
		return err
	}
	raw, err := op.c.call(context.Background(), http.MethodGet, nodesPath, nil)
	if err != nil {
		return err
	}
	if op.json {
		return printJSON(e.stdout, raw)
	}
	return renderNodes(e.stdout, raw)
}

// renderNodes writes the nodes answer as an aligned table: what each member
// reports of itself, "-" where an unreachable member could not say.
func renderNodes(w io.Writer, raw []byte) error {
	var cn api.ClusterNodes
	if err := json.Unmarshal(raw, &cn); err != nil {
		return fmt.Errorf("unexpected nodes answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tRAFT ADDRESS\tHTTP ADDRESS\tSTATE\tLAST CONTACT\tAPPLIED\tLAG\tLEASE\tREACHABLE\tBUILD")
	for _, n := range cn.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, orDash(n.Role), n.RaftAddr, orDash(n.HTTPAddr),
			n.State, lastContact(n.State, n.LastContactMillis), uintCell(n.AppliedIndex), uintCell(n.LagEntries),
			leaseCell(n.LeaseHeld, n.LeaseLeftMillis), yesNo(n.Reachable), buildCell(n.Build))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range cn.Nodes {
		if n.DiskError != "" {
			fmt.Fprintf(w, "DISK: node %s: %s\n", n.ID, n.DiskError)
		}
	}
	return nil
}

// uintCell renders an optional count, "-" when unknown.
func uintCell(v *uint64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatUint(*v, 10)
}

// leaseCell renders a member's read lease: the time it has left, "none",
// or "-" when unknown.
func leaseCell(held *bool, leftMillis *int64) string {
	switch {
	case held == nil:
		return "-"
	case !*held || leftMillis == nil:
		return "none"
	}
	return (time.Duration(*leftMillis) * time.Millisecond).String() + " left"
}

// buildCell renders a member's build as version@revision (12 digits), "-"
// when the member did not say.
func buildCell(b *api.BuildInfo) string {
	if b == nil || b.Version == "" {
		return "-"
	}
	if b.Hash == "" {
		return b.Version
	}
	return b.Version + "@" + b.Hash[:min(12, len(b.Hash))]
}

// lastContact renders how long ago a member heard from the leader.
func lastContact(state string, ms *int64) string {
	switch {
	case state == "leader":
		return "-"
	case ms == nil:
		return "never"
	}
	return (time.Duration(*ms) * time.Millisecond).String() + " ago"
}

// orDash renders an empty cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runRemove removes one node from the cluster's configuration.
func runRemove(e env, args []string) error {
	op, err := parseOperator(e, "remove NODE_ID [--addr URL] [-u USER:PASSWORD] [--json]", 1, args, nil)
	if err != nil {
		return err
	}
	id := op.args[0]
	raw, err := op.c.call(context.Background(), http.MethodDelete, nodesPath+"/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	if op.json {
		return printJSON(e.stdout, raw)
	}
	fmt.Fprintf(e.stdout, "removed node %s\n", id)
	return nil
}

// runTransferLeader hands leadership to NODE_ID, or to the most up-to-date
// other voter without one, and prints the new leader.
func runTransferLeader(e env, args []string) error {
	synopsis := "transfer-leader [NODE_ID] [--addr URL] [-u USER:PASSWORD] [--json]"
	op, err := parseOperator(e, synopsis, -1, args, nil)
	if err != nil {
		return err
	}
	var body any = struct{}{}
	if len(op.args) == 1 {
		body = map[string]string{"node_id": op.args[0]}
	}
	raw, err := op.c.call(context.Background(), http.MethodPost, transferPath, body)
	if err != nil {
		return err
	}
	if op.json {
		return printJSON(e.stdout, raw)
	}
	var v struct {
		Leader string `json:"leader"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("unexpected transfer answer: %w", err)
	}
	fmt.Fprintf(e.stdout, "leader is now %s\n", v.Leader)
	return nil
}

// yesNo renders a flag for a table cell.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
