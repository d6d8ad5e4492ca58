package peerauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The handshake is a mutual challenge-response keyed on the node
// credential, run on a fresh connection before anything else is read from
// it:
//
//	server -> client: version, server nonce
//	client -> server: version, client nonce, MAC(key, "client", nonces)
//	server -> client: MAC(key, "server", nonces)
//
// The client proves it holds the key by answering the server's fresh
// nonce; the server proves it in turn over both nonces, so a client does
// not hand Raft traffic to an impostor either. Neither side sends anything
// from which the key can be recovered. It authenticates; it does not
// encrypt: without TLS, Raft traffic stays readable on the network.
const (
	// Version is the handshake's protocol version, its first byte on the
	// wire. A peer speaking another version is refused.
	Version byte = 1

	nonceLen = 32
	macLen   = sha256.Size
	label    = "tokend raft handshake v1"
)

// Handshake errors. A failed handshake wraps one of these (or an I/O
// error); none carries key material.
var (
	// ErrNoCredential: this node does not know the cluster's credential
	// yet (it waits to join), so it can neither prove nor check one.
	ErrNoCredential = errors.New("no node credential known yet")
	// ErrBadVersion: the peer speaks another handshake version, or
	// something else altogether.
	ErrBadVersion = errors.New("unknown handshake version")
	// ErrBadProof: the peer's answer was not made with this cluster's
	// credential.
	ErrBadProof = errors.New("peer did not prove the node credential")
)

// ServerHandshake runs the accepting side on conn with key, within timeout.
// It leaves conn's deadline cleared on success.
func ServerHandshake(conn net.Conn, key []byte, timeout time.Duration) error {
	if len(key) == 0 {
		return ErrNoCredential
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	hello := make([]byte, 1+nonceLen)
	hello[0] = Version
	if _, err := rand.Read(hello[1:]); err != nil {
		return err
	}
	if _, err := conn.Write(hello); err != nil {
		return fmt.Errorf("send challenge: %w", err)
	}
	answer := make([]byte, 1+nonceLen+macLen)
	if _, err := io.ReadFull(conn, answer); err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if answer[0] != Version {
		return ErrBadVersion
	}
	serverNonce, clientNonce := hello[1:], answer[1:1+nonceLen]
	if !hmac.Equal(answer[1+nonceLen:], proof(key, "client", serverNonce, clientNonce)) {
		return ErrBadProof
	}
	if _, err := conn.Write(proof(key, "server", serverNonce, clientNonce)); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	return conn.SetDeadline(time.Time{})
}

// ClientHandshake runs the dialling side on conn with key, within timeout.
// It leaves conn's deadline cleared on success.
func ClientHandshake(conn net.Conn, key []byte, timeout time.Duration) error {
	if len(key) == 0 {
		return ErrNoCredential
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	hello := make([]byte, 1+nonceLen)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return fmt.Errorf("read challenge: %w", err)
	}
	if hello[0] != Version {
		return ErrBadVersion
	}
	answer := make([]byte, 1+nonceLen, 1+nonceLen+macLen)
	answer[0] = Version
	if _, err := rand.Read(answer[1:]); err != nil {
		return err
	}
	serverNonce, clientNonce := hello[1:], answer[1:]
	answer = append(answer, proof(key, "client", serverNonce, clientNonce)...)
	if _, err := conn.Write(answer); err != nil {
		return fmt.Errorf("send answer: %w", err)
	}
	got := make([]byte, macLen)
	if _, err := io.ReadFull(conn, got); err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	if !hmac.Equal(got, proof(key, "server", serverNonce, clientNonce)) {
		return ErrBadProof
	}
	return conn.SetDeadline(time.Time{})
}

// proof is HMAC-SHA256 under key of the label, the prover's role and both
// nonces (fixed lengths, so the concatenation is unambiguous).
func proof(key []byte, role string, serverNonce, clientNonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(role))
	m.Write([]byte{0})
	m.Write(serverNonce)
	m.Write(clientNonce)
	return m.Sum(nil)
}
