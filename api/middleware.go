package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"unicode/utf8"
)

// middleware wraps every route, including the router's 404 and 405 answers
// and recovered panics: X-Elastic-Product on every response (the official
// clients refuse a server without it), no body on HEAD, node-to-node
// headers only from cluster nodes (checkNodeOrigin), node proofs checked
// (authenticateNode), media type checks and the body size limit.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[headerProduct] = productValue
		if r.Method == http.MethodHead {
			w = headWriter{w}
		}
		defer s.recoverPanic(w, r)
		if err := s.gate.checkNodeOrigin(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		nr, err := s.gate.authenticateNode(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = nr
		if !isSnapshotUpload(r) { // a binary body as large as the state (snapshot.go)
			// Batches carry msgpack (propose.go), the OAuth routes forms
			// (tokenform.go), which they check themselves.
			if !isBatchPost(r) && !isFormPost(r) {
				if err := checkMediaTypes(r); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
			limitBody(w, r)
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps r's body at maxBodyBytes; a request without a body (most
// GETs) keeps http.NoBody, which needs no limit.
func limitBody(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
}

// recoverPanic turns a handler panic into a 500 envelope and a log line.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.writeError(w, r, errors.New("panic"))
}

// headWriter drops the body of responses to HEAD requests.
type headWriter struct{ http.ResponseWriter }

// Write discards b.
func (headWriter) Write(b []byte) (int, error) { return len(b), nil }

// checkMediaTypes accepts JSON bodies, including Elasticsearch's
// compatibility media type for versions 7 to 9, which is treated as
// application/json. Other body types answer 406 as Elasticsearch does.
func checkMediaTypes(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && r.ContentLength != 0 {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != compatMediaType) {
			return &esError{status: http.StatusNotAcceptable, typ: "media_type_header_exception",
				reason: fmt.Sprintf("Content-Type header [%s] is not supported", ct)}
		}
		if err := checkCompat(mt, params, "Content-Type"); err != nil {
			return err
		}
	}
	for _, accept := range r.Header.Values("Accept") {
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err == nil {
				if err := checkCompat(mt, params, "Accept"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// compatMediaType is Elasticsearch's versioned JSON media type.
const compatMediaType = "application/vnd.elasticsearch+json"

// checkCompat refuses a compatible-with version tokend does not speak.
func checkCompat(mt string, params map[string]string, header string) error {
	if mt != compatMediaType {
		return nil
	}
	switch params["compatible-with"] {
	case "", "7", "8", "9":
		return nil
	}
	return badRequest("media_type_header_exception",
		fmt.Sprintf("Invalid media-type value on header [%s]: compatible-with=%s is not supported", header, params["compatible-with"]))
}

// writeJSON answers v as JSON with status; ?pretty (but not pretty=false)
// indents it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var b []byte
	var err error
	if wantsPretty(r) {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"root_cause":[{"type":"exception","reason":"internal server error"}],"type":"exception","reason":"internal server error"},"status":500}`)
	}
	writeJSONBody(w, status, b)
}

// wantsPretty reports whether r asks for indented JSON: ?pretty, but not
// pretty=false. Most requests have no query, which it does not parse.
func wantsPretty(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	p, ok := r.URL.Query()["pretty"]
	return ok && p[0] != "false"
}

// Header values set on most responses, shared so that setting them does not
// allocate. net/http and tokend only read or replace header values, never
// write into them, so sharing the slices is safe.
var (
	productValue     = []string{"Elasticsearch"}
	jsonContentValue = []string{"application/json; charset=UTF-8"}
)

// writeJSONBody answers b, encoded JSON, with status.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonContentValue
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readBody reads the (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// decodeBody reads the request body into v: a JSON object with no unknown,
// duplicate or wrongly typed fields. Errors are 400 parse_exception naming
// the problem; they never quote a value.
func decodeBody(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes body into v as decodeBody does; every error is a 400
// parse_exception.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return parseError("request body is required")
	}
	if !utf8.Valid(body) {
		return parseError("request body is not valid UTF-8")
	}
	if err := checkObject(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	return nil
}

// checkObject verifies that body is exactly one JSON object in which no
// object, at any depth, repeats a key (encoding/json would silently keep the
// last duplicate). A valid body is checked without allocating; an invalid
// one is decoded to say what is wrong with it.
func checkObject(body []byte) error {
	if json.Valid(body) {
		obj := bytes.TrimSpace(body)
		if obj[0] != '{' {
			return parseError("request body must be a JSON object")
		}
		return checkDuplicateKeys(obj)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return describeJSONError(err)
	}
	if obj[0] != '{' {
		return parseError("request body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return parseError("request body has data after the JSON object")
	}
	return checkDuplicateKeys(obj)
}

// checkDuplicateKeys scans b, one valid JSON value, for an object that
// repeats a key. It allocates only for the keys it has to remember.
func checkDuplicateKeys(b []byte) error {
	// open holds, per open container, its keys so far (nil for arrays and
	// objects without keys yet) and whether it is an object.
	type container struct {
		object bool
		keys   map[string]bool
	}
	var open []container
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			open = append(open, container{object: true})
			expectKey = true
		case '[':
			open = append(open, container{})
			expectKey = false
		case '}', ']':
			open = open[:len(open)-1]
			expectKey = false
		case ',':
			expectKey = open[len(open)-1].object
		case '"':
			end, escaped := i+1, false
			for ; b[end] != '"'; end++ {
				if b[end] == '\\' {
					end++
					escaped = true
				}
			}
			if expectKey {
				key := string(b[i+1 : end])
				if escaped {
					_ = json.Unmarshal(b[i:end+1], &key) // valid: checked by the decoder
				}
				top := &open[len(open)-1]
				if top.keys[key] {
					return parseError(fmt.Sprintf("duplicate field [%s]", key))
				}
				if top.keys == nil {
					top.keys = map[string]bool{}
				}
				top.keys[key] = true
				expectKey = false
			}
			i = end
		}
	}
	return nil
}

// describeJSONError turns a decoding error into a parse_exception.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) && strings.HasSuffix(syntax.Error(), " exceeded max depth"):
		return parseError(fmt.Sprintf("request body is nested too deeply at offset %d", syntax.Offset))
	case errors.As(err, &syntax):
		return parseError(fmt.Sprintf("request body is not valid JSON: %s at offset %d", unquoted(syntax), syntax.Offset))
	case errors.As(err, &typ):
		found, _, _ := strings.Cut(typ.Value, " ")
		return parseError(fmt.Sprintf("failed to parse field [%s]: expected %s but found %s",
			jsonFieldName(typ.Field), kindName(typ.Type), found))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return parseError("request body is not valid JSON: unexpected end of input")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return parseError(fmt.Sprintf("unknown field [%s]", strings.Trim(name, `"`)))
	}
	return parseError("request body is not valid JSON")
}

// jsonFieldName drops the Go names of embedded structs that encoding/json
// puts before a field's JSON name ("passwordInput.password").
func jsonFieldName(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// unquoted returns the syntax error's text without the offending character,
// which could be part of a password.
func unquoted(e *json.SyntaxError) string {
	msg := e.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid character "); ok {
		if i := strings.Index(rest, "' "); i >= 0 {
			return "invalid character " + rest[i+2:]
		}
	}
	return msg
}

// kindName names the JSON kind a Go type decodes from.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return "a number"
}
