// Command scaling measures what read replicas and CPU contention cost one
// leader: for each replica count (and each count of CPU-bound processes
// beside the cluster) it starts 3 voters plus N replicas of tokend on
// loopback, drives a load of client_credentials grants at the leader, and
// reports over a fixed window the leader's CPU, the Raft bytes the leader
// sends, the grant latency percentiles, the elections held and the longest
// silence a follower saw from its leader (docs/scaling.md).
//
// Usage:
//
//	go run ./scripts/bench/scaling [-bin PATH] [-replicas 0,2,4,8] [-hogs 0] [-rate 100] [-warmup 3s] [-duration 15s]
//
// -rate 0 sends grants back to back from maxInFlight workers instead of
// at a steady rate: the leader runs as hard as it can. -hogs 0,2 repeats
// every replica count with that many processes spinning on a core each
// beside the nodes; -bin may be a race-detector build (go build -race) to
// see what the test suite's nodes see.
//
// Every node advertises its Raft address through a counting TCP proxy in
// this process. In hashicorp/raft only the leader (and a candidate asking
// for votes) opens Raft connections, so the bytes that flow from the
// connecting side to the nodes other than the leader are the leader's
// Raft traffic: heartbeats, appended entries, snapshots. The leader's
// HTTP answers (lease renewals, revocation confirmations) are not in it.
// CPU is the leader process's utime+stime from /proc/PID/stat over the
// window. The load is bounded in rate, time and concurrency.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	password   = "scaling-superuser-pw"
	nodeSecret = "scaling-node-secret"
	// maxInFlight bounds the grants under way; a tick that finds every
	// slot busy is counted as dropped, not queued.
	maxInFlight = 64
	// clockTicks is USER_HZ, the unit of utime and stime: 100 on Linux.
	clockTicks = 100
)

func main() {
	bin := flag.String("bin", "", "tokend binary (default: build ./cmd/tokend)")
	counts := flag.String("replicas", "0,2,4,8", "comma-separated replica counts to measure")
	hogs := flag.String("hogs", "0", "comma-separated counts of CPU-bound processes to run beside the cluster")
	rate := flag.Int("rate", 100, "grants per second sent to the leader (0: back to back)")
	warmup := flag.Duration("warmup", 3*time.Second, "load before the window")
	duration := flag.Duration("duration", 15*time.Second, "measured window")
	spin := flag.Bool("spin", false, "spin on one core until killed (a hog; used by -hogs)")
	flag.Parse()
	if *spin {
		spinForever()
	}
	if err := run(*bin, *counts, *hogs, *rate, *warmup, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "scaling:", err)
		os.Exit(1)
	}
}

func run(bin, counts, hogs string, rate int, warmup, duration time.Duration) error {
	root, err := os.MkdirTemp("", "tokend-scaling")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if bin == "" {
		bin = filepath.Join(root, "tokend")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/tokend").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	replicaCounts, err := parseCounts("-replicas", counts)
	if err != nil {
		return err
	}
	hogCounts, err := parseCounts("-hogs", hogs)
	if err != nil {
		return err
	}
	fmt.Printf("| replicas | hogs | grants/s | leader CPU (%% of a core) | leader Raft bytes sent/s | grant p50 | grant p99 | errors | elections | longest follower silence |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range replicaCounts {
		for _, h := range hogCounts {
			dir := filepath.Join(root, fmt.Sprintf("r%d-h%d", n, h))
			res, err := measure(bin, dir, n, h, rate, warmup, duration)
			if err != nil {
				return fmt.Errorf("%d replicas, %d hogs: %w (logs in %s)", n, h, err, dir)
			}
			fmt.Printf("| %d | %d | %.0f | %.1f | %s | %s | %s | %d | %d | %s |\n", n, h, res.grantsPerSec, res.cpuPercent,
				human(res.bytesPerSec), res.p50.Round(100*time.Microsecond), res.p99.Round(100*time.Microsecond), res.errors,
				res.elections, res.silence)
		}
	}
	return nil
}

// parseCounts reads a comma-separated list of non-negative counts.
func parseCounts(flagName, list string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: bad count %q", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// result is one replica count's figures over the window.
type result struct {
	grantsPerSec, cpuPercent, bytesPerSec float64
	p50, p99                              time.Duration
	errors                                int
	// elections is how many terms began during the window; silence is
	// the longest time any follower went without hearing from a leader.
	elections int
	silence   time.Duration
}

// measure runs one cluster of 3 voters and n replicas, with hogs CPU-bound
// processes beside it, and measures it.
func measure(bin, dir string, n, hogs, rate int, warmup, duration time.Duration) (result, error) {
	var res result
	c := &cluster{bin: bin, dir: dir}
	defer c.stop()
	if err := c.start(n); err != nil {
		return res, err
	}
	stopHogs, err := startHogs(hogs)
	if err != nil {
		return res, err
	}
	defer stopHogs()
	token, err := c.nodes[0].grant(`{"grant_type":"password","username":"elastic","password":"`+password+`"}`, nil)
	if err != nil {
		return res, err
	}
	leader := c.nodes[0]
	l := &load{node: leader, token: token}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration)
	defer cancel()
	done := make(chan struct{})
	go func() { l.run(ctx, rate); close(done) }()
	time.Sleep(warmup)
	cpu0, err := cpuTicks(leader.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	bytes0 := c.raftBytes()
	l.reset()
	watch := watchLeadership(ctx, c.nodes)
	start := time.Now()
	<-done
	elapsed := time.Since(start).Seconds()
	res.elections, res.silence = watch()
	cpu1, err := cpuTicks(leader.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	lat, errs := l.take()
	res.grantsPerSec = float64(len(lat)) / elapsed
	res.cpuPercent = float64(cpu1-cpu0) / clockTicks / elapsed * 100
	res.bytesPerSec = float64(c.raftBytes()-bytes0) / elapsed
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	res.errors = errs
	return res, nil
}

// node is one tokend process.
type node struct {
	id, httpAddr, raftAddr string
	proxy                  *proxy
	cmd                    *exec.Cmd
}

func (n *node) url() string { return "http://" + n.httpAddr }

// client is shared by the harness's requests.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: maxInFlight}}

// grant posts a token request and returns the access token.
func (n *node) grant(body string, hdr http.Header) (string, error) {
	req, err := http.NewRequest("POST", n.url()+"/_security/oauth2/token", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("grant: %d %s", resp.StatusCode, b)
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	return v.AccessToken, json.Unmarshal(b, &v)
}

// cluster is 3 voters (node1 bootstraps and leads) and the replicas.
type cluster struct {
	bin, dir string
	nodes    []*node
}

// start starts the voters, then n replicas, and waits until node1 lists
// them all as reachable with their roles.
func (c *cluster) start(n int) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	for i := 1; i <= 3+n; i++ {
		id := fmt.Sprintf("node%d", i)
		if i > 3 {
			id = fmt.Sprintf("replica%d", i-3)
		}
		nd := &node{id: id, httpAddr: freeAddr(), raftAddr: freeAddr()}
		p, err := newProxy(nd.raftAddr)
		if err != nil {
			return err
		}
		nd.proxy = p
		args := []string{"serve", "--node-id", id, "--http-addr", nd.httpAddr, "--raft-addr", nd.raftAddr,
			"--advertise-raft", p.addr(), "--data-dir", filepath.Join(c.dir, id), "--log-level", "warn"}
		switch {
		case i == 1:
			args = append(args, "--bootstrap")
		case i <= 3:
			args = append(args, "--join", c.nodes[0].url())
		default:
			args = append(args, "--join", c.nodes[0].url(), "--replica")
		}
		logf, err := os.Create(filepath.Join(c.dir, id+".log"))
		if err != nil {
			return err
		}
		nd.cmd = exec.Command(c.bin, args...)
		nd.cmd.Env = append(os.Environ(), "ELASTIC_PASSWORD="+password, "TOKEND_NODE_SECRET="+nodeSecret)
		nd.cmd.Stdout, nd.cmd.Stderr = logf, logf
		if err := nd.cmd.Start(); err != nil {
			return err
		}
		c.nodes = append(c.nodes, nd)
		if i == 1 {
			if err := waitFor(30*time.Second, func() error { return ready(nd) }); err != nil {
				return fmt.Errorf("node1 not ready: %w", err)
			}
		}
	}
	return waitFor(90*time.Second, func() error { return c.complete(n) })
}

// complete checks that node1 leads and lists 3 voters and n replicas, all
// reachable.
func (c *cluster) complete(n int) error {
	req, _ := http.NewRequest("GET", c.nodes[0].url()+"/_tokend/cluster/nodes", nil)
	req.SetBasicAuth("elastic", password)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var v struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			Role      string `json:"role"`
			Reachable bool   `json:"reachable"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return err
	}
	roles := map[string]int{}
	for _, nd := range v.Nodes {
		if nd.Reachable {
			roles[nd.Role]++
		}
	}
	if v.Leader != "node1" || roles["voter"] != 3 || roles["replica"] != n {
		return fmt.Errorf("leader %q, reachable roles %v", v.Leader, roles)
	}
	return nil
}

// raftBytes is the bytes sent so far to the nodes other than node1 over
// connections they did not open: the leader's Raft traffic.
func (c *cluster) raftBytes() int64 {
	var sum int64
	for _, nd := range c.nodes[1:] {
		sum += nd.proxy.forward.Load()
	}
	return sum
}

// stop terminates every node and closes the proxies.
func (c *cluster) stop() {
	for _, nd := range slices.Backward(c.nodes) {
		if nd.cmd != nil && nd.cmd.Process != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGKILL)
			_ = nd.cmd.Wait()
		}
		nd.proxy.close()
	}
}

// ready asks nd's readiness probe.
func ready(nd *node) error {
	resp, err := client.Get(nd.url() + "/_tokend/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("readyz %d", resp.StatusCode)
	}
	return nil
}

// load sends grants at a steady rate and records their latencies.
type load struct {
	node  *node
	token string

	mu     sync.Mutex
	lat    []time.Duration
	errors int
}

// run sends rate grants a second until ctx ends, at most maxInFlight at
// once; with rate 0 it keeps maxInFlight grants under way.
func (l *load) run(ctx context.Context, rate int) {
	slots := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	hdr := http.Header{"Authorization": {"Bearer " + l.token}}
	for {
		if rate > 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				l.record(0, errors.New("dropped: every slot busy"))
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case slots <- struct{}{}:
			}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			start := time.Now()
			_, err := l.node.grant(`{"grant_type":"client_credentials"}`, hdr)
			l.record(time.Since(start), err)
		})
	}
}

func (l *load) record(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errors++
		return
	}
	l.lat = append(l.lat, d)
}

// reset forgets what was recorded (the warm-up).
func (l *load) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lat, l.errors = nil, 0
}

// take returns the latencies and the error count.
func (l *load) take() ([]time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lat), l.errors
}

// percentile returns the p-th percentile of lat (nearest rank).
func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

// cpuTicks reads utime+stime of pid.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return ut + st, nil
}

// human renders a byte rate.
func human(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it succeeds or timeout passes.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
