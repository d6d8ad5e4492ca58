package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// maxIdlePeerConns is how many idle connections a node keeps to each other
// node, for forwarded writes and node-to-node calls.
const maxIdlePeerConns = 256

// peers is this node's side of its calls to other nodes' APIs: the HTTP
// clients, and the proof that marks a call as this node's.
type peers struct {
	nodeID      string
	cred        *peerauth.Credential
	clusterCert bool
	scheme      string // of other nodes' APIs: https with PeerTLS
	state       *fsm.FSM
	client      *http.Client // forwarding and node-to-node calls
	stream      *http.Client // snapshot transfers, to the leader
}

func newPeers(cfg Config, state *fsm.FSM) *peers {
	p := &peers{nodeID: cfg.NodeID, cred: cfg.Credential, clusterCert: cfg.ClusterCert, scheme: "http", state: state,
		client: newPeerClient(cfg.RequestTimeout, cfg.PeerTLS), stream: newStreamClient(cfg.PeerTLS)}
	if cfg.PeerTLS != nil {
		p.scheme = "https"
	}
	return p
}

// newPeerClient returns the keep-alive client used to reach other nodes,
// over TLS with tlsCfg when it is set.
func newPeerClient(timeout time.Duration, tlsCfg *tls.Config) *http.Client {
	// Every forwarded write holds a connection to the leader for its whole
	// round trip: with fewer idle connections kept than concurrent writes,
	// each burst would close and re-dial (and, between nodes over TLS,
	// re-handshake) most of them.
	t := &http.Transport{
		Proxy:                 nil, // node-to-node traffic never goes through a proxy
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   maxIdlePeerConns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		TLSClientConfig:       tlsCfg.Clone(),
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

// newStreamClient returns the client that carries snapshot transfers from
// a follower to the leader. It has neither an overall nor a response-header
// timeout: a transfer lasts as long as the state is large, and a restore
// answers only once it is done. The request's context bounds it instead:
// it ends when the client goes away, and each node drops a transfer idle
// for too long.
func newStreamClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // node-to-node traffic never goes through a proxy
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     tlsCfg.Clone(),
	}}
}

// Sign marks req, about to be sent to node audience ("" when only its URL
// is known), as this node's own request: this node's ID, the client address
// it vouches for (none if ""), and a proof under the node credential when
// this node knows it (peerauth.Sign). body is req's body; the credential
// itself never leaves the node.
func (c *Cluster) Sign(req *http.Request, audience, clientAddr string, body []byte) {
	c.peers.sign(req, audience, clientAddr, body, false)
}

// sign is Sign, or with unsigned set for a streamed body, which the proof
// does not cover.
func (p *peers) sign(req *http.Request, audience, clientAddr string, body []byte, unsigned bool) {
	req.Header.Set(HeaderForwarded, p.nodeID)
	req.Header.Del(HeaderNodeAuth)
	req.Header.Del(HeaderNodeSecret)
	req.Header.Del(HeaderClientAddr)
	if clientAddr != "" {
		req.Header.Set(HeaderClientAddr, clientAddr)
	}
	secret, ok := p.cred.Secret()
	if !ok {
		return
	}
	digest := peerauth.BodyDigest(body)
	if unsigned {
		digest = peerauth.UnsignedBody
	}
	q := peerauth.Request{Method: req.Method, Target: req.URL.RequestURI(), Audience: audience,
		NodeID: p.nodeID, ClientAddr: clientAddr, BodyDigest: digest}
	req.Header.Set(HeaderNodeAuth, peerauth.Sign(secret, q, time.Now()))
}

// canProveNode reports whether this node can prove to others that it is a
// node: it knows the credential or has a cluster certificate.
func (p *peers) canProveNode() bool {
	_, ok := p.cred.Secret()
	return ok || p.clusterCert
}

// baseURL turns host:port into a base URL with the peer scheme; a URL stays
// as it is.
func (p *peers) baseURL(addr string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimRight(addr, "/")
	}
	return p.scheme + "://" + addr
}

// fetchStatus asks the node at httpAddr (host:port, or a base URL) for its
// status, as a node; id is the node expected there, "" if unknown. The
// request carries a proof, never the credential: an address a bogus join
// recorded learns nothing it can use.
func (p *peers) fetchStatus(ctx context.Context, id, httpAddr string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL(httpAddr)+PathStatus, nil)
	if err != nil {
		return st, err
	}
	p.sign(req, id, "", nil, false)
	resp, err := p.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status of %s answered %d", httpAddr, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("status of %s: %w", httpAddr, err)
	}
	return st, nil
}

// askApplied calls the wait_applied route of node id with fence=true: it
// answers 200 once it has applied index or raised its fence to it (see
// Reads.WaitApplied).
func (p *peers) askApplied(ctx context.Context, id string, index uint64) error {
	addr, ok := p.state.NodeAddr(id)
	if !ok || addr == "" {
		return fmt.Errorf("node %s has no HTTP address yet", id)
	}
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = max(time.Until(dl), time.Millisecond)
	}
	url := fmt.Sprintf("%s://%s%s?index=%d&timeout=%dms&fence=true", p.scheme, addr, PathWaitApplied, index, wait.Milliseconds())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	p.sign(req, id, "", nil, false)
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wait_applied answered %d", resp.StatusCode)
	}
	return nil
}
