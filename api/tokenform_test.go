package api

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// formSeeds are form bodies the scan must answer as url.ParseQuery does:
// plain, with empty fields, names without values, empty names, values
// holding '=', repetitions, and the bodies that need ParseQuery (escapes,
// ';', more fields than scanned in place).
var formSeeds = []string{
	"token=tka1_abc",
	"token=tka1_abc&token_type_hint=access_token",
	"token_type_hint=refresh_token&token=tkr1_abc",
	"&&token=abc&&",
	"token",
	"token=",
	"=x&token=a",
	"=x&=y&token=a",
	"a=1&a=2&token=t",
	"token=a&token=b",
	"token=a&token",
	"token=a=b",
	"tok=a",
	"",
	"&",
	"token=a%2Bb",
	"token=a+b",
	"token=a%zz",
	"to%6Ben=abc",
	"token=a&tok%65n=b",
	"token=x;y",
	"a=1&b=2&c=3&d=4&e=5&f=6&g=7&token=t",
	"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&token=t",
	"token=\xff\xfe",
}

// TestFormToken_ScanAnswersAsParseQuery: every form gets the token or the
// error url.ParseQuery's reading gives, whether it is scanned in place or
// parsed; the plain ones are scanned.
func TestFormToken_ScanAnswersAsParseQuery(t *testing.T) {
	t.Parallel()
	for _, body := range formSeeds {
		checkFormToken(t, body)
	}
	for _, body := range []string{"token=tka1_abc&token_type_hint=access_token", "=x&=y&token=a", "a=1&b=2&c=3&d=4&e=5&f=6&g=7&token=t"} {
		if _, _, scanned := scanForm([]byte(body)); !scanned {
			t.Errorf("%q was not scanned in place", body)
		}
	}
	want := map[string]string{"token=a%2Bb": "a+b", "token=a+b": "a b", "to%6Ben=abc": "abc", "token=a=b": "a=b",
		"&&token=abc&&": "abc", "token=\xff\xfe": "\xff\xfe"}
	for body, tok := range want {
		if got, err := formToken([]byte(body)); got != tok || err != nil {
			t.Errorf("%q: token %q, %v; want %q", body, got, err, tok)
		}
	}
	refusals := map[string]string{
		"token":                 "token is missing",
		"=x&=y&token=a":         "parameter [] is sent more than once",
		"token=a&token":         "parameter [token] is sent more than once",
		"token=a&tok%65n=b":     "parameter [token] is sent more than once",
		"token=x;y":             "the body is not a valid form",
		"token=a%zz":            "the body is not a valid form",
		"tok=a&token_type_hint": "token is missing",
	}
	for body, desc := range refusals {
		_, err := formToken([]byte(body))
		var oe *oauthError
		if !errors.As(err, &oe) || oe.code != "invalid_request" || oe.description != desc {
			t.Errorf("%q: %v; want invalid_request: %s", body, err, desc)
		}
	}
}

// checkFormToken compares formToken with the url.ParseQuery reading of
// body. With two different names repeated, either may be named.
func checkFormToken(t *testing.T, body string) {
	t.Helper()
	got, gotErr := formToken([]byte(body))
	want, wantErr := parsedToken(body)
	if got != want || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: scanned %q, %v; parsed %q, %v", body, got, gotErr, want, wantErr)
	}
	_, dup, scanned := scanForm([]byte(body))
	if !scanned || gotErr == nil || gotErr.Error() == wantErr.Error() {
		return // unscanned, formToken is parsedToken
	}
	form, _ := url.ParseQuery(body)
	if !strings.HasSuffix(wantErr.Error(), "is sent more than once") || len(form[string(dup)]) < 2 {
		t.Fatalf("%q: scanned %v; parsed %v", body, gotErr, wantErr)
	}
}

// FuzzFormToken: for any body, scanning answers as url.ParseQuery does.
func FuzzFormToken(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkFormToken(t, body) })
}

// TestIntrospect_FormMediaTypeInAnySpelling: the form media type is
// accepted with parameters and in any case; another type is refused.
func TestIntrospect_FormMediaTypeInAnySpelling(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	admin := basicAuth("elastic", "elastic-pw")
	for _, ct := range []string{formMediaType, "application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-Urlencoded"} {
		r := n.do("POST", introspectPath, "token="+access, append([]string{"Content-Type", ct}, admin...)...).want(t, 200)
		if !strings.HasPrefix(string(r.body), `{"active":true,`) {
			t.Errorf("Content-Type %q: %s", ct, r.body)
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded-not", ""} {
		n.do("POST", introspectPath, "token="+access, append([]string{"Content-Type", ct}, admin...)...).
			wantOAuth(t, "invalid_request", "the body must be application/x-www-form-urlencoded")
	}
}
