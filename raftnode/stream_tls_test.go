package raftnode

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

// nodeTLS is a Raft TLS configuration for a certificate of ca (issued for
// 127.0.0.1 and localhost) that requires the same of its peers.
func nodeTLS(t *testing.T, ca *testkit.CA, serial int64) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	ca.Issue(t, serial, certFile, keyFile)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool,
		RootCAs:      ca.Pool,
	}
}

// newTLSCluster starts three nodes with certificates of ca.
func newTLSCluster(t *testing.T, ca *testkit.CA) *testCluster {
	t.Helper()
	serial := int64(1)
	return newCluster(t, 3, func(cfg *Config) {
		serial++
		cfg.TLS = nodeTLS(t, ca, serial)
	})
}

func TestTLS_ClusterReplicatesOverMutualTLS(t *testing.T) {
	c := newTLSCluster(t, testkit.NewCA(t, t.TempDir()))
	index := c.propose("over-tls")
	for _, n := range c.live() {
		if err := n.WaitApplied(testCtx(t), index); err != nil {
			t.Fatalf("%s did not apply the entry: %v", n.ID(), err)
		}
	}
}

// A process without a certificate of the cluster CA can neither vote nor
// append entries: its RPCs fail at the handshake and the members' term and
// log are untouched.
func TestTLS_PeerWithoutAClusterCertificateCannotVoteOrAppend(t *testing.T) {
	ca := testkit.NewCA(t, t.TempDir())
	c := newTLSCluster(t, ca)
	target := c.followers()[0]
	term, last := target.Stats().Term, target.raft.LastIndex()

	rogueCA := testkit.NewCA(t, t.TempDir())
	outsiders := map[string]*tls.Config{"plain TCP": nil, "a certificate of another CA": nodeTLS(t, rogueCA, 2)}
	for name, cfg := range outsiders {
		if cfg != nil {
			cfg.RootCAs = ca.Pool // it trusts the cluster; the cluster does not trust it
		}
		trans := outsiderTransport(t, cfg, nil)
		header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("rogue"), Addr: []byte(trans.LocalAddr())}
		vote := &raft.RequestVoteRequest{RPCHeader: header, Term: term + 10, LastLogIndex: last + 10, LastLogTerm: term + 10}
		if err := trans.RequestVote(raft.ServerID(target.ID()), raft.ServerAddress(target.Addr()), vote,
			&raft.RequestVoteResponse{}); err == nil {
			t.Errorf("%s: RequestVote succeeded", name)
		}
		appendReq := &raft.AppendEntriesRequest{RPCHeader: header, Term: term + 10, PrevLogEntry: last, PrevLogTerm: term,
			Entries: []*raft.Log{{Index: last + 1, Term: term + 10, Type: raft.LogCommand, Data: []byte{0xff}}}}
		if err := trans.AppendEntries(raft.ServerID(target.ID()), raft.ServerAddress(target.Addr()), appendReq,
			&raft.AppendEntriesResponse{}); err == nil {
			t.Errorf("%s: AppendEntries succeeded", name)
		}
		if err := trans.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s: close: %v", name, err)
		}
	}
	if got := target.Stats().Term; got != term {
		t.Errorf("the rogue RPCs moved the follower's term from %d to %d", term, got)
	}
	c.propose("after-the-rogue")
	c.waitConverged()
}

// outsiderTransport is a Raft transport on 127.0.0.1 as an outsider would
// run it: hashicorp/raft's own plain TCP one when both tlsCfg and cred are
// nil, else tokend's stream with them.
func outsiderTransport(t *testing.T, tlsCfg *tls.Config, cred *peerauth.Credential) *raft.NetworkTransport {
	t.Helper()
	if tlsCfg == nil && cred == nil {
		trans, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 1, 2*time.Second, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return trans
	}
	stream, err := listenStream("127.0.0.1:0", "", tlsCfg, cred)
	if err != nil {
		t.Fatal(err)
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 1, Timeout: 2 * time.Second, Logger: hclog.NewNullLogger(),
	})
}
