package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// proxy forwards TCP connections to a target and counts the bytes that
// flow from the connecting side to the target.
type proxy struct {
	ln      net.Listener
	target  string
	forward atomic.Int64
	wg      sync.WaitGroup
}

// newProxy listens on a free loopback port and forwards to target.
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(in)
	}
}

// serve copies both ways until either side closes.
func (p *proxy) serve(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	go func() {
		_, _ = io.Copy(in, out)
		in.Close()
	}()
	_, _ = io.Copy(counter{out, &p.forward}, in)
	out.Close()
}

// close stops accepting; open connections end with their processes.
func (p *proxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

// counter adds the bytes written through it to n.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
