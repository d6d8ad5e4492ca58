package faults

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

// SocketOwner finds which of a set of processes holds the local end of a TCP
// connection that a proxy accepted, by reading Linux's /proc: the socket
// table gives the inode of the dialler's socket, and the dialler's file
// descriptors name that inode. It is how a proxy in front of one node tells
// which node dialled it, whatever the protocol (plain or TLS) on the wire.
type SocketOwner struct {
	// Pids returns the processes to search, by name.
	Pids func() map[string]int
}

// ProcAvailable reports whether the /proc socket table this lookup needs is
// readable on this machine.
func ProcAvailable() bool {
	_, err := os.Stat("/proc/net/tcp")
	return err == nil
}

// Owner returns the name of the process whose socket has local address
// remote and peer address local (the proxy's side), or "" if none does.
func (o SocketOwner) Owner(remote, local net.Addr) string {
	inode, err := socketInode(remote, local)
	if err != nil || inode == "" {
		return ""
	}
	want := "socket:[" + inode + "]"
	for name, pid := range o.Pids() {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + "/" + fd.Name()); err == nil && link == want {
				return name
			}
		}
	}
	return ""
}

// socketInode returns the inode of the IPv4 socket from src to dst in
// /proc/net/tcp.
func socketInode(src, dst net.Addr) (string, error) {
	s, err := procAddr(src)
	if err != nil {
		return "", err
	}
	d, err := procAddr(dst)
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == s && fields[2] == d {
			return fields[9], nil
		}
	}
	return "", sc.Err()
}

// procAddr formats an IPv4 TCP address as /proc/net/tcp writes it: the
// address as a little-endian hex word, the port in hex.
func procAddr(a net.Addr) (string, error) {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP.To4() == nil {
		return "", fmt.Errorf("not an IPv4 TCP address: %v", a)
	}
	ip := ta.IP.To4()
	word := uint32(ip[0]) | uint32(ip[1])<<8 | uint32(ip[2])<<16 | uint32(ip[3])<<24
	return strings.ToUpper(fmt.Sprintf("%08x:%04x", word, ta.Port)), nil
}
