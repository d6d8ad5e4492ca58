package raftnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokend/tokend/raftnode/peerauth"
)

// tlsHandshakeTimeout bounds the TLS handshake of a Raft connection, so a
// peer that connects and stays silent does not hold a connection forever.
const tlsHandshakeTimeout = 10 * time.Second

// credHandshakeTimeout bounds the credential handshake of a Raft
// connection: four small messages between members.
const credHandshakeTimeout = 5 * time.Second

// tcpStream is the Raft transport's stream layer: mutual TLS when tlsConfig
// is set, otherwise TCP authenticated by the node credential's handshake
// (peerauth) before a byte of Raft traffic is read or sent. It advertises
// the configured address exactly as given.
// raft's own TCP transport resolves the advertised address to an IP once at
// start, so a node advertised as "tokend1:9300" would be recorded under its
// container's IP at that moment and become unreachable when a restart gives
// it another one; peers dial the name instead and resolve it at each
// connection.
type tcpStream struct {
	net.Listener
	advertise net.Addr
	// tlsConfig, when set, secures every connection in both directions:
	// accepted ones must present a certificate it verifies (ClientAuth is
	// RequireAndVerifyClientCert), dialled ones verify the peer's
	// certificate for the dialled host name.
	tlsConfig *tls.Config
	// cred authenticates connections without tlsConfig, in both
	// directions. While it is empty (a node waiting for its join answer)
	// every connection is refused.
	cred *peerauth.Credential
	// onAuthFail, when set, is told of every accepted connection refused
	// by the credential handshake.
	onAuthFail func(net.Conn, error)
}

// listenStream listens on bind and advertises advertise, or the bound
// address when advertise is empty. With tlsConfig, connections are TLS;
// otherwise they are authenticated with cred.
func listenStream(bind, advertise string, tlsConfig *tls.Config, cred *peerauth.Credential) (*tcpStream, error) {
	if tlsConfig == nil && cred == nil {
		return nil, errors.New("raft stream: neither TLS nor a node credential")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &tcpStream{Listener: ln, advertise: ln.Addr(), tlsConfig: tlsConfig, cred: cred}
	if advertise != "" {
		s.advertise = advertisedAddr(advertise)
	}
	return s, nil
}

// Accept returns the next connection. Its TLS or credential handshake
// (bounded by tlsHandshakeTimeout, credHandshakeTimeout) runs on first
// use, in the transport's goroutine for that connection, not here: one slow
// peer must not hold up the others. A connection that fails it is closed
// before Raft decodes anything from it.
func (s *tcpStream) Accept() (net.Conn, error) {
	conn, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if s.tlsConfig == nil {
		return peerauth.NewServerConn(conn, s.cred, credHandshakeTimeout, s.onAuthFail), nil
	}
	return &handshakeConn{Conn: tls.Server(conn, s.tlsConfig)}, nil
}

// Dial connects to a peer's Raft address, resolving a host name afresh.
// The TLS or credential handshake completes before Dial returns.
func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: timeout}
	if s.tlsConfig == nil {
		conn, err := dialer.Dial("tcp", string(addr))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if err := peerauth.Dial(conn, s.cred, credHandshakeTimeout); err != nil {
			return nil, fmt.Errorf("dial %s: node credential handshake: %w", addr, err)
		}
		return conn, nil
	}
	host, _, err := net.SplitHostPort(string(addr))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	cfg := s.tlsConfig.Clone()
	cfg.ServerName = host
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := (&tls.Dialer{NetDialer: dialer, Config: cfg}).DialContext(ctx, "tcp", string(addr))
	if err != nil {
		return nil, fmt.Errorf("dial %s over TLS: %w", addr, err)
	}
	return conn, nil
}

// Addr is the address peers dial: the advertised one.
func (s *tcpStream) Addr() net.Addr { return s.advertise }

// advertisedAddr is a TCP address kept in the form the operator wrote it.
type advertisedAddr string

// Network is always "tcp".
func (advertisedAddr) Network() string { return "tcp" }

// String is the address as configured, host name included.
func (a advertisedAddr) String() string { return string(a) }

// handshakeConn is an accepted TLS connection whose first Read or Write
// runs the handshake under a deadline. A failed handshake (no certificate,
// one the cluster CA did not sign) fails that call, so the transport drops
// the connection before reading a single Raft message from it.
type handshakeConn struct {
	*tls.Conn
	once sync.Once
	err  error
}

// handshake runs the TLS handshake once, bounded by tlsHandshakeTimeout.
func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		defer cancel()
		if err := c.Conn.HandshakeContext(ctx); err != nil {
			c.err = fmt.Errorf("raft TLS handshake with %s: %w", c.RemoteAddr(), err)
		}
	})
	return c.err
}

// Read completes the handshake, then reads.
func (c *handshakeConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Write completes the handshake, then writes.
func (c *handshakeConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
