package faults

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// firewallUIDBase is the first uid nodes run under when the cluster uses a
// Firewall; each test process takes ten uids of its own above it.
const firewallUIDBase = 1_500_000_000

// useFirewall sets up c.fw where iptables can be used (root): each node
// runs under a uid of its own, whose connections the firewall marks. root
// is the directory of the nodes' data dirs. Elsewhere links are cut by the
// proxies only and the firewall scenarios fall back to them.
func (c *cluster) useFirewall(root string) {
	fw, err := NewFirewall()
	if err != nil {
		c.t.Logf("no packet-dropping partitions here (%v); the proxies cut links instead", err)
		return
	}
	c.t.Cleanup(func() {
		if err := fw.Close(); err != nil {
			c.t.Error(err)
		}
	})
	// The nodes' users must reach their data dirs and the binary, in
	// directories this test made (a TOKEND_FAULT_BINARY is left as it is).
	dirs := []string{root, filepath.Dir(root)}
	if os.Getenv("TOKEND_FAULT_BINARY") == "" {
		dirs = append(dirs, filepath.Dir(binPath))
	}
	for _, dir := range dirs {
		if err := os.Chmod(dir, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	base := firewallUIDBase + uint32(os.Getpid()%100_000)*10
	for i, nd := range c.nodes {
		nd.uid = base + uint32(i) + 1
		if err := fw.Mark(nd.uid); err != nil {
			c.t.Fatal(err)
		}
	}
	c.fw = fw
}

// firewall cuts every link between a node of one group and a node of
// another, both ways, by dropping their packets (Firewall). c.fw must be
// set.
func (c *cluster) firewall(groups ...[]*node) {
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					c.drop(a, b)
					c.drop(b, a)
				}
			}
		}
	}
}

// drop drops the packets of the connections src dials to dst.
func (c *cluster) drop(src, dst *node) {
	if err := c.fw.Cut(src.uid, port(c, dst.raftProxy.Addr()), port(c, dst.httpProxy.Addr())); err != nil {
		c.t.Fatal(err)
	}
}

// port is the port of addr (host:port).
func port(c *cluster, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		c.t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}
