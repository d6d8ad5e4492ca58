package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokend/tokend/raftnode/cluster"
)

// validateEnrollment checks --enrollment-token: well formed, and not given
// with a flag that forms a new cluster. Its errors never quote the token.
func (c *Config) validateEnrollment() error {
	if c.EnrollmentToken == "" {
		return nil
	}
	if _, err := cluster.ParseEnrollment(c.EnrollmentToken); err != nil {
		return fmt.Errorf("--enrollment-token (TOKEND_ENROLLMENT_TOKEN): %w", err)
	}
	if c.Bootstrap || c.BootstrapExpect > 0 {
		return errors.New("--enrollment-token joins an existing cluster: it does not go with --bootstrap or --bootstrap-expect")
	}
	return nil
}

// enroll joins the cluster named by the enrollment token: it pins the
// cluster CA by the token's fingerprint, spends the token's one-time
// credential on the join (no elastic password needed) and adopts the node
// credential the answer carries. Members listed by --join are asked after
// the token's.
func (d *daemon) enroll(ctx context.Context) error {
	e, err := cluster.ParseEnrollment(d.cfg.EnrollmentToken)
	if err != nil {
		return fmt.Errorf("--enrollment-token: %w", err)
	}
	if e.Expired(time.Now()) {
		return fmt.Errorf("--enrollment-token: the token expired at %s: create another with tokend enroll",
			time.Unix(e.Expires, 0).UTC().Format(time.RFC3339))
	}
	tlsCfg, err := d.enrollTLS(e)
	if err != nil {
		return err
	}
	urls := append(append([]string{}, e.URLs...), d.cfg.Join...)
	req := cluster.JoinRequest{NodeID: d.cfg.NodeID, RaftAddr: d.cfg.AdvertiseRaft, HTTPAddr: d.cfg.AdvertiseHTTP}
	d.log.Info("enrolling with an enrollment token", "members", strings.Join(urls, ","), "ca_pinned", e.CASHA256 != "")
	answer, err := cluster.JoinEnrolled(ctx, tlsCfg, urls, req, e.Secret,
		cluster.OnJoinFailure(func(url string, err error) { d.log.Warn("join attempt failed", "url", url, "err", err) }))
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	if err := d.adoptCredential(answer); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	if err := d.recordMembership(ctx, markerWait); err != nil {
		return fmt.Errorf("enrolled, but: %w", err)
	}
	d.log.Info("joined cluster with an enrollment token")
	return nil
}

// enrollTLS is the client configuration of the join: this node's own, with
// the cluster CA pinned by the token's fingerprint when it names one. A
// node started with a --cluster-ca that is not the token's refuses to join.
func (d *daemon) enrollTLS(e cluster.Enrollment) (*tls.Config, error) {
	if e.CASHA256 == "" {
		return d.peerTLS(), nil
	}
	if d.tls != nil && len(d.tls.clusterCA) > 0 {
		local := cluster.Fingerprint(d.tls.clusterCA[0])
		if local != e.CASHA256 {
			return nil, fmt.Errorf("--cluster-ca %s has fingerprint %s, the enrollment token's cluster CA is %s: "+
				"this node holds another cluster's CA, so it refuses to join", d.cfg.ClusterCA, local, e.CASHA256)
		}
	}
	return cluster.PinnedTLS(d.peerTLS(), e.CASHA256), nil
}
