package raftnode

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A node advertised by host name is recorded and dialled by that name, not by
// the IP it resolved to at start (a container's IP changes across restarts).
func TestStream_AdvertisesTheConfiguredNameAndDialsIt(t *testing.T) {
	target, err := listenStream("127.0.0.1:0", "", nil, testCredential)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if got, bound := target.Addr().String(), target.Listener.Addr().String(); got != bound {
		t.Fatalf("without an advertised address: %q, want the bound %q", got, bound)
	}
	_, port, err := net.SplitHostPort(target.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	byName := "localhost:" + port
	named, err := listenStream("127.0.0.1:0", byName, nil, testCredential)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	if got := named.Addr().String(); got != byName {
		t.Fatalf("advertised %q, want the name as configured, %q", got, byName)
	}

	accepted := make(chan error, 1)
	go func() {
		c, err := target.Accept()
		if err == nil {
			err = c.(interface{ Handshake() error }).Handshake()
			c.Close()
		}
		accepted <- err
	}()
	conn, err := named.Dial(raft.ServerAddress(byName), time.Second)
	if err != nil {
		t.Fatalf("dial by name: %v", err)
	}
	conn.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("accept: %v", err)
	}
}
