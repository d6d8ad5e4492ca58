package peerauth

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

const testTimeout = 2 * time.Second

var (
	keyA = []byte("cluster-a-credential-0123456789")
	keyB = []byte("cluster-b-credential-0123456789")
)

// pair returns a connected loopback TCP pair (real sockets, so deadlines
// and half-closes behave as on the Raft port).
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// both runs the two sides concurrently and returns their errors.
func both(t *testing.T, serverKey, clientKey []byte) (serverErr, clientErr error) {
	t.Helper()
	s, c := pair(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serverErr = ServerHandshake(s, serverKey, testTimeout)
		if serverErr != nil {
			s.Close() // as ServerConn does: the client must not wait out its deadline
		}
	}()
	clientErr = ClientHandshake(c, clientKey, testTimeout)
	if clientErr != nil {
		c.Close()
	}
	wg.Wait()
	return serverErr, clientErr
}

func TestHandshake_SameKeyPassesBothWaysAndTheConnCarriesData(t *testing.T) {
	s, c := pair(t)
	errs := make(chan error, 1)
	go func() { errs <- ServerHandshake(s, keyA, testTimeout) }()
	if err := ClientHandshake(c, keyA, testTimeout); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("server: %v", err)
	}
	go func() { c.Write([]byte("raft")) }()
	got := make([]byte, 4)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "raft" {
		t.Fatalf("after the handshake: %q, %v", got, err)
	}
}

func TestHandshake_WrongKeyFailsOnBothSides(t *testing.T) {
	serverErr, clientErr := both(t, keyA, keyB)
	if !errors.Is(serverErr, ErrBadProof) {
		t.Fatalf("server with another key: %v, want ErrBadProof", serverErr)
	}
	if clientErr == nil {
		t.Fatal("client accepted a server that refused it")
	}
}

// A server that does not hold the key cannot fake its proof: the client
// refuses it even if it skips checking the client.
func TestHandshake_ClientRefusesAServerWithoutTheKey(t *testing.T) {
	s, c := pair(t)
	go func() {
		hello := append([]byte{Version}, make([]byte, nonceLen)...)
		s.Write(hello)
		io.ReadFull(s, make([]byte, 1+nonceLen+macLen))
		s.Write(bytes.Repeat([]byte{7}, macLen))
	}()
	if err := ClientHandshake(c, keyA, testTimeout); !errors.Is(err, ErrBadProof) {
		t.Fatalf("client: %v, want ErrBadProof", err)
	}
}

func TestHandshake_NoKeyRefuses(t *testing.T) {
	s, c := pair(t)
	if err := ServerHandshake(s, nil, testTimeout); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("server without key: %v", err)
	}
	if err := ClientHandshake(c, nil, testTimeout); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("client without key: %v", err)
	}
}

func TestHandshake_GarbageAndOtherVersionsFail(t *testing.T) {
	s, c := pair(t)
	errs := make(chan error, 1)
	go func() { errs <- ServerHandshake(s, keyA, testTimeout) }()
	io.ReadFull(c, make([]byte, 1+nonceLen))
	// What hashicorp/raft's own transport sends first: an RPC type byte and
	// msgpack, padded to the answer's length.
	c.Write(append([]byte{0, 0x86}, bytes.Repeat([]byte{0xa5}, nonceLen+macLen-1)...))
	if err := <-errs; !errors.Is(err, ErrBadVersion) {
		t.Fatalf("server fed garbage: %v, want ErrBadVersion", err)
	}

	s2, c2 := pair(t)
	go s2.Write(append([]byte{Version + 1}, make([]byte, nonceLen)...))
	if err := ClientHandshake(c2, keyA, testTimeout); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("client greeted by another version: %v", err)
	}
}

func TestHandshake_SilenceRunsIntoTheDeadline(t *testing.T) {
	s, c := pair(t)
	_ = c
	start := time.Now()
	err := ServerHandshake(s, keyA, 200*time.Millisecond)
	if err == nil {
		t.Fatal("a silent client passed")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("silent client: %v, want a timeout", err)
	}
	if d := time.Since(start); d > testTimeout {
		t.Fatalf("deadline not kept: %v", d)
	}

	s2, c2 := pair(t)
	_ = s2
	if err := ClientHandshake(c2, keyA, 200*time.Millisecond); err == nil {
		t.Fatal("a silent server passed")
	}
}

func TestHandshake_TruncatedMessagesFail(t *testing.T) {
	s, c := pair(t)
	errs := make(chan error, 1)
	go func() { errs <- ServerHandshake(s, keyA, testTimeout) }()
	io.ReadFull(c, make([]byte, 1+nonceLen))
	c.Write([]byte{Version, 1, 2, 3})
	c.(*net.TCPConn).CloseWrite()
	if err := <-errs; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated answer: %v, want unexpected EOF", err)
	}

	s2, c2 := pair(t)
	go func() {
		s2.Write([]byte{Version, 9})
		s2.(*net.TCPConn).CloseWrite()
	}()
	if err := ClientHandshake(c2, keyA, testTimeout); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated challenge: %v, want unexpected EOF", err)
	}
}

// After a failed handshake the accepting side closes the connection and
// hands its caller nothing of what the peer sent, and says why once.
func TestServerConn_NeverPassesBytesAfterAFailedHandshake(t *testing.T) {
	s, c := pair(t)
	var failures []error
	var mu sync.Mutex
	sc := NewServerConn(s, NewCredential(keyA), testTimeout, func(_ net.Conn, err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	})
	go func() {
		io.ReadFull(c, make([]byte, 1+nonceLen))
		answer := append([]byte{Version}, make([]byte, nonceLen+macLen)...)
		c.Write(append(answer, []byte("AppendEntries with term+1")...))
	}()
	buf := make([]byte, 64)
	for i := 0; i < 3; i++ {
		n, err := sc.Read(buf)
		if n != 0 || err != io.EOF {
			t.Fatalf("read %d after a failed handshake: %d bytes %q, %v", i, n, buf[:n], err)
		}
	}
	if _, err := sc.Write([]byte("x")); !errors.Is(err, ErrBadProof) {
		t.Fatalf("write after a failed handshake: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 || !errors.Is(failures[0], ErrBadProof) {
		t.Fatalf("OnFail calls: %v, want one ErrBadProof", failures)
	}
	c.SetReadDeadline(time.Now().Add(testTimeout))
	// The server discarded unread bytes, so the peer sees EOF or a reset;
	// anything but a timeout means the connection is gone.
	if _, err := io.ReadAll(c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the peer's side should see the connection closed: %v", err)
		}
	}
}

// Until the credential is known (a node waiting to join), every accepted
// connection is refused; once set, the same listener admits peers.
func TestServerConn_RefusesUntilTheCredentialIsSet(t *testing.T) {
	cred := NewCredential(nil)
	s, c := pair(t)
	sc := NewServerConn(s, cred, testTimeout, nil)
	if n, err := sc.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("no credential yet: %d, %v", n, err)
	}
	if err := Dial(c, NewCredential(keyA), testTimeout); err == nil {
		t.Fatal("dial into a node without a credential succeeded")
	}

	cred.Set(keyA)
	s2, c2 := pair(t)
	sc2 := NewServerConn(s2, cred, testTimeout, nil)
	errs := make(chan error, 1)
	go func() { errs <- sc2.Handshake() }()
	if err := Dial(c2, NewCredential(keyA), testTimeout); err != nil {
		t.Fatalf("dial once the credential is set: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("server once the credential is set: %v", err)
	}
}
