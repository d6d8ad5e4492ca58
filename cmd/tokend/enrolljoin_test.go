package main

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/tokend/tokend/raftnode/cluster"
)

// A node started with a --cluster-ca other than the one an enrollment
// token pins refuses to join, before it sends anything; with the same CA
// it pins it.
func TestEnrollTLS_RefusesAnotherClustersCA(t *testing.T) {
	local := &x509.Certificate{Raw: []byte("this node's cluster CA")}
	d := &daemon{cfg: Config{ClusterCA: "ca.crt"}, tls: &nodeTLS{clusterCA: []*x509.Certificate{local}}}
	other := cluster.Enrollment{CASHA256: cluster.Fingerprint(&x509.Certificate{Raw: []byte("another CA")})}
	if _, err := d.enrollTLS(other); err == nil || !strings.Contains(err.Error(), "refuses to join") {
		t.Fatalf("enrollTLS with another cluster's CA: %v, want a refusal", err)
	}
	same := cluster.Enrollment{CASHA256: cluster.Fingerprint(local)}
	cfg, err := d.enrollTLS(same)
	if err != nil || cfg == nil || cfg.VerifyConnection == nil {
		t.Fatalf("enrollTLS with this cluster's CA: %v, %v: want a pinned configuration", cfg, err)
	}
}

// --enrollment-token is checked at start: a malformed token is refused
// without being quoted, and it does not go with --bootstrap.
func TestConfig_EnrollmentTokenValidated(t *testing.T) {
	c := Config{EnrollmentToken: "tokend-enroll-v1.not-a-payload-secret"}
	err := c.validateEnrollment()
	if err == nil || strings.Contains(err.Error(), "not-a-payload-secret") {
		t.Fatalf("malformed token: %v", err)
	}
	good := cluster.Enrollment{Version: 1, URLs: []string{"http://127.0.0.1:9200"}, Secret: "s"}.String()
	c = Config{EnrollmentToken: good, Bootstrap: true}
	if err := c.validateEnrollment(); err == nil {
		t.Fatal("--enrollment-token with --bootstrap accepted")
	}
}
