package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
)

// authStatus sends GET /_security/_authenticate with Basic credentials and
// returns the status, 0 if the request failed; safe in any goroutine.
func authStatus(url, user, password string) int {
	req, err := http.NewRequest("GET", url+"/_security/_authenticate", nil)
	if err != nil {
		return 0
	}
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func TestBasicStampede_SameCredentialsOnAColdNodeRunBcryptOnceAndAllSucceed(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	hash, err := bcrypt.GenerateFromPassword([]byte("fleet-pw"), bcryptCost) // the real cost: a slow check
	if err != nil {
		t.Fatal(err)
	}
	n.propose(&fsm.PutUser{User: fsm.User{Username: "fleet", Hash: hash, Roles: []string{"monitor"}, Enabled: true}})
	gate := n.srv.verify.gate
	before := gate.compares.Load()
	const clients = 64
	codes := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { codes[i] = authStatus(n.ts.URL, "fleet", "fleet-pw") })
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("client %d of %d: status %d", i, clients, code)
		}
	}
	if got := gate.compares.Load() - before; got != 1 {
		t.Fatalf("%d bcrypt comparisons for %d identical requests, want 1", got, clients)
	}
}

func TestVerifyFlights_IdenticalChecksWaitForOneComparisonOthersRunTheirOwn(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	gate := n.srv.verify.gate
	for range cap(gate.slots) { // hold every bcrypt slot so the checks overlap
		gate.slots <- struct{}{}
	}
	before := gate.compares.Load()
	const clients = 8
	codes := make([]int, clients)
	var wrong int
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { codes[i] = authStatus(n.ts.URL, "alice", "alice-pw") })
	}
	wg.Go(func() { wrong = authStatus(n.ts.URL, "alice", "not-alice-pw") })
	flights := n.srv.verify.flights
	eventually(t, 3*time.Second, "all but one of the identical checks wait for the first",
		func() bool { return flights.joined.Load() == clients-1 })
	for range cap(gate.slots) {
		<-gate.slots
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("client %d: status %d", i, code)
		}
	}
	if wrong != http.StatusUnauthorized {
		t.Fatalf("the wrong password, checked at the same time: status %d", wrong)
	}
	if got := gate.compares.Load() - before; got != 2 {
		t.Fatalf("%d bcrypt comparisons, want 2 (one per distinct password)", got)
	}
}

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
