package peerauth

import (
	"io"
	"net"
	"sync"
	"time"
)

// ServerConn is an accepted connection whose first Read or Write runs the
// server side of the handshake with the credential as it is at that
// moment. Running it there, rather than in Accept, lets the caller's
// per-connection goroutine wait on a slow peer instead of the accept loop.
//
// After a failed handshake the connection is closed, nothing the peer sent
// is ever returned, Read answers io.EOF (so a caller such as hashicorp/raft
// drops the connection without logging it as a decoding error: OnFail is
// where failures are reported) and Write answers the handshake's error.
type ServerConn struct {
	net.Conn
	cred    *Credential
	timeout time.Duration
	onFail  func(net.Conn, error)

	once sync.Once
	err  error
}

// NewServerConn wraps an accepted conn. The handshake must complete within
// timeout; onFail, when not nil, is called once with the reason if it
// fails.
func NewServerConn(conn net.Conn, cred *Credential, timeout time.Duration, onFail func(net.Conn, error)) *ServerConn {
	return &ServerConn{Conn: conn, cred: cred, timeout: timeout, onFail: onFail}
}

// Handshake runs the handshake once and returns its result.
func (c *ServerConn) Handshake() error {
	c.once.Do(func() {
		key, _ := c.cred.Secret()
		if err := ServerHandshake(c.Conn, key, c.timeout); err != nil {
			c.err = err
			c.Conn.Close()
			if c.onFail != nil {
				c.onFail(c.Conn, err)
			}
		}
	})
	return c.err
}

// Read completes the handshake, then reads.
func (c *ServerConn) Read(p []byte) (int, error) {
	if c.Handshake() != nil {
		return 0, io.EOF
	}
	return c.Conn.Read(p)
}

// Write completes the handshake, then writes.
func (c *ServerConn) Write(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Dial authenticates a freshly dialled conn with the credential (client
// side) within timeout, closing it on failure.
func Dial(conn net.Conn, cred *Credential, timeout time.Duration) error {
	key, ok := cred.Secret()
	if !ok {
		conn.Close()
		return ErrNoCredential
	}
	if err := ClientHandshake(conn, key, timeout); err != nil {
		conn.Close()
		return err
	}
	return nil
}
