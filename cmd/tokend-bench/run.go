package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorBody bounds what is kept of a non-2xx answer.
const maxErrorBody = 512

// maxTokenBody bounds what is read of a grant's answer to find its tokens.
const maxTokenBody = 64 << 10

// opTally is one operation's counts in one worker, or merged.
type opTally struct {
	latencies []time.Duration
	non2xx    int
	transport int
}

// result is a finished run: per-operation tallies (latencies sorted) and
// the wall time.
type result struct {
	ops         [numOps]opTally
	elapsed     time.Duration
	firstNon2xx string
	firstErr    string
}

// requests is the number of measured requests of every operation.
func (r result) requests() int {
	n := 0
	for _, t := range r.ops {
		n += len(t.latencies)
	}
	return n
}

// firsts keeps the first non-2xx answer and the first transport error.
type firsts struct {
	mu        sync.Mutex
	non2xx    string
	transport string
}

func (f *firsts) set(dst *string, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *dst == "" {
		*dst = msg
	}
}

// newClient returns a keep-alive client able to hold c idle connections per
// target, trusting roots (nil: the system roots) for https.
func newClient(c, targets int, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c * targets,
		MaxIdleConnsPerHost: c,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr}
}

// execute prepares the requests (fetching the token authenticate,
// introspect and forward_auth present) and runs the load.
func execute(ctx context.Context, cfg config, client *http.Client) (result, error) {
	q := &requestor{cfg: cfg}
	if cfg.mix.has(opAuthenticate) || cfg.mix.has(opIntrospect) || cfg.mix.has(opForwardAuth) {
		tok, err := fetchToken(ctx, client, q, cfg.targets[0])
		if err != nil {
			return result{}, err
		}
		q.bearer = tok
	}
	return run(ctx, cfg, client, q), nil
}

// fetchToken gets one access token via client_credentials on base.
func fetchToken(ctx context.Context, client *http.Client, q *requestor, base string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := q.build(ctx, opClientCredentials, base, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", fmt.Errorf("fetching token: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("fetching token: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil || t.Access == "" {
		return "", fmt.Errorf("fetching token: %s gave no access_token", base)
	}
	return t.Access, nil
}

// run drives cfg.c workers until cfg.n requests were sent or cfg.d passed.
func run(ctx context.Context, cfg config, client *http.Client, q *requestor) result {
	ctx, cancel := context.WithTimeout(ctx, cfg.d)
	defer cancel()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		first  firsts
		tallys = make([][numOps]opTally, cfg.c)
	)
	start := time.Now()
	for w := range tallys {
		wk := &worker{cfg: cfg, client: client, q: q, next: &next, tally: &tallys[w], first: &first,
			rng: rand.New(rand.NewPCG(uint64(w), 0x746f6b656e64))}
		wg.Go(func() { wk.loop(ctx) })
	}
	wg.Wait()
	res := merge(tallys)
	res.elapsed = time.Since(start)
	res.firstNon2xx, res.firstErr = first.non2xx, first.transport
	return res
}

// worker is one client of the run.
type worker struct {
	cfg    config
	client *http.Client
	q      *requestor
	next   *atomic.Int64
	tally  *[numOps]opTally
	first  *firsts
	rng    *rand.Rand
	pools  pools
}

// loop claims request numbers until the budget or the deadline runs out;
// request i goes to target i mod len(targets).
func (wk *worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		i := wk.next.Add(1) - 1
		if i >= int64(wk.cfg.n) {
			return
		}
		base := wk.cfg.targets[int(i%int64(len(wk.cfg.targets)))]
		o := substitute(wk.cfg.mix.pick(wk.rng), &wk.pools)
		start := time.Now()
		status, body, err := wk.do(ctx, o, base)
		elapsed := time.Since(start)
		if ctx.Err() != nil {
			return // cancelled at the deadline: not a measured request
		}
		t := &wk.tally[o]
		t.latencies = append(t.latencies, elapsed)
		switch {
		case err != nil:
			t.transport++
			wk.first.set(&wk.first.transport, fmt.Sprintf("%s %s: %v", o, base, err))
		case status/100 != 2:
			t.non2xx++
			wk.first.set(&wk.first.non2xx, fmt.Sprintf("%s %s: HTTP %d: %s", o, base, status, bytes.TrimSpace(body)))
		case wantsTokens(o, wk.cfg.mix):
			wk.pools.keep(body, wk.cfg.mix)
		}
	}
}

// do sends one request and reads the whole answer, so the connection is
// reused. It returns the body of a non-2xx answer (truncated) and of a
// grant whose tokens the mix needs.
func (wk *worker) do(ctx context.Context, o op, base string) (int, []byte, error) {
	req, err := wk.q.build(ctx, o, base, &wk.pools)
	if err != nil {
		return 0, nil, err
	}
	resp, err := wk.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body []byte
	switch {
	case resp.StatusCode/100 != 2:
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	case wantsTokens(o, wk.cfg.mix):
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// merge sums the workers' tallies and sorts each operation's latencies.
func merge(tallys [][numOps]opTally) result {
	var res result
	for _, w := range tallys {
		for o, t := range w {
			m := &res.ops[o]
			m.latencies = append(m.latencies, t.latencies...)
			m.non2xx += t.non2xx
			m.transport += t.transport
		}
	}
	for o := range res.ops {
		slices.Sort(res.ops[o].latencies)
	}
	return res
}
