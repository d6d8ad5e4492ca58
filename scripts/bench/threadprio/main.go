// Command threadprio measures both sides of the priority of bcrypt's
// threads under CPU contention: it compares passwords back to back on the
// bcrypt gate's number of slots (GOMAXPROCS-1, at least 1), each on a
// thread locked at the given priority, starts CPU-bound processes beside
// it, and reports how late a 10 ms timer in the process fires, the way
// Raft's heartbeat timers would, and how long each comparison took, the
// way a password grant waits for it (api/credentials/gate.go).
//
// Usage:
//
//	GOMAXPROCS=1 go run ./scripts/bench/threadprio [-mode nice|idle|none] [-nice 5] [-hogs 2] [-d 5s]
//
// The defaults (nice 5) are what tokend's gate does.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

func main() {
	mode := flag.String("mode", "nice", "priority of the bcrypt threads: nice (-nice), idle (SCHED_IDLE and nice 19), none")
	nice := flag.Int("nice", 5, "nice value of the bcrypt threads in -mode nice")
	hogs := flag.Int("hogs", 2, "CPU-bound processes to run beside")
	d := flag.Duration("d", 5*time.Second, "how long to measure")
	spin := flag.Bool("spin", false, "spin on one core until killed (a hog)")
	flag.Parse()
	if *spin {
		for {
		}
	}
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for range *hogs {
		c := exec.Command(os.Args[0], "-spin")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "threadprio:", err)
			return
		}
		cmds = append(cmds, c)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	stop := make(chan struct{})
	slots := max(1, runtime.GOMAXPROCS(0)-1)
	took := make(chan []time.Duration, slots)
	for range slots {
		go func() { took <- compareUntil(stop, hash, *mode, *nice) }()
	}
	var late []time.Duration
	for end := time.Now().Add(*d); time.Now().Before(end); {
		t0 := time.Now()
		time.Sleep(10 * time.Millisecond)
		late = append(late, time.Since(t0)-10*time.Millisecond)
	}
	close(stop)
	var compares []time.Duration
	for range slots {
		compares = append(compares, <-took...)
	}
	label := *mode
	if *mode == "nice" {
		label = fmt.Sprintf("nice %d", *nice)
	}
	fmt.Printf("GOMAXPROCS=%d mode=%s hogs=%d: %d ticks, late by %s; %d comparisons, each took %s\n", runtime.GOMAXPROCS(0), label, *hogs,
		len(late), quantiles(late), len(compares), quantiles(compares))
}

// quantiles formats the p50, p99 and maximum of ds ("-" when empty).
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	slices.Sort(ds)
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", r(ds[len(ds)/2]), r(ds[len(ds)*99/100]), r(ds[len(ds)-1]))
}

// compareUntil compares a password with hash, one comparison after
// another, each on a fresh thread at the priority mode (and nice) names,
// and returns how long each comparison took, thread start included.
func compareUntil(stop <-chan struct{}, hash []byte, mode string, nice int) []time.Duration {
	var took []time.Duration
	for {
		select {
		case <-stop:
			return took
		default:
		}
		t0 := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			switch mode {
			case "idle":
				_ = unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_IDLE, Nice: 19}, 0)
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
			case "nice":
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
			}
			_ = bcrypt.CompareHashAndPassword(hash, []byte("pw"))
		}()
		<-done
		took = append(took, time.Since(t0))
	}
}
