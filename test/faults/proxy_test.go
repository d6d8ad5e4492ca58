package faults

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers each line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through c and reads it back within d.
func roundTrip(c net.Conn, d time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		err = errors.New("echo garbled")
	}
	return err
}

func newTestProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := NewProxy("127.0.0.1:0", echoServer(t), func(_, _ net.Addr) string { return "peer" })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxy_BlackholeHoldsTrafficAndHealResetsTheHeldConnection(t *testing.T) {
	p := newTestProxy(t)
	c := dial(t, p)
	if err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatalf("open link: %v", err)
	}
	p.Block("peer", Blackhole)
	var ne net.Error
	if err := roundTrip(c, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("blackholed link answered: %v", err)
	}
	p.Heal("peer")
	if err := roundTrip(c, 5*time.Second); err == nil {
		t.Fatal("a connection held by the blackhole was resumed after heal")
	}
	if err := roundTrip(dial(t, p), 5*time.Second); err != nil {
		t.Fatalf("new connection after heal: %v", err)
	}
}

func TestProxy_DropClosesConnectionsAndRefuseRefusesThem(t *testing.T) {
	p := newTestProxy(t)
	p.Block("peer", Drop)
	if err := roundTrip(dial(t, p), 5*time.Second); err == nil {
		t.Fatal("a dropped link answered")
	}
	p.Heal("peer")
	p.Refuse()
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("a refusing proxy accepted a connection")
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dial(t, p), 5*time.Second); err != nil {
		t.Fatalf("after listening again: %v", err)
	}
}

func TestSocketOwner_NamesTheProcessThatDialled(t *testing.T) {
	requireProc(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	owner := SocketOwner{Pids: func() map[string]int { return map[string]int{"self": os.Getpid()} }}
	if got := owner.Owner(in.RemoteAddr(), in.LocalAddr()); got != "self" {
		t.Fatalf("owner %q, want self", got)
	}
	none := SocketOwner{Pids: func() map[string]int { return map[string]int{} }}
	if got := none.Owner(in.RemoteAddr(), in.LocalAddr()); got != "" {
		t.Fatalf("owner %q among no processes", got)
	}
}
