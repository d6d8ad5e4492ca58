package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"

	"github.com/tokend/tokend/fsm"
)

// authAnswersMax bounds the cache of encoded _authenticate answers; past it
// the cache starts over (every entry is rebuilt on its next use).
const authAnswersMax = 10000

// authAnswers caches the encoded body of the _authenticate answer per user,
// authenticating realm and authentication type. Clients call
// _authenticate on every request, so encoding the same answer each time
// would cost more than authenticating. An entry remembers the user record it
// was rendered from and is used only while the stored record still renders
// the same (sameRendering), so a change to the user is never answered from
// a stale entry and nothing has to invalidate it.
type authAnswers struct {
	mu sync.RWMutex
	m  map[authAnswerKey]authAnswer
}

// authAnswerKey names one cached answer.
type authAnswerKey struct {
	user     string
	realm    fsm.Realm
	authType string
}

// authAnswer is one cached answer and the record it renders.
type authAnswer struct {
	user fsm.User // shares slices with the state; never modified
	body []byte   // json.Marshal(authView(user, realm, authType)); never modified
}

func newAuthAnswers() *authAnswers {
	return &authAnswers{m: map[authAnswerKey]authAnswer{}}
}

// body returns the encoded _authenticate answer for p, the bytes
// json.Marshal gives for authView. It fails only if the answer cannot be
// encoded (metadata that is not JSON), which it does not cache.
func (c *authAnswers) body(p *principal) ([]byte, bool) {
	key := authAnswerKey{user: p.user.Username, realm: p.realm, authType: p.authType}
	c.mu.RLock()
	a, ok := c.m[key]
	c.mu.RUnlock()
	if ok && sameRendering(a.user, p.user) {
		return a.body, true
	}
	b, err := json.Marshal(authView(p.user, p.realm, p.authType))
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= authAnswersMax {
		clear(c.m)
	}
	c.m[key] = authAnswer{user: p.user, body: b}
	return b, true
}

// sameRendering reports whether users a and b give the same userView: every
// field it shows is equal (nil and empty slices render alike). The hash is
// not shown, so a password change keeps the answer.
func sameRendering(a, b fsm.User) bool {
	return a.Username == b.Username && a.FullName == b.FullName && a.Email == b.Email &&
		a.Enabled == b.Enabled && a.Realm == b.Realm &&
		slices.Equal(a.Roles, b.Roles) && bytes.Equal(a.Metadata, b.Metadata)
}
