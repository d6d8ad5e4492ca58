package cluster

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
)

func TestLogClock_StampsNeverRunBackwards(t *testing.T) {
	t.Parallel()
	base := time.UnixMilli(1_700_000_000_000)
	var wall atomic.Int64 // ms after base
	state := fsm.New()
	c := &Clock{wall: func() time.Time { return base.Add(time.Duration(wall.Load()) * time.Millisecond) }, state: state,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	at := func(d time.Duration) int64 { return base.Add(d).UnixMilli() }

	// A leader 10 min ahead committed an entry: an on-time leader stamps
	// the log's time, not its own.
	state.Apply(1, &fsm.SetNode{Meta: fsm.Meta{Time: at(10 * time.Minute)}, NodeID: "n3", HTTPAddr: "n3:9200"})
	if got := c.Stamp(); got != at(10*time.Minute) {
		t.Fatalf("stamp %d, want the log's time %d", got, at(10*time.Minute))
	}
	wall.Store((11 * time.Minute).Milliseconds())
	if got := c.Stamp(); got != at(11*time.Minute) {
		t.Fatalf("stamp %d, want the wall clock %d once it is ahead", got, at(11*time.Minute))
	}
	// The wall clock steps back an hour before anything was applied.
	wall.Store((-49 * time.Minute).Milliseconds())
	if got := c.Stamp(); got != at(11*time.Minute) {
		t.Fatalf("stamp %d after a step back, want the latest stamp %d", got, at(11*time.Minute))
	}
	if got := c.Now(); got != at(11*time.Minute) {
		t.Fatalf("now %d after a step back, want %d", got, at(11*time.Minute))
	}
}
