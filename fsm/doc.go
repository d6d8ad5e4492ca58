// Package fsm is tokend's deterministic token state machine: it holds users,
// token digests and node addresses, and changes them only by applying log
// entries. Apply reads no clock, no randomness and does no I/O; time and fresh
// values arrive inside each command, so every replica that applies the same
// entries holds the same state.
//
// # Concurrency
//
// One goroutine applies entries; any number read. A sync.RWMutex guards the
// state. Stored records are immutable values (a change stores a new value
// under its key), so Snapshot only clones the maps under the read lock and
// the returned View is written without holding any lock. Restore decodes into
// a fresh state and swaps it in under the write lock only once the snapshot
// verified, so a damaged snapshot never leaves a half-restored state.
//
// # Memory
//
// Token records are pointer-free values (stored.go): the owner of a token is
// interned once per process and named by a 32-bit ID (owners.go), and the
// sealed pair of a spent refresh token lives in a map of its own. The
// garbage collector therefore never scans the token maps, however many
// tokens the state holds.
//
// # Deduplication
//
// Every command carries a request ID chosen once per client request. Apply
// remembers the Result of each non-zero ID for DedupRetention, so a proposal
// retried after an indeterminate outcome is answered with the first outcome
// instead of being applied twice (a retried refresh would otherwise be seen
// as a second spend).
//
// # Batches
//
// A Batch carries many commands in one log entry, so that concurrent token
// grants cost one Raft entry between them. Apply applies its commands in
// order, each deduplicated by its own request ID, and returns their results
// in Result.Results; a batch never nests another.
package fsm
