package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// statusEvery is how often watchLeadership samples every node's status.
const statusEvery = 100 * time.Millisecond

// spinForever burns one core until the process is killed.
func spinForever() {
	for {
	}
}

// startHogs starts n processes that spin on a core each (this binary with
// -spin) and returns the function that kills them.
func startHogs(n int) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGKILL)
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.Command(os.Args[0], "-spin")
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// nodeStatus is the part of /_tokend/cluster/status watchLeadership reads.
type nodeStatus struct {
	State         string `json:"state"`
	Term          uint64 `json:"term"`
	LastContactMs *int64 `json:"last_contact_ms"`
}

// status asks nd for its Raft status as the superuser.
func (n *node) status() (nodeStatus, error) {
	var st nodeStatus
	req, err := http.NewRequest("GET", n.url()+"/_tokend/cluster/status", nil)
	if err != nil {
		return st, err
	}
	req.SetBasicAuth("elastic", password)
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// watchLeadership samples every node's status until ctx ends and returns
// a function that stops and reports how many terms began meanwhile (the
// elections) and the longest last contact a follower reported.
func watchLeadership(ctx context.Context, nodes []*node) func() (int, time.Duration) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		minTerm  uint64
		maxTerm  uint64
		longest  time.Duration
		finished = make(chan struct{})
	)
	go func() {
		defer close(finished)
		tick := time.NewTicker(statusEvery)
		defer tick.Stop()
		for {
			for _, nd := range nodes {
				st, err := nd.status()
				if err != nil {
					continue
				}
				mu.Lock()
				if minTerm == 0 || st.Term < minTerm {
					minTerm = st.Term
				}
				maxTerm = max(maxTerm, st.Term)
				if st.State == "follower" && st.LastContactMs != nil {
					longest = max(longest, time.Duration(*st.LastContactMs)*time.Millisecond)
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int, time.Duration) {
		cancel()
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return int(maxTerm - minTerm), longest
	}
}
