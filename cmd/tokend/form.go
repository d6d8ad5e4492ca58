package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/raftnode/cluster"
)

// Bounds of cluster formation.
const (
	expectPollInterval = time.Second
	joinRetryMax       = 10 * time.Second
	probeTimeout       = 2 * time.Second
	bootstrapTimeout   = 30 * time.Second
)

// readyPath is api's unauthenticated readiness probe: 200 once the node is a
// member of a cluster with a leader.
const readyPath = "/_tokend/readyz"

// formCluster decides how this node becomes a member. Existing Raft state
// always wins: the node restarts as the member it was. Otherwise it forms a
// cluster with --bootstrap-expect, joins with --enrollment-token or --join, or bootstraps itself
// (--bootstrap, or no flag at all: the single-node default).
func (d *daemon) formCluster(ctx context.Context, e env) error {
	cfg := d.cfg
	switch {
	case d.node.HasState():
		if cfg.Bootstrap || len(cfg.Join) > 0 {
			d.log.Info("existing raft state found: --bootstrap and --bootstrap-expect are ignored; "+
				"--join only names members to tell if this node's address changed", "data_dir", cfg.DataDir)
		}
		d.log.Info("restarting as an existing member", "data_dir", cfg.DataDir)
		d.noteMoved()
		if d.soleVoter() {
			if err := d.finishBootstrap(ctx, e); err != nil {
				return err
			}
		}
		return d.recordMembership(ctx, 0)
	case cfg.EnrollmentToken != "":
		return d.enroll(ctx)
	case cfg.BootstrapExpect > 0:
		return d.bootstrapExpect(ctx, e)
	case cfg.Bootstrap && len(cfg.Join) > 0:
		if err := d.refuseSecondCluster(ctx, cfg.Join); err != nil {
			return err
		}
		return d.bootstrap(ctx, e)
	case len(cfg.Join) > 0:
		return d.join(ctx, e, cfg.Join)
	default:
		if !cfg.Bootstrap {
			d.log.Info("empty data dir and no --join: bootstrapping a single-node cluster", "data_dir", cfg.DataDir)
		}
		return d.bootstrap(ctx, e)
	}
}

// soleVoter reports whether this node is the only voter of its cluster: a
// single-node cluster, or one whose bootstrap may have been interrupted
// before anyone joined.
func (d *daemon) soleVoter() bool {
	servers, err := d.node.Servers()
	return err == nil && len(servers) == 1 && servers[0].ID == d.cfg.NodeID && servers[0].Voter
}

// finishBootstrap completes an initialisation that a crash interrupted
// between bootstrapping Raft and creating the elastic user; without it the
// restarted cluster would have no user at all. It is bounded by
// bootstrapTimeout and prints a generated password as bootstrap does.
func (d *daemon) finishBootstrap(ctx context.Context, e env) error {
	initCtx, cancel := context.WithTimeout(ctx, bootstrapTimeout)
	defer cancel()
	done, err := d.api.Initialised(initCtx)
	if err != nil || done {
		return err
	}
	d.log.Warn("the cluster's initialisation was interrupted before the elastic user existed; finishing it")
	generated, err := d.api.Bootstrap(initCtx, e.getenv("ELASTIC_PASSWORD"))
	if err != nil {
		return fmt.Errorf("finish bootstrap: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(e.stdout, "Password for the elastic user: %s\n", generated)
	}
	return nil
}

// noteMoved logs when this restarted node's Raft address differs from the
// one in its last known configuration. The API's housekeeping then tells
// the cluster (through the leader, the members its state knows, or --join),
// and the leader re-addresses it under the same ID.
func (d *daemon) noteMoved() {
	servers, err := d.node.Servers()
	if err != nil {
		return
	}
	for _, s := range servers {
		if s.ID == d.cfg.NodeID && s.Address != d.node.Addr() {
			d.log.Info("the Raft address changed since the last run; asking the cluster to re-address this node",
				"was", s.Address, "now", d.node.Addr())
		}
	}
}

// bootstrap makes this node the first voter of a new cluster, then sets the
// elastic password: ELASTIC_PASSWORD, or a generated one printed once to
// stdout (never logged). Once Raft is bootstrapped a signal no longer
// interrupts the initialisation (bounded by bootstrapTimeout): a restart
// finds Raft state and would not initialise the cluster again.
func (d *daemon) bootstrap(ctx context.Context, e env) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.ensureCredential(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := d.node.Bootstrap(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	initCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bootstrapTimeout)
	defer cancel()
	generated, err := d.api.Bootstrap(initCtx, e.getenv("ELASTIC_PASSWORD"))
	if err != nil {
		return fmt.Errorf("bootstrap the elastic user: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(e.stdout, "Password for the elastic user: %s\n", generated)
	}
	if d.cfg.NodeSecret == "" {
		d.log.Warn("no --node-secret: joining nodes must present elastic superuser credentials or an enrollment token (tokend enroll)")
		if d.tls == nil {
			d.log.Warn("without TLS, joining nodes receive the node credential over plain http: on an untrusted network, " +
				"whoever reads that traffic can take part in Raft; use --tls-cert and --cluster-ca there")
		}
	}
	if err := d.recordMembership(initCtx, markerWait); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	d.log.Info("bootstrapped a new cluster", "cluster", d.cfg.ClusterName)
	return nil
}

// join asks the members at urls to add this node, using the node secret and,
// as a fallback, the elastic user with ELASTIC_PASSWORD when that is set.
func (d *daemon) join(ctx context.Context, e env, urls []string) error {
	cfg := d.cfg
	req := cluster.JoinRequest{NodeID: cfg.NodeID, RaftAddr: cfg.AdvertiseRaft, HTTPAddr: cfg.AdvertiseHTTP, Replica: cfg.Replica}
	user, password := "", e.getenv("ELASTIC_PASSWORD")
	if password != "" {
		user = "elastic"
	}
	d.log.Info("joining cluster", "peers", strings.Join(urls, ","))
	answer, err := cluster.JoinTLS(ctx, d.peerTLS(), urls, req, cfg.NodeSecret, user, password,
		cluster.OnJoinFailure(func(url string, err error) { d.log.Warn("join attempt failed", "url", url, "err", err) }))
	if err != nil {
		return fmt.Errorf("join %s: %w", strings.Join(urls, ","), err)
	}
	if err := d.adoptCredential(answer); err != nil {
		return fmt.Errorf("join %s: %w", strings.Join(urls, ","), err)
	}
	if err := d.recordMembership(ctx, markerWait); err != nil {
		return fmt.Errorf("joined, but: %w", err)
	}
	d.log.Info("joined cluster")
	return nil
}

// bootstrapExpect forms a cluster from nodes started with identical flags:
// --join lists every node (this one included) and --bootstrap-expect N.
// The node whose --join URL sorts lowest bootstraps once N listed nodes
// answer HTTP, unless one of them already belongs to a cluster, in which
// case it joins (so a node that lost its disk does not found a second
// cluster). Every other node keeps trying to join until it succeeds.
func (d *daemon) bootstrapExpect(ctx context.Context, e env) error {
	self := d.selfURL()
	peers := slices.DeleteFunc(slices.Clone(d.cfg.Join), func(u string) bool { return strings.EqualFold(u, self) })
	if lowest := slices.Min(d.cfg.Join); !strings.EqualFold(lowest, self) {
		d.log.Info("bootstrap-expect: waiting to join the cluster formed by the lowest node", "lowest", lowest)
		return d.joinUntilAdmitted(ctx, e, peers)
	}
	d.log.Info("bootstrap-expect: this node forms the cluster once enough nodes are up", "expect", d.cfg.BootstrapExpect)
	inCluster, err := d.awaitPeers(ctx, peers)
	if err != nil {
		return err
	}
	if inCluster {
		d.log.Info("bootstrap-expect: a peer already belongs to a cluster; joining instead of bootstrapping")
		return d.joinUntilAdmitted(ctx, e, peers)
	}
	return d.bootstrap(ctx, e)
}

// selfURL is the --join entry that names this node.
func (d *daemon) selfURL() string {
	for _, u := range d.cfg.Join {
		if strings.EqualFold(u, "http://"+d.cfg.AdvertiseHTTP) || strings.EqualFold(u, "https://"+d.cfg.AdvertiseHTTP) {
			return u
		}
	}
	return "" // unreachable: Validate requires the entry
}

// joinUntilAdmitted retries join with growing pauses until it succeeds or
// ctx ends.
func (d *daemon) joinUntilAdmitted(ctx context.Context, e env, peers []string) error {
	pause := expectPollInterval
	for {
		err := d.join(ctx, e, peers)
		if err == nil || ctx.Err() != nil {
			return err
		}
		d.log.Info("bootstrap-expect: join not possible yet, retrying", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, joinRetryMax)
	}
}

// awaitPeers polls the peers' readiness probes until, with this node,
// --bootstrap-expect nodes answer. It reports whether any answered ready,
// meaning it is already a member of a cluster.
func (d *daemon) awaitPeers(ctx context.Context, peers []string) (inCluster bool, err error) {
	hc := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{TLSClientConfig: d.peerTLS()}}
	for {
		up := 1 // this node
		for _, p := range peers {
			status := probe(ctx, hc, p+readyPath)
			if status == http.StatusOK {
				return true, nil
			}
			if status != 0 {
				up++
			}
		}
		if up >= d.cfg.BootstrapExpect {
			return false, nil
		}
		d.log.Debug("bootstrap-expect: waiting for nodes", "up", up, "expect", d.cfg.BootstrapExpect)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(expectPollInterval):
		}
	}
}

// refuseSecondCluster is --bootstrap's guard when --join names the peers it
// is meant to form a cluster with: if any of them already belongs to a
// cluster (its readiness probe answers 200), bootstrapping here would found
// a second cluster beside it, so it refuses, naming the peer. Peers that do
// not answer say nothing either way.
func (d *daemon) refuseSecondCluster(ctx context.Context, peers []string) error {
	hc := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{TLSClientConfig: d.peerTLS()}}
	for _, p := range peers {
		if probe(ctx, hc, p+readyPath) == http.StatusOK {
			return fmt.Errorf("refusing to bootstrap: %s already belongs to a cluster, and this empty data dir (%s) would found a second one; "+
				"start this node with --join only (or --bootstrap-expect), not --bootstrap", p, d.cfg.DataDir)
		}
	}
	d.log.Info("--bootstrap: no node named by --join belongs to a cluster yet; bootstrapping", "join", strings.Join(peers, ","))
	return nil
}

// probe returns the HTTP status of GET url, or 0 if nothing answered.
func probe(ctx context.Context, hc *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
