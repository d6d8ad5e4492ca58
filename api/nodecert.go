package api

import (
	"crypto/x509"
	"net/http"
)

// nodeHeaders are the headers only another node of the cluster sends: a
// forwarded request's origin, client address and request ID, the node's
// proof, and the retired node secret header.
var nodeHeaders = []string{headerForwarded, headerClientAddr, headerNodeAuth, headerNodeSecret, headerRequestID}

// fromClusterNode reports whether r came over TLS with a client certificate
// that chains to the cluster CA (Config.ClusterCA). The TLS layer has
// verified the chain; this checks which CA it ends at, since the listener
// may also accept client certificates of another CA for ordinary clients.
func (s *gate) fromClusterNode(r *http.Request) bool {
	if r.TLS == nil {
		return false
	}
	for _, chain := range r.TLS.VerifiedChains {
		if len(chain) > 0 && s.isClusterCA(chain[len(chain)-1]) {
			return true
		}
	}
	return false
}

// isClusterCA reports whether root is one of the cluster CA certificates.
func (s *gate) isClusterCA(root *x509.Certificate) bool {
	for _, ca := range s.cfg.ClusterCA {
		if ca.Equal(root) {
			return true
		}
	}
	return false
}

// checkNodeOrigin refuses, when the cluster uses mutual TLS, a request that
// acts as another node (it carries a node-to-node header) without a
// certificate of the cluster CA: only members may forward writes, report a
// client's address or present a node proof.
func (s *gate) checkNodeOrigin(r *http.Request) error {
	if len(s.cfg.ClusterCA) == 0 || s.fromClusterNode(r) {
		return nil
	}
	for _, h := range nodeHeaders {
		if r.Header.Get(h) != "" {
			return needNodeCert(h + " header")
		}
	}
	return nil
}

// requireNodeCert is checkNodeOrigin for node-only routes (join): with
// mutual TLS between nodes, a cluster certificate is required whatever
// credentials the request carries.
func (s *gate) requireNodeCert(r *http.Request, action string) error {
	if len(s.cfg.ClusterCA) == 0 || s.fromClusterNode(r) {
		return nil
	}
	return needNodeCert("action [" + action + "]")
}

// needNodeCert is the 403 for a node-to-node call without a cluster
// certificate.
func needNodeCert(what string) error {
	return &esError{status: http.StatusForbidden, typ: "security_exception",
		reason: what + " is reserved to cluster nodes: present a client certificate signed by the cluster CA"}
}
