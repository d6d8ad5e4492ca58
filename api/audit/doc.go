// Package audit writes tokend's audit trail: JSON lines with Elasticsearch's
// audit field names, to a file rotated by size.
//
// It lives under api because the HTTP edge is what writes its request
// events; cmd/tokend hands the same trail to raftnode as the observer of
// applied entries for its log events. It imports only fsm.
//
// Two kinds of events go to it. Request events (event.type "rest") are
// written by the node that served the request. Log events (event.type
// "log") are derived from the replicated log as each entry applies
// (LogEvents), carry the entry's index (log.index) and the log's own clock,
// and are therefore the same, in the same order, on every node. A node that
// crashed rewrites on restart the log events it had applied but not yet
// written: Raft replays the log from the last snapshot, and the trail skips
// the indexes its files already hold (Trail.Resume). The trail is flushed
// to disk before every Raft snapshot, so no entry is compacted away before
// its events are written.
//
// No event holds a secret: no token, password, hash or token digest.
package audit
