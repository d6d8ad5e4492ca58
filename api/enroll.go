package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
)

// Enrollment of new nodes, as in Elasticsearch 8: a superuser asks for a
// token (POST enrollPath), which carries the members' URLs, the cluster
// CA's fingerprint and a one-time credential; the new node joins with the
// credential in headerEnrollment. The state keeps only the credential's
// digest and expiry (fsm.CreateEnrollment); the leader spends it through
// the log (fsm.ConsumeEnrollment) before it admits the node, so a token
// admits one node, cluster-wide.
const (
	enrollPath       = "/_tokend/cluster/enrollment"
	actionEnroll     = "cluster:admin/tokend/enroll"
	headerEnrollment = "X-Tokend-Enrollment"
)

// Bounds of an enrollment token's lifetime.
const (
	// DefaultEnrollmentTTL is the lifetime of a token when none is asked.
	DefaultEnrollmentTTL = 30 * time.Minute
	minEnrollmentTTL     = time.Minute
	maxEnrollmentTTL     = 24 * time.Hour
)

// enrollRequest is the optional body of POST enrollPath.
type enrollRequest struct {
	// TTL is a Go duration ("30m"), DefaultEnrollmentTTL when empty.
	TTL string `json:"ttl"`
}

// EnrollAnswer is the answer of POST enrollPath.
type EnrollAnswer struct {
	Token string `json:"token"`
	// Expires is the token's expiry, RFC 3339.
	Expires string `json:"expires"`
}

// createEnrollment serves POST enrollPath (leader, superuser): record a
// one-time credential and answer the token carrying it. The answer is not
// logged or cached.
func (s *Server) createEnrollment(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.authorize(r, actionEnroll, privSuperuser); err != nil {
		return err
	}
	ttl, err := enrollTTL(r)
	if err != nil {
		return err
	}
	secret, err := newEnrollmentSecret()
	if err != nil {
		return err
	}
	expires := time.UnixMilli(s.clock.stamp()).Add(ttl)
	c := &fsm.CreateEnrollment{Digest: fsm.DigestOf(secret), Expires: expires.UnixMilli()}
	if _, _, err := s.propose(r.Context(), w, c); err != nil {
		return err
	}
	e := Enrollment{Version: 1, URLs: s.memberURLs(), Secret: secret, Expires: expires.Unix()}
	if len(s.cfg.ClusterCA) > 0 {
		e.CASHA256 = Fingerprint(s.cfg.ClusterCA[0])
	}
	s.log.Info("enrollment token created", "expires", expires.UTC().Format(time.RFC3339))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, http.StatusOK, EnrollAnswer{Token: e.String(), Expires: expires.UTC().Format(time.RFC3339)})
	return nil
}

// enrollTTL reads the requested lifetime from r's body.
func enrollTTL(r *http.Request) (time.Duration, error) {
	body, err := readBody(r)
	if err != nil {
		return 0, err
	}
	var q enrollRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeJSON(body, &q); err != nil {
			return 0, err
		}
	}
	if q.TTL == "" {
		return DefaultEnrollmentTTL, nil
	}
	ttl, err := time.ParseDuration(q.TTL)
	if err != nil || ttl < minEnrollmentTTL || ttl > maxEnrollmentTTL {
		return 0, illegalArgument(fmt.Sprintf("ttl [%s] must be a duration from %s to %s", echoed(q.TTL),
			minEnrollmentTTL, maxEnrollmentTTL))
	}
	return ttl, nil
}

// memberURLs are the base URLs of the members whose HTTP address the state
// knows, this node first.
func (s *Server) memberURLs() []string {
	urls := []string{s.baseURL(s.cfg.HTTPAdvertise)}
	servers, _ := s.node.Servers()
	for _, srv := range servers {
		if addr, ok := s.state.NodeAddr(srv.ID); ok && srv.ID != s.cfg.NodeID {
			urls = append(urls, s.baseURL(addr))
		}
	}
	slices.Sort(urls[1:])
	return urls
}

// enrollmentOf returns the digest of the enrollment credential r carries.
func enrollmentOf(r *http.Request) (fsm.Digest, bool) {
	secret := r.Header.Get(headerEnrollment)
	if secret == "" {
		return fsm.Digest{}, false
	}
	return fsm.DigestOf(secret), true
}

// enrollmentError is the 401 for an enrollment credential in status st.
func enrollmentError(st fsm.Status) error {
	switch st {
	case fsm.Reused:
		return unauthorized("the enrollment token was already used: create another with tokend enroll")
	case fsm.Expired:
		return unauthorized("the enrollment token has expired: create another with tokend enroll")
	}
	return unauthorized("the enrollment token is not known to the cluster (revoked by a restore, or from another cluster)")
}

// checkEnrollment admits a join that carries an outstanding enrollment
// credential, as this node's state knows it; the leader spends it
// (spendEnrollment). A follower that does not know the credential yet (it
// has not applied the entry that created it) lets the leader decide.
func (s *Server) checkEnrollment(d fsm.Digest) error {
	st := s.state.EnrollmentStatus(d, s.clock.stamp())
	if st == fsm.OK || (st == fsm.NotFound && !s.node.IsLeader()) {
		return nil
	}
	return enrollmentError(st)
}

// spendEnrollment spends, through the log, the enrollment credential r
// carries, if any; a credential already spent or expired is refused.
func (s *Server) spendEnrollment(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, ok := enrollmentOf(r)
	if !ok {
		return nil
	}
	res, _, err := s.propose(ctx, w, &fsm.ConsumeEnrollment{Digest: d})
	if err != nil {
		return err
	}
	if res.Status != fsm.OK {
		return enrollmentError(res.Status)
	}
	s.log.Info("enrollment token spent by a joining node")
	return nil
}
