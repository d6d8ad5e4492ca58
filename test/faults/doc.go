// Package faults proves tokend's consistency guarantees (docs/guarantees.md)
// under injected faults: three real tokend processes on 127.0.0.1 (and, in
// the main run, a read replica the workload reads from too) whose
// node-to-node traffic (Raft and HTTP) passes through fault-injecting TCP
// proxies, a concurrent workload of clients on every node that records each
// request with its invoke and complete times, and a checker that verifies
// the recorded history against the guarantees with a per-token model under
// github.com/anishathalye/porcupine.
//
// The scenarios (leader kill and restart, follower kill, a leader paused
// beyond the election timeout, minority, leader-isolated and majority-ring
// partitions, the leader or a follower cut off by a firewall that drops
// packets (iptables, as root; firewall.go), membership change under load,
// and a full restart at the end)
// run from a seed (-seed or TOKEND_FAULT_SEED) that fixes the fault
// schedule. TOKEND_FAULT_DURATION (e.g. 10m) turns the bounded CI run into a
// soak that repeats seeded scenarios until the duration has passed;
// TOKEND_FAULT_HISTORY and TOKEND_FAULT_LOGS save the history and the
// nodes' logs; TOKEND_FAULT_BINARY tests a given tokend binary instead of
// building one. docs/guarantees.md lists what is checked and how.
package faults
