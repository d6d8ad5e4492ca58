package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
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
	headerEnrollment = cluster.HeaderEnrollment
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
func (s *clusterRoutes) createEnrollment(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionEnroll, privSuperuser); err != nil {
		return err
	}
	ttl, err := enrollTTL(r)
	if err != nil {
		return err
	}
	secret, err := cluster.NewEnrollmentSecret()
	if err != nil {
		return err
	}
	expires := time.UnixMilli(s.clock.Stamp()).Add(ttl)
	c := &fsm.CreateEnrollment{Digest: fsm.DigestOf(secret), Expires: expires.UnixMilli()}
	if _, _, err := s.commits.propose(r.Context(), w, c); err != nil {
		return err
	}
	e := cluster.Enrollment{Version: 1, URLs: s.members.URLs(), Secret: secret, Expires: expires.Unix()}
	if len(s.cfg.ClusterCA) > 0 {
		e.CASHA256 = cluster.Fingerprint(s.cfg.ClusterCA[0])
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
func (s *gate) checkEnrollment(d fsm.Digest) error {
	st := s.state.EnrollmentStatus(d, s.clock.Stamp())
	if st == fsm.OK || (st == fsm.NotFound && !s.node.IsLeader()) {
		return nil
	}
	return enrollmentError(st)
}

// spendEnrollment spends, through the log, the enrollment credential r
// carries, if any; a credential already spent or expired is refused.
func (s *peerRoutes) spendEnrollment(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, ok := enrollmentOf(r)
	if !ok {
		return nil
	}
	res, _, err := s.commits.propose(ctx, w, &fsm.ConsumeEnrollment{Digest: d})
	if err != nil {
		return err
	}
	if res.Status != fsm.OK {
		return enrollmentError(res.Status)
	}
	s.log.Info("enrollment token spent by a joining node")
	return nil
}
