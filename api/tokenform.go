package api

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
)

// formMediaType is the media type of OAuth request bodies (RFC 6749 §3.2).
const formMediaType = "application/x-www-form-urlencoded"

// scannedFields bounds the fields scanForm reads in place; a larger form
// goes through url.ParseQuery.
const scannedFields = 8

// Scratch buffers: a gateway introspects on every request it passes, so the
// form is read into, and the answer encoded in, a pooled buffer instead of
// fresh ones. A buffer grown past maxScratch (a large body) is dropped.
const maxScratch = 4 << 10

var scratchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// getScratch borrows an empty buffer; putScratch gives back b, which may
// have grown since, once nothing refers to its bytes any more.
func getScratch() *[]byte { return scratchBuffers.Get().(*[]byte) }

func putScratch(p *[]byte, b []byte) {
	if cap(b) <= maxScratch {
		*p = b[:0]
		scratchBuffers.Put(p)
	}
}

// Form errors (RFC 6749 §5.2 invalid_request).
var (
	errFormType     = &oauthError{code: "invalid_request", description: "the body must be application/x-www-form-urlencoded"}
	errFormSyntax   = &oauthError{code: "invalid_request", description: "the body is not a valid form"}
	errTokenMissing = &oauthError{code: "invalid_request", description: "token is missing"}
)

// tokenForm reads the form-encoded body of an introspection or revocation
// request (RFC 6749 §3.2): its token, required, and token_type_hint, which
// is only a hint: tokend tells the token types apart by their prefix, so an
// unknown hint is ignored (RFC 7009 §2.1). No parameter may be repeated.
func tokenForm(r *http.Request) (string, error) {
	p := getScratch()
	body, err := (*p)[:0], error(nil)
	if r.Body != nil {
		body, err = appendBody(body, r.Body)
	}
	defer putScratch(p, body)
	if err != nil {
		return "", err
	}
	if len(body) > 0 && !isFormMediaType(r.Header.Get("Content-Type")) {
		return "", errFormType
	}
	return formToken(body)
}

// formToken is the token of a form body: scanned in place when it can be
// (scanForm), parsed by url.ParseQuery otherwise, with the same answers.
func formToken(body []byte) (string, error) {
	tok, dup, scanned := scanForm(body)
	switch {
	case !scanned:
		return parsedToken(string(body))
	case dup != nil:
		return "", repeatedParam(string(dup))
	case len(tok) == 0:
		return "", errTokenMissing
	}
	return string(tok), nil
}

// appendBody appends everything rd holds to b, as io.ReadAll does.
func appendBody(b []byte, rd io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// isFormMediaType reports whether a Content-Type value is the form media
// type, with or without parameters, in any case.
func isFormMediaType(ct string) bool {
	if ct == formMediaType {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == formMediaType
}

// scanForm reads a form body in place, as url.ParseQuery would, when it
// can do so without unescaping: the body holds no '%', '+' or ';' and at
// most scannedFields fields. It returns the token's value and the name of
// the first parameter seen twice (nil if none); scanned is false when the
// body needs url.ParseQuery.
func scanForm(body []byte) (token, dup []byte, scanned bool) {
	if bytes.ContainsAny(body, "%+;") || bytes.Count(body, []byte{'&'}) >= scannedFields {
		return nil, nil, false
	}
	var names [scannedFields][]byte
	n := 0
	for rest := body; len(rest) > 0; {
		field := rest
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			field, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(field) == 0 {
			continue
		}
		name, value := field, []byte(nil)
		if i := bytes.IndexByte(field, '='); i >= 0 {
			name, value = field[:i], field[i+1:]
		}
		for _, seen := range names[:n] {
			if bytes.Equal(seen, name) {
				return nil, name, true
			}
		}
		names[n], n = name, n+1
		if string(name) == "token" {
			token = value
		}
	}
	return token, nil, true
}

// parsedToken is tokenForm's answer for a form that needs unescaping.
func parsedToken(body string) (string, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return "", errFormSyntax
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return "", repeatedParam(name)
		}
	}
	tok := form.Get("token")
	if tok == "" {
		return "", errTokenMissing
	}
	return tok, nil
}

// repeatedParam is the 400 for a form that sends a parameter twice.
func repeatedParam(name string) error {
	return &oauthError{code: "invalid_request", description: "parameter [" + echoed(name) + "] is sent more than once"}
}
