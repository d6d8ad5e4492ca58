package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// validateNodeSecret refuses a --node-secret too short to key the Raft
// handshake and the node-to-node routes.
func (c *Config) validateNodeSecret() error {
	if c.NodeSecret != "" && len(c.NodeSecret) < peerauth.MinSecretLen {
		return fmt.Errorf("--node-secret: %d bytes, at least %d needed (generate one with: head -c 32 /dev/urandom | base64)",
			len(c.NodeSecret), peerauth.MinSecretLen)
	}
	return nil
}

// loadCredential is the node credential known at start: --node-secret when
// set (it takes precedence), else the one kept in the data dir, else none
// yet (bootstrap generates one, a join receives one).
func loadCredential(cfg Config) (*peerauth.Credential, error) {
	if cfg.NodeSecret != "" {
		return peerauth.NewCredential([]byte(cfg.NodeSecret)), nil
	}
	secret, err := peerauth.Load(cfg.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return peerauth.NewCredential(nil), nil
	case err != nil:
		return nil, fmt.Errorf("node credential: %w", err)
	}
	return peerauth.NewCredential(secret), nil
}

// requireCredential refuses to run a member (a node with Raft state) that
// has no way to authenticate Raft connections: no credential and no cluster
// CA. Such a data dir comes from a cluster formed by an older build, which
// kept no credential.
func (d *daemon) requireCredential() error {
	if _, ok := d.cred.Secret(); ok || !d.node.HasState() || d.cfg.ClusterTLSEnabled() {
		return nil
	}
	return fmt.Errorf("%s holds Raft state but no node credential (%s) and neither --node-secret nor --cluster-ca is set "+
		"(a cluster formed by an older build): set the same --node-secret, at least %d bytes, on every node of the cluster",
		d.cfg.DataDir, peerauth.FileName, peerauth.MinSecretLen)
}

// ensureCredential gives a bootstrapping node a credential: --node-secret
// or the kept one when there is one, else a new random one, saved in the
// data dir (mode 0600) before Raft is bootstrapped.
func (d *daemon) ensureCredential() error {
	if _, ok := d.cred.Secret(); ok {
		return nil
	}
	secret, err := newCredential(d.cfg.DataDir)
	if err != nil {
		return err
	}
	d.cred.Set(secret)
	d.log.Info("generated the cluster's node credential; joining nodes receive it in the join answer",
		"file", filepath.Join(d.cfg.DataDir, peerauth.FileName))
	return nil
}

// adoptCredential takes the node credential from a join answer: saved in
// the data dir first, so that a restart finds it, then used, which opens
// this node's Raft port to the leader. With --node-secret the answer must
// carry the same secret (or none); the flag stays what the node uses.
func (d *daemon) adoptCredential(a cluster.JoinAnswer) error {
	got := []byte(a.NodeCredential)
	if d.cfg.NodeSecret != "" {
		if len(got) > 0 && subtle.ConstantTimeCompare(got, []byte(d.cfg.NodeSecret)) != 1 {
			return errors.New("the cluster's node credential is not this node's --node-secret: " +
				"set the cluster's --node-secret on this node, or none")
		}
		return nil
	}
	if len(got) == 0 {
		if d.cfg.ClusterTLSEnabled() {
			return nil
		}
		return fmt.Errorf("%s admitted this node but sent no node credential (an older build?), so Raft cannot authenticate: "+
			"set the same --node-secret on every node", a.URL)
	}
	if err := peerauth.Save(d.cfg.DataDir, got); err != nil {
		return err
	}
	d.cred.Set(got)
	if d.tls == nil {
		d.log.Warn("received the cluster's node credential over plain http: anyone who can read the traffic between nodes "+
			"could take it and join the cluster's Raft traffic; on an untrusted network use TLS (--tls-cert, --cluster-ca)",
			"from", a.URL, "file", filepath.Join(d.cfg.DataDir, peerauth.FileName))
	}
	return nil
}

// newCredential generates a node credential for a new cluster and keeps it
// in dataDir (mode 0600): at bootstrap, and for the first node of a cluster
// rebuilt from a backup (which holds no credential).
func newCredential(dataDir string) ([]byte, error) {
	secret, err := peerauth.Generate()
	if err != nil {
		return nil, err
	}
	return secret, peerauth.Save(dataDir, secret)
}
