package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// Node-to-node requests. A node proves it is one with a certificate of the
// cluster CA (Config.ClusterCA) and, whenever it knows the node credential
// (Config.Credential), with a proof in headerNodeAuth (peerauth.Sign): an
// HMAC under the credential of the request (method, target, body), the node
// it is meant for, the calling node's ID (headerForwarded) and the client
// address it vouches for (headerClientAddr), with a time and a nonce. The
// credential itself never leaves the node, and a proof is accepted once, so
// a captured one (or one sent to an address a bogus join recorded) cannot
// be used again (credentials.NodeGuard). The older X-Tokend-Node-Secret
// header, which carried the secret itself, is refused as a failed node
// authentication and never compared.
const headerNodeAuth = cluster.HeaderNodeAuth

// headerClientAddr carries, on a request a follower forwards to the leader,
// the address of the client that sent it. The leader trusts it only from a
// node (peerOf): under the node's proof, which covers it, or over a cluster
// certificate.
const headerClientAddr = cluster.HeaderClientAddr

// Paths of node routes that accept a proof meant for any node (a URL, not
// a known member, was asked).
const (
	joinPath   = cluster.PathJoin
	statusPath = cluster.PathStatus
)

// nodeFailure is why a node authentication failed: the values of
// tokend_node_auth_failures_total's reason label.
type nodeFailure uint8

const (
	nodeFailMalformed    nodeFailure = iota // not a proof
	nodeFailStale                           // outside the time window
	nodeFailInvalid                         // does not match (wrong credential, altered request)
	nodeFailReplayed                        // already used
	nodeFailNoCredential                    // this node knows no credential to check it with
	nodeFailRawSecret                       // the retired X-Tokend-Node-Secret header
	nodeFailRateLimited                     // refused unchecked: the address is out of budget (429)
	numNodeFailures
)

var nodeFailureNames = [numNodeFailures]string{"malformed", "stale", "invalid", "replayed", "no_credential",
	"raw_secret", "rate_limited"}

// nodeGuard checks node proofs (credentials.NodeGuard: the replay guard and
// the failure limits per remote address) and counts their failures.
type nodeGuard struct {
	proofs   *credentials.NodeGuard
	failures [numNodeFailures]prometheus.Counter
}

func newNodeGuard(reg prometheus.Registerer) *nodeGuard {
	g := &nodeGuard{proofs: credentials.NewNodeGuard()}
	vec := promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: "tokend_node_auth_failures_total",
		Help: "Requests refused because their node authentication (X-Tokend-Node-Auth) failed, by reason."},
		[]string{"reason"})
	for i, name := range nodeFailureNames {
		g.failures[i] = vec.WithLabelValues(name)
	}
	return g
}

// peerCall is what a request proved about the node that sent it.
type peerCall struct {
	// nodeID is the calling node's ID (headerForwarded), "" for a node
	// that is not a member yet.
	nodeID string
	// clientAddr is the client address the node vouches for, "" if none.
	clientAddr string
	// proven: it carried a valid proof (not only a cluster certificate).
	proven bool
}

type peerKey struct{}

// peerOf returns what r proved about its sending node, nil if it is not
// from a node.
func peerOf(r *http.Request) *peerCall {
	p, _ := r.Context().Value(peerKey{}).(*peerCall)
	return p
}

// authenticateNode runs on every request (middleware), after
// checkNodeOrigin: a request with a proof must carry a valid one, or it is
// refused whatever else it carries; a valid proof or a cluster certificate
// makes it a node's request (peerOf). Failures are limited per remote
// address (credentials.NodeGuard): past the limit, 429 before the proof is
// even checked.
func (s *gate) authenticateNode(r *http.Request) (*http.Request, error) {
	raw := r.Header.Get(headerNodeSecret) != ""
	proof := r.Header.Get(headerNodeAuth)
	if proof == "" && !raw {
		if !s.fromClusterNode(r) {
			return r, nil
		}
		p := &peerCall{nodeID: r.Header.Get(headerForwarded), clientAddr: r.Header.Get(headerClientAddr)}
		return r.WithContext(context.WithValue(r.Context(), peerKey{}, p)), nil
	}
	remote := remoteHost(r)
	g := s.peers
	var limited *credentials.TooManyFailures
	if errors.As(g.proofs.Admit(remote), &limited) {
		g.failures[nodeFailRateLimited].Inc()
		secs := limited.Seconds()
		return nil, &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
			reason: fmt.Sprintf("too many failed node authentications; try again in %ds", secs), retry: true, retryAfter: secs}
	}
	if raw {
		return nil, g.refuse(remote, nodeFailRawSecret,
			headerNodeSecret+" is not accepted: nodes sign their requests with "+headerNodeAuth)
	}
	secret, ok := s.cfg.Credential.Secret()
	if !ok {
		return nil, g.refuse(remote, nodeFailNoCredential, "this node has no node credential yet")
	}
	digest, err := bodyDigest(r)
	if err != nil {
		return nil, err
	}
	q := peerauth.Request{Method: r.Method, Target: requestTarget(r), NodeID: r.Header.Get(headerForwarded),
		ClientAddr: r.Header.Get(headerClientAddr), BodyDigest: digest}
	audiences := []string{s.cfg.NodeID}
	if r.URL.Path == joinPath || r.URL.Path == statusPath {
		audiences = append(audiences, "") // sent to a URL, not to a known member
	}
	switch err := g.proofs.Verify(remote, secret, proof, q, audiences); {
	case err == nil:
	case errors.Is(err, peerauth.ErrProofBusy):
		s.log.Warn("node proofs refused: the replay guard is full", "err", err)
		return nil, unavailable("status_exception", "too many node requests; retry")
	default:
		g.failures[failureOf(err)].Inc()
		return nil, unauthorized("invalid node authentication: " + err.Error())
	}
	p := &peerCall{nodeID: q.NodeID, clientAddr: q.ClientAddr, proven: true}
	return r.WithContext(context.WithValue(r.Context(), peerKey{}, p)), nil
}

// refuse charges remote with a failed node authentication found without a
// proof to check, counts it and returns its 401.
func (g *nodeGuard) refuse(remote string, why nodeFailure, reason string) error {
	g.proofs.Fail(remote)
	g.failures[why].Inc()
	return unauthorized(reason)
}

// failureOf maps a Verify error to its metric reason.
func failureOf(err error) nodeFailure {
	switch {
	case errors.Is(err, peerauth.ErrProofStale):
		return nodeFailStale
	case errors.Is(err, peerauth.ErrProofReplayed):
		return nodeFailReplayed
	case errors.Is(err, peerauth.ErrProofInvalid):
		return nodeFailInvalid
	}
	return nodeFailMalformed
}

// bodyDigest reads r's body (at most maxBodyBytes+1 bytes, a longer one
// is refused later by limitBody), puts it back and returns its digest; a
// snapshot upload is streamed and unsigned.
func bodyDigest(r *http.Request) (string, error) {
	if isSnapshotUpload(r) {
		return peerauth.UnsignedBody, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return peerauth.BodyDigest(nil), nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return "", err
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	return peerauth.BodyDigest(b), nil
}

// requestTarget is r's request target as the client sent it.
func requestTarget(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// clientAddr is the address failures of r are charged to: the TCP peer's
// IP or, on a node's request, the client address that node vouches for;
// "" for a node's request on its own behalf, so that a node's address is
// never charged for the clients it serves.
func clientAddr(r *http.Request) string {
	if p := peerOf(r); p != nil {
		return p.clientAddr
	}
	return remoteHost(r)
}

// remoteHost is the IP of r's TCP peer.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requireNode admits only nodes to a node-only route: with a cluster CA a
// certificate it signed, else a valid proof.
func (s *gate) requireNode(r *http.Request, action string) error {
	if err := s.requireNodeCert(r, action); err != nil {
		return err
	}
	if peerOf(r) != nil {
		return nil
	}
	return &esError{status: http.StatusForbidden, typ: "security_exception",
		reason: "action [" + action + "] is reserved to cluster nodes"}
}

// nodeOrUser admits a node (as requireNode) or, without the node's proof,
// a user holding want; with a cluster CA, only over a cluster certificate.
func (s *gate) nodeOrUser(r *http.Request, action string, want privilege) error {
	if err := s.requireNodeCert(r, action); err != nil {
		return err
	}
	if peerOf(r) != nil {
		return nil
	}
	_, err := s.authorize(r, action, want)
	return err
}

// checkJoin admits a join: with a cluster CA only over a cluster
// certificate, and from a node proving the credential, a node with an
// outstanding enrollment token, or a superuser.
func (s *gate) checkJoin(r *http.Request) error {
	if err := s.requireNodeCert(r, actionJoin); err != nil {
		return err
	}
	if p := peerOf(r); p != nil && p.proven {
		return nil
	}
	if d, ok := enrollmentOf(r); ok {
		return s.checkEnrollment(d)
	}
	_, err := s.authorize(r, actionJoin, privSuperuser)
	return err
}

// authenticateAny authenticates r's credentials if it carries any, so that
// a follower refuses bad ones itself before forwarding, and charges the
// failure to the client's address rather than the leader to the follower.
func (s *gate) authenticateAny(r *http.Request) error {
	_, err := s.optionalAuth(r)
	return err
}
