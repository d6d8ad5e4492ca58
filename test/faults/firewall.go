package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Firewall cuts links between nodes in the kernel, with iptables rules that
// drop packets, as a firewall rule or a dead link would: a cut-off peer sees
// no reset and no answer, its packets are retransmitted until TCP gives up,
// and nothing in user space (unlike the proxy's blackhole) holds or
// acknowledges them.
//
// All nodes run on 127.0.0.1, so a packet is told apart by its connection:
// every node runs under a uid of its own, and the first packet of each
// connection a node dials gives the connection that node's mark
// (CONNMARK); the connection's original destination port names the node it
// dialled (the port of that node's proxy). A cut from a to b drops every
// packet, both ways, of the connections a dialled to b's ports. Clients and
// the proxies run as the test's own user and are never cut.
//
// The rules live in a chain of their own (TOKEND_FAULTS_<pid>), jumped to
// from OUTPUT (loopback packets cross it once), so that they touch only
// this process's nodes and Close removes them all at once.
type Firewall struct {
	chain string

	mu    sync.Mutex
	drops [][]string // the drop rules in place, to delete on Heal
}

// ErrNoFirewall is returned by NewFirewall where iptables cannot be used.
var ErrNoFirewall = errors.New("faults: iptables is unavailable")

// NewFirewall creates the chain and its jump from OUTPUT. It fails with
// ErrNoFirewall unless the process is root and iptables works.
func NewFirewall() (*Firewall, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not running as root", ErrNoFirewall)
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	f := &Firewall{chain: "TOKEND_FAULTS_" + strconv.Itoa(os.Getpid())}
	if err := iptables("-N", f.chain); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	if err := iptables("-I", "OUTPUT", "-j", f.chain); err != nil {
		_ = iptables("-X", f.chain)
		return nil, fmt.Errorf("%w: %v", ErrNoFirewall, err)
	}
	return f, nil
}

// Mark gives the connections that processes of uid open the mark uid, so
// that Cut can find them. Call it once per node, before the node starts.
func (f *Firewall) Mark(uid uint32) error {
	return iptables("-A", f.chain, "-m", "conntrack", "--ctstate", "NEW", "-m", "owner", "--uid-owner", strconv.FormatUint(uint64(uid), 10),
		"-j", "CONNMARK", "--set-mark", strconv.FormatUint(uint64(uid), 10))
}

// Cut drops, both ways, every packet of the connections the node running
// as uid dials to ports (the ports of another node's proxies).
func (f *Firewall) Cut(uid uint32, ports ...int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range ports {
		rule := []string{f.chain, "-p", "tcp", "-m", "connmark", "--mark", strconv.FormatUint(uint64(uid), 10),
			"-m", "conntrack", "--ctorigdstport", strconv.Itoa(p), "-j", "DROP"}
		if err := iptables(append([]string{"-A"}, rule...)...); err != nil {
			return err
		}
		f.drops = append(f.drops, rule)
	}
	return nil
}

// Heal deletes every drop rule; the marks stay.
func (f *Firewall) Heal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, rule := range f.drops {
		errs = append(errs, iptables(append([]string{"-D"}, rule...)...))
	}
	f.drops = nil
	return errors.Join(errs...)
}

// Close removes the jump and the chain with every rule in it.
func (f *Firewall) Close() error {
	return errors.Join(iptables("-D", "OUTPUT", "-j", f.chain), iptables("-F", f.chain), iptables("-X", f.chain))
}

// iptables runs iptables with args, waiting for the xtables lock that
// other processes may hold.
func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
