// Package testkit holds the helpers tokend's cluster and end-to-end tests
// share: polling with a deadline, free loopback addresses and HTTP requests
// with captured responses.
package testkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Eventually polls cond until it returns nil, failing the test with the last
// error once timeout has passed. It is the only way tests wait.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handedOut holds every address FreeAddr returned in this process.
var handedOut sync.Map

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago and
// that it never returned before in this process: once its probe listener is
// closed the kernel may offer the same port again, and two nodes of a test
// given one port fail to start (or worse, one reaches the other). The port
// is drawn below Linux's ephemeral range (32768 and up), which the kernel
// hands to outgoing connections and to listeners on port 0: under load
// from other test processes, a port taken from that range is soon given to
// someone else before the node that was promised it binds it. Other test
// processes (go test runs two packages at once, and a second CI run may
// share the machine) are kept off the port by reservePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	for tries := 0; ; tries++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePortLow+rand.IntN(freePortHigh-freePortLow))
		if tries > 1000 {
			t.Fatal("no free port below the ephemeral range")
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		if _, taken := handedOut.LoadOrStore(addr, true); !taken && reservePort(addr) {
			return addr
		}
	}
}

// The ports FreeAddr draws from: above the well-known and common service
// ports, below the kernel's ephemeral range.
const (
	freePortLow  = 20000
	freePortHigh = 32768
)

// Response is a captured HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object, failing the test otherwise.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// String returns the body as text.
func (r Response) String() string { return string(r.Body) }

// Basic returns an Authorization header for HTTP Basic credentials.
func Basic(user, password string) http.Header {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, password)
	return http.Header{"Authorization": req.Header["Authorization"]}
}

// Bearer returns an Authorization header for an access token.
func Bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// client is Do's and TryDo's client. For https it trusts the system roots
// and every CA given to TrustCA.
var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyConnection: verifyTrusted},
}}

// trusted holds the CAs TrustCA added, shared by concurrent tests.
var trusted struct {
	sync.Mutex
	pool *x509.CertPool
}

// TrustCA makes Do and TryDo trust the PEM CA certificates in pemFile for
// https URLs, on top of the system roots.
func TrustCA(t testing.TB, pemFile string) {
	t.Helper()
	data, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	trusted.Lock()
	defer trusted.Unlock()
	// A new pool each time: connections may be verifying with the old one.
	pool := x509.NewCertPool()
	if trusted.pool != nil {
		pool = trusted.pool.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	}
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no PEM certificate", pemFile)
	}
	trusted.pool = pool
}

// verifyTrusted verifies a server's chain and host name against the system
// roots and the CAs given to TrustCA (the transport skips Go's own check so
// that the set can grow while connections are open).
func verifyTrusted(cs tls.ConnectionState) error {
	trusted.Lock()
	roots := trusted.pool
	trusted.Unlock()
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return err
		}
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("testkit: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName})
	return err
}

// Do sends one request to baseURL+path; a transport error fails the test.
// A body is sent as JSON unless h names another Content-Type.
func Do(t testing.TB, baseURL, method, path, body string, h http.Header) Response {
	t.Helper()
	r, err := TryDo(baseURL, method, path, body, h)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, baseURL, path, err)
	}
	return r
}

// Form posts form, form-encoded, to baseURL+path with the headers h (may
// be nil); a transport error fails the test.
func Form(t testing.TB, baseURL, path string, form url.Values, h http.Header) Response {
	t.Helper()
	all := h.Clone()
	if all == nil {
		all = http.Header{}
	}
	all.Set("Content-Type", "application/x-www-form-urlencoded")
	return Do(t, baseURL, "POST", path, form.Encode(), all)
}

// TryDo sends one request and returns transport errors to the caller.
func TryDo(baseURL, method, path, body string, h http.Header) (Response, error) {
	return TryDoWith(client, baseURL, method, path, body, h)
}

// TryDoWith is TryDo over c, e.g. a client presenting a certificate.
func TryDoWith(c *http.Client, baseURL, method, path, body string, h http.Header) (Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}
