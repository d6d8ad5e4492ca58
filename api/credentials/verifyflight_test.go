package credentials

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestVerifyFlights_ACheckWhoseRequestEndedDoesNotAnswerTheOthers(t *testing.T) {
	g := newVerifyFlights()
	key := flightKey{1}
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := g.do(context.Background(), key, func() (bool, error) {
			close(started)
			<-release
			return false, context.Canceled // as when its client went away waiting for a slot
		})
		first <- err
	}()
	<-started
	second := make(chan error, 1)
	go func() {
		ok, err := g.do(context.Background(), key, func() (bool, error) { return true, nil })
		if err == nil && !ok {
			err = errors.New("the password did not match")
		}
		second <- err
	}()
	eventually(t, 3*time.Second, "the second check waits for the first", func() bool { return g.joined.Load() == 1 })
	close(release)
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first check: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second check, after the first gave up: %v", err)
	}
}
