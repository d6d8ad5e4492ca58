package api

import (
	"log/slog"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

// apiMetrics are the API's metrics, registered on Config.Metrics (twice on
// one registerer panics: one Server per Registerer). Every series is created
// here, so recording is an atomic add on a counter found without building a
// string. Counts are taken on the node that did the work: the leader for
// writes, the answering node for authentication.
type apiMetrics struct {
	issued       map[string]prometheus.Counter // by grant type
	refreshes    map[fsm.Status]prometheus.Counter
	invalidated  map[fsm.InvalidateBy]prometheus.Counter
	userChange   prometheus.Counter // tokens invalidated by disabling or deleting a user
	replay       prometheus.Counter // tokens revoked after a refresh token replay
	authFailures [numAuthFailures]prometheus.Counter
	authRefusals [numAuthRefusals]prometheus.Counter
	// batchesForwarded counts the batches of token creations this follower
	// posted to the leader (cluster.Config.Metrics); unbatched the grants
	// it forwarded whole instead, which remains only for a leader of an
	// older build and for a node that cannot prove it is one.
	batchesForwarded prometheus.Counter
	unbatched        prometheus.Counter
}

// newAPIMetrics registers the API's metrics on reg. The token and user
// gauges are read from state at scrape time.
func newAPIMetrics(reg prometheus.Registerer, state *fsm.FSM) *apiMetrics {
	m := &apiMetrics{issued: map[string]prometheus.Counter{}, refreshes: map[fsm.Status]prometheus.Counter{},
		invalidated: map[fsm.InvalidateBy]prometheus.Counter{}}
	auto := promauto.With(reg)
	issued := auto.NewCounterVec(prometheus.CounterOpts{Name: "tokend_tokens_issued_total",
		Help: "Access tokens issued, by grant type (a retried refresh returning the same pair is not counted)."},
		[]string{"grant_type"})
	for _, g := range []string{grantPassword, grantClientCredentials, grantRefreshToken} {
		m.issued[g] = issued.WithLabelValues(g)
	}
	refreshes := auto.NewCounterVec(prometheus.CounterOpts{Name: "tokend_token_refreshes_total",
		Help: "Refresh token grants, by result (ok, retried within the 30 s window, or why it was refused)."},
		[]string{"result"})
	for _, st := range refreshResults {
		m.refreshes[st] = refreshes.WithLabelValues(st.String())
	}
	invalidated := auto.NewCounterVec(prometheus.CounterOpts{Name: "tokend_tokens_invalidated_total",
		Help: "Access and refresh tokens newly invalidated, by cause."}, []string{"cause"})
	for by, cause := range map[fsm.InvalidateBy]string{fsm.ByAccessToken: "access_token",
		fsm.ByRefreshToken: "refresh_token", fsm.ByUser: "username", fsm.ByRealm: "realm"} {
		m.invalidated[by] = invalidated.WithLabelValues(cause)
	}
	m.userChange = invalidated.WithLabelValues("user_disabled_or_deleted")
	m.replay = invalidated.WithLabelValues("refresh_replay")
	failures := auto.NewCounterVec(prometheus.CounterOpts{Name: "tokend_auth_failures_total",
		Help: "Failed authentications (Bearer, Basic and the password grant), by reason."}, []string{"reason"})
	for i, name := range authFailureNames {
		m.authFailures[i] = failures.WithLabelValues(name)
	}
	refused := auto.NewCounterVec(prometheus.CounterOpts{Name: "tokend_auth_refused_total",
		Help: "Password checks (Basic and the password grant) answered 429 without checking, by reason."},
		[]string{"reason"})
	for i, name := range authRefusalNames {
		m.authRefusals[i] = refused.WithLabelValues(name)
	}
	m.batchesForwarded = auto.NewCounter(prometheus.CounterOpts{Name: "tokend_token_batches_forwarded_total",
		Help: "Batches of token creations this follower posted to the leader's propose route."})
	m.unbatched = auto.NewCounter(prometheus.CounterOpts{Name: "tokend_token_grants_unbatched_total",
		Help: "Token grants this follower forwarded whole to the leader, unbatched (an older leader, or no node credential)."})
	registerStateGauges(reg, state)
	return m
}

// registerStateGauges adds gauges that count the state's records at scrape
// time.
func registerStateGauges(reg prometheus.Registerer, state *fsm.FSM) {
	const recordsHelp = "Token records in this node's state: live ones plus expired or invalidated ones not yet purged."
	auto := promauto.With(reg)
	records := func(kind string, count func(fsm.Counts) int) {
		auto.NewGaugeFunc(prometheus.GaugeOpts{Name: "tokend_token_records", Help: recordsHelp,
			ConstLabels: prometheus.Labels{"kind": kind}}, func() float64 { return float64(count(state.Counts())) })
	}
	records("access", func(c fsm.Counts) int { return c.AccessTokens })
	records("refresh", func(c fsm.Counts) int { return c.RefreshTokens })
	auto.NewGaugeFunc(prometheus.GaugeOpts{Name: "tokend_users",
		Help: "Native and reserved users in this node's state."}, func() float64 { return float64(state.Counts().Users) })
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

// serveMetrics serves GET /_prometheus/metrics and GET /metrics: what
// Config.Gatherer gathers, through promhttp (the Prometheus text format
// unless the scraper asks for another). It needs the monitor privilege.
func (s *clusterRoutes) serveMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionMetrics, privMonitor); err != nil {
		return err
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}

// newMetricsHandler returns the promhttp handler over g. A family that
// fails to gather is logged and left out, so a scrape still gets the rest
// rather than a 500.
func newMetricsHandler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.With("component", "metrics").Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}
