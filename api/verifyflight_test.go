package api

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
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
	hash, err := credentials.HashPassword("fleet-pw") // the real cost: a slow check
	if err != nil {
		t.Fatal(err)
	}
	n.propose(&fsm.PutUser{User: fsm.User{Username: "fleet", Hash: hash, Roles: []string{"monitor"}, Enabled: true}})
	before := n.srv.gate.passwords.Stats().Compares
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
	if got := n.srv.gate.passwords.Stats().Compares - before; got != 1 {
		t.Fatalf("%d bcrypt comparisons for %d identical requests, want 1", got, clients)
	}
}

func TestVerifyFlights_IdenticalChecksWaitForOneComparisonOthersRunTheirOwn(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	v, free := holdGate(t, n) // so that the checks overlap
	before := v.Stats().Compares
	const clients = 8
	codes := make([]int, clients)
	var wrong int
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { codes[i] = authStatus(n.ts.URL, "alice", "alice-pw") })
	}
	wg.Go(func() { wrong = authStatus(n.ts.URL, "alice", "not-alice-pw") })
	eventually(t, 3*time.Second, "all but one of the identical checks wait for the first",
		func() bool { return v.Stats().Joined == clients-1 })
	free()
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("client %d: status %d", i, code)
		}
	}
	if wrong != http.StatusUnauthorized {
		t.Fatalf("the wrong password, checked at the same time: status %d", wrong)
	}
	if got := v.Stats().Compares - before; got != 2 {
		t.Fatalf("%d bcrypt comparisons, want 2 (one per distinct password)", got)
	}
}
