package api

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// transferIdle is how long a snapshot transfer may stall between two reads
// or two writes before its connection is dropped. It replaces the server's
// whole-request read and write timeouts, which a large state would exceed.
const transferIdle = time.Minute

// newStreamClient returns the client that carries snapshot transfers from a follower to the leader. It
// has neither an overall nor a response-header timeout: a transfer lasts as
// long as the state is large, and a restore answers only once it is done.
// The request's context bounds it instead: it ends when the client goes
// away, and each node drops a transfer idle for transferIdle.
func newStreamClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // node-to-node traffic never goes through a proxy
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     tlsCfg.Clone(),
	}}
}

// snapshotRoute adapts h to a snapshot route: the caller must be a
// superuser, which the node receiving the request checks before any body
// moves; h runs on the leader, and any other node proxies the request to
// the leader, streaming both bodies without holding them in memory.
func (s *Server) snapshotRoute(action string, h handlerFunc) httprouter.Handle {
	local := s.local(h)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if _, err := s.authorize(r, action, privSuperuser); err != nil {
			s.writeError(w, r, err)
			return
		}
		w, r = s.idleDeadlines(w, r)
		if s.node.IsLeader() {
			local(w, r, p)
			return
		}
		if err := s.forwardStream(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// forwardStream proxies r to the leader as forward does, but streams the
// request and response bodies instead of buffering them.
func (s *Server) forwardStream(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(headerForwarded) != "" {
		return fromNode(raftnode.ErrNotLeader)
	}
	leaderID, base, err := s.awaitLeaderBase(r.Context())
	if err != nil {
		return err
	}
	body := r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), body)
	if err != nil {
		return err
	}
	req.ContentLength = r.ContentLength
	copyHeader(req.Header, r.Header)
	s.signAsNode(req, leaderID, s.clientAddr(r), nil, isSnapshotUpload(r))
	resp, err := s.stream.Do(req)
	if err != nil {
		return s.leaderUnreachable(leaderID, err)
	}
	defer resp.Body.Close()
	if err := s.awaitLeaderIndex(r.Context(), snapshotWork, leaderID, resp.Header); err != nil {
		return err
	}
	copyHeader(w.Header(), resp.Header)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.Header().Set(headerServedBy, leaderID)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		s.log.Warn("snapshot transfer from the leader cut off", "leader", leaderID, "err", err)
		panic(http.ErrAbortHandler) // the client must see a broken transfer, not a short one
	}
	return nil
}

// idleDeadlines lifts the server's read and write timeouts for r and
// returns w and r wrapped so that every read and write instead sets a
// deadline transferIdle ahead. If the connection does not support
// deadlines, w and r are returned as they are.
func (s *Server) idleDeadlines(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
		s.log.Warn("cannot lift the HTTP timeouts for a snapshot transfer; a large one may be cut off", "err", err)
		return w, r
	}
	r.Body = &idleReader{rc: rc, body: r.Body}
	return &idleWriter{ResponseWriter: w, rc: rc}, r
}

// idleReader is a request body whose every read must make progress within
// transferIdle.
type idleReader struct {
	rc   *http.ResponseController
	body io.ReadCloser
}

// Read reads from the body with a fresh deadline. Once the body is done it
// clears the deadline: the server then watches the idle connection for the
// client going away, and a deadline passing there would end the request
// while the handler is still working on it.
func (b *idleReader) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(transferIdle))
	n, err := b.body.Read(p)
	if err != nil {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// Close closes the body.
func (b *idleReader) Close() error { return b.body.Close() }

// idleWriter is a response whose every write must complete within
// transferIdle.
type idleWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

// Write writes p with a fresh deadline.
func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(transferIdle))
	return w.ResponseWriter.Write(p)
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
