package audit

import (
	"log/slog"

	"github.com/tokend/tokend/fsm"
)

// Observer writes the log events of the replicated log to a Trail as each
// entry applies (it satisfies raftnode.Observer). A write that fails is
// logged; it does not stop the apply loop.
type Observer struct {
	Trail *Trail
	Log   *slog.Logger
}

// Applied writes the events of the entry at index.
func (o *Observer) Applied(index uint64, c fsm.Command, r fsm.Result, at int64) {
	if err := o.Trail.Log(index, LogEvents(index, c, r, at)); err != nil {
		o.Log.Error("audit: cannot write log events", "index", index, "err", err)
	}
}

// Restored writes a snapshot_restored event when the snapshot skips
// entries the trail has not written: their events cannot be derived any
// more. A restart restores the snapshot the trail already covers, which
// writes nothing.
func (o *Observer) Restored(index uint64) {
	e := Event{Timestamp: StampNow(), Type: TypeLog, Action: ActionSnapshotRestored, Index: index}
	if err := o.Trail.Log(index, []Event{e}); err != nil {
		o.Log.Error("audit: cannot write a snapshot event", "index", index, "err", err)
	}
}

// Flush syncs the trail to disk.
func (o *Observer) Flush() error { return o.Trail.Sync() }
