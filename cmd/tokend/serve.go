package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tokend/tokend/api"
	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// HTTP server limits. One read timeout covers a request's headers and its
// body (at most the body limit; snapshot streams set their own deadlines),
// so net/http sets one read deadline per request, not two. WriteTimeout is
// generous because GET /_cluster/health may wait (wait_for_status,
// timeout=30s) before it answers.
const (
	readTimeout         = 10 * time.Second
	writeTimeout        = 2 * time.Minute
	idleTimeout         = 2 * time.Minute
	maxHeaderBytes      = 64 << 10
	httpShutdownTimeout = 10 * time.Second
)

// runServe loads the configuration and runs a node until SIGINT or SIGTERM.
func runServe(e env, args []string) error {
	cfg, err := Load(args, e.getenv)
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		serveUsage(e.stdout)
		return err
	case errors.As(err, &ue):
		var b strings.Builder
		serveUsage(&b)
		return usageError{err: ue.err, usage: b.String()}
	case err != nil:
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer keepHeapFloor(e.getenv, heapFloor)()
	d, err := startDaemon(cfg, newLogger(cfg, e.stderr))
	if err != nil {
		return err
	}
	return d.run(ctx, stop, e)
}

// newLogger returns the process logger: text or JSON lines on w. It carries
// no attributes: raftnode and api add their own node and component keys.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h)
}

// daemon is a started node: state machine, Raft, API and HTTP listener.
type daemon struct {
	cfg    Config
	log    *slog.Logger
	state  *fsm.FSM
	node   *raftnode.Node
	api    *api.Server
	http   *http.Server
	served chan error // receives Serve's error if it stops on its own

	// cred is the node credential: --node-secret, the data dir's, or
	// none until bootstrap generates it or a join answer brings it.
	cred *peerauth.Credential

	tls           *nodeTLS // nil: plain http
	stopCertWatch func()   // stops the certificate reloader; nil without TLS

	pprof *http.Server // runtime profiles (--pprof-addr); nil when not served

	trail *audit.Trail // the audit trail (--audit); nil when not written
}

// startDaemon performs the start-up steps in order: state machine, Raft
// node, API server, HTTP listener. On failure it undoes what it started.
func startDaemon(cfg Config, log *slog.Logger) (*daemon, error) {
	d := &daemon{cfg: cfg, log: log.With("node", cfg.NodeID)}
	var err error
	if d.tls, err = loadTLS(cfg, d.log); err != nil {
		return nil, err
	}
	if d.cred, err = loadCredential(cfg); err != nil {
		return nil, err
	}
	if err := checkDataDir(cfg); err != nil {
		return nil, err
	}
	state := fsm.New()
	d.state = state
	reg := newRegistry()
	if cfg.Audit {
		if d.trail, err = openTrail(cfg); err != nil {
			return nil, err
		}
	}
	node, err := openNode(cfg, log, state, reg, d.raftTLS(), d.cred, d.observer())
	if err != nil {
		return nil, errors.Join(err, d.closeTrail())
	}
	d.node = node
	if err := d.checkOpenedState(); err != nil {
		return nil, errors.Join(err, node.Shutdown())
	}
	if err := d.requireCredential(); err != nil {
		return nil, errors.Join(err, node.Shutdown(), d.closeTrail())
	}
	if d.api, err = newAPI(cfg, log, node, state, reg, d.tls, d.cred, d.trail); err != nil {
		return nil, errors.Join(err, node.Shutdown(), d.closeTrail())
	}
	if err := d.listen(); err != nil {
		return nil, errors.Join(err, node.Shutdown())
	}
	if cfg.PprofAddr != "" {
		if d.pprof, err = startPprof(cfg.PprofAddr, d.log); err != nil {
			return nil, errors.Join(err, d.http.Close(), node.Shutdown())
		}
	}
	return d, nil
}

// newRegistry returns this node's metrics registry, injected into the Raft
// node and the API, which register their own metrics on it: it starts with
// the Go runtime and process collectors (go_*, process_*).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// openNode opens the Raft node over the data directory, with its metrics
// (and Raft's library metrics) on reg and mutual TLS between nodes when
// raftTLS is set, else connections authenticated with cred; obs, when set,
// sees every applied entry (the audit trail).
func openNode(cfg Config, log *slog.Logger, state *fsm.FSM, reg prometheus.Registerer, raftTLS *tls.Config,
	cred *peerauth.Credential, obs raftnode.Observer) (*raftnode.Node, error) {
	rc := raftnode.Config{
		NodeID:        cfg.NodeID,
		RaftBind:      cfg.RaftAddr,
		RaftAdvertise: cfg.AdvertiseRaft,
		TLS:           raftTLS,
		Credential:    cred,
		DataDir:       cfg.DataDir,
		Logger:        log.With("component", "raft"),
		ApplyTimeout:  cfg.RequestTimeout,

		SnapshotThreshold: cfg.SnapshotThreshold,
		SnapshotInterval:  cfg.SnapshotInterval,
		TrailingLogs:      cfg.TrailingLogs,
		Metrics:           reg,
		Observer:          obs,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	node, err := raftnode.Open(rc, state)
	if errors.Is(err, raftnode.ErrDamaged) {
		return nil, fmt.Errorf("%w; %s", err, recoveryAdvice(cfg.DataDir, cfg.NodeID))
	}
	if err != nil {
		return nil, fmt.Errorf("open raft (--raft-addr %s, --data-dir %s): %w", cfg.RaftAddr, cfg.DataDir, err)
	}
	return node, nil
}

// newAPI builds the HTTP API over the node and the state machine. Version is
// left to api's default: it is the Elasticsearch version number clients
// check, not tokend's own. It registers its metrics on reg and serves all
// of reg.
// With TLS, it calls other nodes over https and, with a cluster CA,
// requires node-to-node calls to present a certificate that CA signed.
// cred is the node credential the API hands to joining nodes; trail, when
// set, receives the request events of the audit trail.
func newAPI(cfg Config, log *slog.Logger, node *raftnode.Node, state *fsm.FSM, reg *prometheus.Registry, t *nodeTLS,
	cred *peerauth.Credential, trail *audit.Trail) (*api.Server, error) {
	ac := api.Config{
		NodeID:                  cfg.NodeID,
		HTTPAdvertise:           cfg.AdvertiseHTTP,
		Replica:                 cfg.Replica,
		ClusterName:             cfg.ClusterName,
		TokenTimeout:            cfg.TokenTimeout,
		NodeSecret:              cfg.NodeSecret,
		Credential:              cred,
		DisableReplayRevocation: cfg.DisableReplayRevocation,
		RequestTimeout:          cfg.RequestTimeout,
		Logger:                  log,
		Peers:                   cfg.Join,
		Metrics:                 reg,
		Gatherer:                reg,
		Build:                   buildInfo(),
		Audit:                   trail,
	}
	if t != nil {
		ac.PeerTLS, ac.ClusterCA = t.peer, t.clusterCA
	}
	srv, err := api.New(ac, node, state)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return srv, nil
}

// listen binds the HTTP address and serves the API in the background.
func (d *daemon) listen() error {
	ln, err := net.Listen("tcp", d.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	d.http = &http.Server{
		Handler:           d.api.Handler(),
		ReadHeaderTimeout: readTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(d.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	serve := d.http.Serve
	scheme := "http"
	if d.tls != nil {
		d.http.TLSConfig = d.tls.server
		serve = func(ln net.Listener) error { return d.http.ServeTLS(ln, "", "") }
		scheme = "https"
		d.stopCertWatch = d.tls.watch(certPollInterval)
	}
	d.served = make(chan error, 1)
	go func() {
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.served <- err
		}
	}()
	d.log.Info("http listening", "addr", ln.Addr().String(), "advertise", d.cfg.AdvertiseHTTP, "scheme", scheme)
	return nil
}

// peerTLS is the client configuration for calling other nodes over https,
// or nil when this node serves plain http.
func (d *daemon) peerTLS() *tls.Config {
	if d.tls == nil {
		return nil
	}
	return d.tls.peer
}

// raftTLS is Raft's mutual TLS configuration, or nil for plain TCP.
func (d *daemon) raftTLS() *tls.Config {
	if d.tls == nil {
		return nil
	}
	return d.tls.raft
}

// run forms or rejoins the cluster, runs housekeeping, waits for a signal
// (or the HTTP server failing) and shuts down in order. A signal during
// start-up also counts as a clean stop. stop restores default signal
// handling once shutdown begins, so a second Ctrl-C kills at once.
func (d *daemon) run(ctx context.Context, stop context.CancelFunc, e env) error {
	hkCtx, stopHousekeeping := context.WithCancel(context.Background())
	hkDone := make(chan struct{})
	err := d.formCluster(ctx, e)
	if err == nil {
		go func() {
			defer close(hkDone)
			d.api.RunHousekeeping(hkCtx)
		}()
		err = d.wait(ctx)
	} else {
		close(hkDone)
		if ctx.Err() != nil {
			d.log.Info("stopped by signal during start-up", "reason", err)
			err = nil
		}
	}
	stop()
	return errors.Join(err, d.shutdown(stopHousekeeping, hkDone))
}

// wait blocks until a signal (clean stop) or an HTTP server failure.
func (d *daemon) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		d.log.Info("signal received, shutting down")
		return nil
	case err := <-d.served:
		return fmt.Errorf("http server: %w", err)
	}
}

// shutdown stops in order: stop accepting HTTP and let in-flight requests
// finish (bounded), stop housekeeping, then close Raft.
func (d *daemon) shutdown(stopHousekeeping context.CancelFunc, hkDone <-chan struct{}) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	d.api.RefusePasswordChecks()
	if err := d.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: in-flight requests cut off after %s: %w", httpShutdownTimeout, err))
		_ = d.http.Close()
	}
	if d.stopCertWatch != nil {
		d.stopCertWatch()
	}
	if d.pprof != nil {
		_ = d.pprof.Close()
	}
	stopHousekeeping()
	<-hkDone
	if err := d.node.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	if err := d.closeTrail(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		d.log.Info("stopped cleanly")
	}
	return errors.Join(errs...)
}
