package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
)

// transferIdle is how long a snapshot transfer may stall between two reads
// or two writes before its connection is dropped. It replaces the server's
// whole-request read and write timeouts, which a large state would exceed.
const transferIdle = time.Minute

// snapshotRoute adapts h to a snapshot route: the caller must be a
// superuser, which the node receiving the request checks before any body
// moves; h runs on the leader, and any other node proxies the request to
// the leader, streaming both bodies without holding them in memory.
func (s *Server) snapshotRoute(action string, h handlerFunc) httprouter.Handle {
	local := s.local(h)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if _, err := s.gate.authorize(r, action, privSuperuser); err != nil {
			s.writeError(w, r, err)
			return
		}
		w, r = s.idleDeadlines(w, r)
		if s.node.IsLeader() {
			local(w, r, p)
			return
		}
		if err := s.forwarder.Stream(w, r, clientAddr(r), isSnapshotUpload(r), snapshotWork); err != nil {
			s.writeError(w, r, err)
		}
	}
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
