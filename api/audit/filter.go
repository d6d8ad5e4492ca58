package audit

// Request event actions, as Elasticsearch names them.
const (
	ActionAuthenticationSuccess = "authentication_success"
	ActionAuthenticationFailed  = "authentication_failed"
	ActionAnonymousDenied       = "anonymous_access_denied"
	ActionAccessGranted         = "access_granted"
	ActionAccessDenied          = "access_denied"
	ActionTamperedRequest       = "tampered_request"
)

// offByDefault are the actions an empty include list leaves out, as
// Elasticsearch's default does: they are written for almost every request.
var offByDefault = map[string]bool{ActionAccessGranted: true, ActionAuthenticationSuccess: true}

// filter decides which actions are written.
type filter struct {
	all     bool
	include map[string]bool
	exclude map[string]bool
}

// newFilter builds the filter of the include and exclude lists.
func newFilter(include, exclude []string) filter {
	f := filter{include: map[string]bool{}, exclude: map[string]bool{}}
	for _, a := range include {
		if a == "_all" {
			f.all = true
		}
		f.include[a] = true
	}
	for _, a := range exclude {
		f.exclude[a] = true
	}
	return f
}

// allows reports whether events of action are written.
func (f filter) allows(action string) bool {
	switch {
	case f.exclude[action]:
		return false
	case f.all:
		return true
	case len(f.include) == 0:
		return !offByDefault[action]
	}
	return f.include[action]
}
