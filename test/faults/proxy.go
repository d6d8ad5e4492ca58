package faults

import (
	"io"
	"net"
	"sync"
)

// Mode says what a blocked link does to its traffic.
type Mode int

const (
	// Blackhole holds every byte sent on the link, as a network that
	// silently loses packets: connections stay open and nothing arrives.
	Blackhole Mode = iota
	// Drop resets the link's connections and closes new ones at once, as a
	// peer whose port refuses connections.
	Drop
)

// String names the mode in reports.
func (m Mode) String() string {
	if m == Drop {
		return "drop"
	}
	return "blackhole"
}

// Proxy forwards TCP connections from its listen address to one node's
// address and can block the link from any given source node. The source of
// a connection is the node that dialled it, found by Identify; a link is one
// direction (connections dialled by src), which for request/response
// protocols carries both the requests src sends and their answers.
// Connections whose source is unknown (clients, the test) are never
// blocked.
type Proxy struct {
	addr     string
	ln       net.Listener
	target   string
	identify func(remote, local net.Addr) string

	mu      sync.Mutex
	blocked map[string]*block
	conns   map[*proxyConn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// block is one blocked link: healed is closed when it is healed.
type block struct {
	mode   Mode
	healed chan struct{}
}

// proxyConn is one forwarded connection.
type proxyConn struct {
	src       string
	in, out   net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (c *proxyConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.in.Close()
		c.out.Close()
	})
}

// NewProxy listens on listen (host:port, port 0 for any) and forwards to
// target. identify names the node that dialled an accepted connection, or
// returns "".
func NewProxy(listen, target string, identify func(remote, local net.Addr) string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{addr: ln.Addr().String(), ln: ln, target: target, identify: identify,
		blocked: map[string]*block{}, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

// Addr is the address the proxy listens on, to be advertised for the node.
func (p *Proxy) Addr() string { return p.addr }

// Refuse stops listening and closes every connection, so that peers see
// their connections refused, as they do when the node is down.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.close()
	}
}

// Listen listens again on the proxy's address after Refuse.
func (p *Proxy) Listen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil || p.closed {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// Block blocks the link from src in mode. Blocking a blocked link changes
// its mode.
func (p *Proxy) Block(src string, mode Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.blocked[src]; ok {
		b.mode = mode
	} else {
		p.blocked[src] = &block{mode: mode, healed: make(chan struct{})}
	}
	if mode == Drop {
		p.closeFromLocked(src)
	}
}

// Heal unblocks the link from src. Connections that lived through the block
// are reset rather than resumed, so that no request held by a blackhole is
// delivered late; the nodes reconnect.
func (p *Proxy) Heal(src string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.blocked[src]
	if !ok {
		return
	}
	delete(p.blocked, src)
	close(b.healed)
	p.closeFromLocked(src)
}

// HealAll unblocks every link.
func (p *Proxy) HealAll() {
	p.mu.Lock()
	srcs := make([]string, 0, len(p.blocked))
	for src := range p.blocked {
		srcs = append(srcs, src)
	}
	p.mu.Unlock()
	for _, src := range srcs {
		p.Heal(src)
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
	}
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) closeFromLocked(src string) {
	for c := range p.conns {
		if c.src == src {
			c.close()
		}
	}
}

func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(in)
	}
}

// serve identifies the source of in, dials the target and pipes both ways.
func (p *Proxy) serve(in net.Conn) {
	defer p.wg.Done()
	src := p.identify(in.RemoteAddr(), in.LocalAddr())
	if mode, blocked := p.blockMode(src); blocked && mode == Drop {
		in.Close()
		return
	}
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	c := &proxyConn{src: src, in: in, out: out, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	var pipes sync.WaitGroup
	pipes.Go(func() { p.pipe(c, in, out) })
	pipes.Go(func() { p.pipe(c, out, in) })
	pipes.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// blockMode returns the mode of src's block and whether its link is
// blocked.
func (p *Proxy) blockMode(src string) (Mode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.blocked[src]; ok && src != "" {
		return b.mode, true
	}
	return 0, false
}

// pipe copies from r to w, holding each chunk while c's link is blocked.
func (p *Proxy) pipe(c *proxyConn, r io.Reader, w io.Writer) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if !p.waitOpen(c) {
				return
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitOpen returns true once c's link is open, false once c is closed.
func (p *Proxy) waitOpen(c *proxyConn) bool {
	for {
		p.mu.Lock()
		b, blocked := p.blocked[c.src]
		p.mu.Unlock()
		if !blocked || c.src == "" {
			return true
		}
		select {
		case <-b.healed:
		case <-c.done:
			return false
		}
	}
}
