package api

import (
	"bytes"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/metrics"
	"github.com/tokend/tokend/fsm"
)

// actionMetrics is the action named in a 403 for the metrics routes.
const actionMetrics = "cluster:monitor/prometheus/metrics"

// authFailure is why an authentication failed. Its names are the only
// values of the reason label: nothing from the request ever becomes a label.
type authFailure uint8

const (
	failMalformed   authFailure = iota // a token or Basic header that cannot be parsed
	failUnknown                        // no such token, or no such user
	failExpired                        // an access token past its expiry
	failInvalidated                    // an invalidated access token
	failDisabled                       // a disabled user
	failBadPassword                    // a wrong password
	numAuthFailures
)

var authFailureNames = [numAuthFailures]string{"malformed", "unknown", "expired", "invalidated", "disabled", "bad_password"}

// authRefusal is why a password check was refused before it ran: the
// values of tokend_auth_refused_total's reason label.
type authRefusal uint8

const (
	refusedRateLimited authRefusal = iota // the username or client address is out of failure budget (429)
	refusedBcryptBusy                     // no bcrypt slot freed up in time (429)
	numAuthRefusals
)

var authRefusalNames = [numAuthRefusals]string{"rate_limited", "bcrypt_busy"}

// refreshResults are the outcomes counted by tokend_token_refreshes_total.
var refreshResults = []fsm.Status{fsm.OK, fsm.Retried, fsm.NotFound, fsm.Expired, fsm.Invalidated, fsm.WrongClient, fsm.Reused}

// apiMetrics are the API's metrics, registered on Config.Metrics. Every
// series is created here, so recording is an atomic add on a counter found
// without building a string. Counts are taken on the node that did the work:
// the leader for writes, the answering node for authentication.
type apiMetrics struct {
	issued       map[string]*metrics.Counter // by grant type
	refreshes    map[fsm.Status]*metrics.Counter
	invalidated  map[fsm.InvalidateBy]*metrics.Counter
	userChange   *metrics.Counter // tokens invalidated by disabling or deleting a user
	replay       *metrics.Counter // tokens revoked after a refresh token replay
	authFailures [numAuthFailures]*metrics.Counter
	authRefusals [numAuthRefusals]*metrics.Counter
	// batchesForwarded counts the batches of token creations this follower
	// posted to the leader (cluster.Config.Metrics); unbatched the grants
	// it forwarded whole instead, which remains only for a leader of an
	// older build and for a node that cannot prove it is one.
	batchesForwarded *metrics.Counter
	unbatched        *metrics.Counter
}

// newAPIMetrics registers the API's metrics on reg. The token and user
// gauges are read from state at scrape time.
func newAPIMetrics(reg *metrics.Registry, state *fsm.FSM) *apiMetrics {
	m := &apiMetrics{issued: map[string]*metrics.Counter{}, refreshes: map[fsm.Status]*metrics.Counter{},
		invalidated: map[fsm.InvalidateBy]*metrics.Counter{}}
	issued := reg.NewCounterVec("tokend_tokens_issued_total",
		"Access tokens issued, by grant type (a retried refresh returning the same pair is not counted).", "grant_type")
	for _, g := range []string{grantPassword, grantClientCredentials, grantRefreshToken} {
		m.issued[g] = issued.With(g)
	}
	refreshes := reg.NewCounterVec("tokend_token_refreshes_total",
		"Refresh token grants, by result (ok, retried within the 30 s window, or why it was refused).", "result")
	for _, st := range refreshResults {
		m.refreshes[st] = refreshes.With(st.String())
	}
	invalidated := reg.NewCounterVec("tokend_tokens_invalidated_total",
		"Access and refresh tokens newly invalidated, by cause.", "cause")
	for by, cause := range map[fsm.InvalidateBy]string{fsm.ByAccessToken: "access_token",
		fsm.ByRefreshToken: "refresh_token", fsm.ByUser: "username", fsm.ByRealm: "realm"} {
		m.invalidated[by] = invalidated.With(cause)
	}
	m.userChange = invalidated.With("user_disabled_or_deleted")
	m.replay = invalidated.With("refresh_replay")
	failures := reg.NewCounterVec("tokend_auth_failures_total",
		"Failed authentications (Bearer, Basic and the password grant), by reason.", "reason")
	for i, name := range authFailureNames {
		m.authFailures[i] = failures.With(name)
	}
	refused := reg.NewCounterVec("tokend_auth_refused_total",
		"Password checks (Basic and the password grant) answered 429 without checking, by reason.", "reason")
	for i, name := range authRefusalNames {
		m.authRefusals[i] = refused.With(name)
	}
	m.batchesForwarded = reg.NewCounter("tokend_token_batches_forwarded_total",
		"Batches of token creations this follower posted to the leader's propose route.")
	m.unbatched = reg.NewCounter("tokend_token_grants_unbatched_total",
		"Token grants this follower forwarded whole to the leader, unbatched (an older leader, or no node credential).")
	registerStateGauges(reg, state)
	return m
}

// registerStateGauges adds gauges that count the state's records at scrape
// time.
func registerStateGauges(reg *metrics.Registry, state *fsm.FSM) {
	records := reg.NewGaugeVec("tokend_token_records",
		"Token records in this node's state: live ones plus expired or invalidated ones not yet purged.", "kind")
	access, refresh := records.With("access"), records.With("refresh")
	users := reg.NewGauge("tokend_users", "Native and reserved users in this node's state.")
	reg.OnCollect(func() {
		c := state.Counts()
		access.Set(float64(c.AccessTokens))
		refresh.Set(float64(c.RefreshTokens))
		users.Set(float64(c.Users))
	})
}

// authFailed counts a failed authentication.
func (m *apiMetrics) authFailed(reason authFailure) { m.authFailures[reason].Inc() }

// authRefused counts a password check refused before it ran.
func (m *apiMetrics) authRefused(reason authRefusal) { m.authRefusals[reason].Inc() }

// refreshed counts a refresh grant's outcome and the tokens it issued.
func (m *apiMetrics) refreshed(st fsm.Status) {
	if counter := m.refreshes[st]; counter != nil {
		counter.Inc()
	}
	if st == fsm.OK {
		m.issued[grantRefreshToken].Inc()
	}
}

// committed counts the tokens a committed command invalidated.
func (m *apiMetrics) committed(c fsm.Command, res fsm.Result) {
	switch c := c.(type) {
	case *fsm.Invalidate:
		if counter := m.invalidated[c.By]; counter != nil {
			counter.Add(float64(res.Invalidated))
		}
	case *fsm.PutUser, *fsm.DeleteUser, *fsm.SetEnabled:
		m.userChange.Add(float64(res.Invalidated))
	case *fsm.Refresh:
		m.replay.Add(float64(res.Revoked))
	}
}

// serveMetrics serves GET /_prometheus/metrics and GET /metrics: this node's
// metrics, then the process-wide ones (Config.ProcessMetrics), in the
// Prometheus text format. It needs the monitor privilege.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.authorize(r, actionMetrics, privMonitor); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := metrics.Write(&buf, s.metricRegs...); err != nil {
		return err
	}
	w.Header().Set("Content-Type", metrics.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}
