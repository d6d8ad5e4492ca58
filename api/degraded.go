package api

import (
	"net/http"
)

// authorizeMonitoring authorizes a read-only monitoring route (cluster
// health, nodes, status) for a caller holding want. When this node cannot
// vouch for its state being current (no leader, quorum lost, out of
// contact), the credentials are checked against the state it last applied
// instead of refused: those routes are how an operator finds out why the
// cluster has stalled, and they reveal membership and log positions only.
// Every other route still refuses to authenticate from a stale state, and a
// node the cluster removed answers nothing from its state at all.
func (s *gate) authorizeMonitoring(r *http.Request, action string, want privilege) (*principal, error) {
	p, err := s.authorize(r, action, want)
	if e := envelopeOf(err); err == nil || e == nil || e.status != http.StatusServiceUnavailable || s.members.Removed() {
		return p, err
	}
	scheme, value, perr := parseAuthorization(r)
	switch {
	case perr != nil:
		return nil, perr
	case scheme == "basic":
		p, _, err = s.authBasic(r, value)
	case scheme == "bearer":
		p, err = s.authBearer(r.Context(), value)
	default:
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if !p.has(want) {
		return nil, forbidden(action, p)
	}
	return p, nil
}
