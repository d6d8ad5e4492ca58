// Command threadprio measures what the priority of bcrypt's threads costs
// the rest of a process under CPU contention: it compares passwords back
// to back on the bcrypt gate's number of slots (GOMAXPROCS-1, at least 1),
// each on a thread locked at the given priority, starts CPU-bound processes
// beside it, and reports how late a 10 ms timer in the process fires, the
// way Raft's heartbeat timers would (api/credentials/gate.go).
//
// Usage:
//
//	GOMAXPROCS=1 go run ./scripts/bench/threadprio [-mode idle|nice|none] [-hogs 2] [-d 5s]
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
	mode := flag.String("mode", "idle", "priority of the bcrypt threads: idle (SCHED_IDLE and nice 19), nice (nice 19), none")
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
	for range max(1, runtime.GOMAXPROCS(0)-1) {
		go compareUntil(stop, hash, *mode)
	}
	var late []time.Duration
	for end := time.Now().Add(*d); time.Now().Before(end); {
		t0 := time.Now()
		time.Sleep(10 * time.Millisecond)
		late = append(late, time.Since(t0)-10*time.Millisecond)
	}
	close(stop)
	slices.Sort(late)
	fmt.Printf("GOMAXPROCS=%d mode=%s hogs=%d: %d ticks, late by p50 %v, p99 %v, max %v\n", runtime.GOMAXPROCS(0), *mode, *hogs,
		len(late), late[len(late)/2].Round(time.Microsecond), late[len(late)*99/100].Round(time.Microsecond), late[len(late)-1].Round(time.Microsecond))
}

// compareUntil compares a password with hash, one comparison after
// another, each on a fresh thread at the priority mode names.
func compareUntil(stop <-chan struct{}, hash []byte, mode string) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			switch mode {
			case "idle":
				_ = unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_IDLE, Nice: 19}, 0)
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
			case "nice":
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
			}
			_ = bcrypt.CompareHashAndPassword(hash, []byte("pw"))
		}()
		<-done
	}
}
