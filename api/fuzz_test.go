package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// requestSeeds are bodies every request decoder fuzz target starts from:
// valid requests and the hostile shapes the API must refuse with a 400.
var requestSeeds = []string{
	`{"grant_type":"password","username":"elastic","password":"changeme"}`,
	`{"grant_type":"refresh_token","refresh_token":"dGVzdA"}`,
	`{"token":"abc"}`,
	`{"realm_name":"native","username":"bob"}`,
	`{"password":"s3cret-pass","roles":["a","b"],"full_name":"B","email":"b@x","metadata":{"k":[1,{"j":2}]},"enabled":true}`,
	`{"grant_type":"password","grant_type":"client_credentials"}`,
	`{"metadata":{"a":1,"a":2}}`,
	`{"grant_type":5}`,
	`{"colour":"blue"}`,
	`{"token":"x"} {}`,
	"{\"username\":\"\xff\xfe\"}",
	`[]`,
	`{"roles":[[[[[[[[]]]]]]]]}`,
	``,
	`{`,
}

// fuzzDecode decodes body into a fresh *T and checks the decoder's contract:
// a failure is a 400 parse_exception; a success came from a valid UTF-8
// JSON object without duplicate keys, and the value survives a round trip
// through encoding/json.
func fuzzDecode[T any](t *testing.T, body []byte) {
	var v T
	err := decodeJSON(body, &v)
	if err != nil {
		var ee *esError
		if !errors.As(err, &ee) || ee.status != http.StatusBadRequest || ee.typ != "parse_exception" {
			t.Fatalf("decode error %#v is not a 400 parse_exception", err)
		}
		if !utf8.ValidString(ee.reason) {
			t.Fatalf("reason %q is not valid UTF-8", ee.reason)
		}
		return
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		t.Fatalf("accepted invalid input %q", body)
	}
	if strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
		t.Fatalf("accepted a non-object %q", body)
	}
	enc, err := json.Marshal(&v)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	var again T
	if err := decodeJSON(enc, &again); err != nil {
		t.Fatalf("re-decode of %s: %v", enc, err)
	}
	if !reflect.DeepEqual(normalise(t, v), normalise(t, again)) {
		t.Fatalf("round trip changed %+v into %+v", v, again)
	}
}

// normalise re-encodes v so that RawMessage fields compare by content.
func normalise[T any](t *testing.T, v T) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func addSeeds(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
}

func FuzzDecodeTokenRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzDecode[tokenRequest](t, body) })
}

func FuzzDecodeInvalidateRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzDecode[invalidateRequest](t, body) })
}

func FuzzDecodeUserRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) { fuzzDecode[putUserRequest](t, body) })
}

// FuzzParseAuthorization checks the Authorization header parser: it never
// panics, answers only a lower-case scheme, refuses Basic and Bearer folded
// into one header, and takes the credentials from after the scheme.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==", "bearer  x ", "Bearer a, Basic b",
		"Negotiate x", "", " ", "Bearer", "BEARER \xff\xfe", "Basic a,bearer b,c"} {
		f.Add(s, "")
	}
	f.Add("Bearer a", "Basic b")
	f.Fuzz(func(t *testing.T, first, second string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{first}
		if second != "" {
			r.Header["Authorization"] = append(r.Header["Authorization"], second)
		}
		scheme, value, err := parseAuthorization(r)
		if second != "" {
			if err != errTwoCredentials {
				t.Fatalf("two headers: err %v, want errTwoCredentials", err)
			}
			return
		}
		if err != nil {
			if err != errTwoCredentials {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if scheme != strings.ToLower(scheme) {
			t.Fatalf("scheme %q is not lower case", scheme)
		}
		if !strings.Contains(first, value) {
			t.Fatalf("value %q is not part of header %q", value, first)
		}
		if strings.Contains(scheme, " ") {
			t.Fatalf("scheme %q holds a space", scheme)
		}
	})
}

func TestCheckObject_FindsDuplicateKeysAtAnyDepth(t *testing.T) {
	cases := map[string]string{
		`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]}`: "",
		`{"roles":["a","a"],"x":"a"}`:               "",
		`{"a":"\"a\"","b":{"\"":1,"\u0022":2}}`:     `duplicate field ["]`,
		`{"a":1,"\u0061":2}`:                        "duplicate field [a]",
		`{"m":[{"k":1,"j":{},"k":2}]}`:              "duplicate field [k]",
		`{"m":{"k":{"k":{"z":1,"z":1}}}}`:           "duplicate field [z]",
	}
	for body, want := range cases {
		err := checkObject([]byte(body))
		var ee *esError
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (!errors.As(err, &ee) || ee.reason != want):
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
}

// Checking a body costs at most a small multiple of its size plus a fixed
// allowance for the decoder's nesting stack (10000 levels at most).
func TestDecodeJSON_AllocationIsProportionalToTheBody(t *testing.T) {
	bodies := map[string]string{
		"empty objects": `{"a":[` + strings.TrimSuffix(strings.Repeat(`{},`, maxBodyBytes/3-10), ",") + `]}`,
		"numbers":       `{"a":[` + strings.TrimSuffix(strings.Repeat(`1,`, maxBodyBytes/2-10), ",") + `]}`,
		"nesting":       `{"a":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}`,
	}
	for name, body := range bodies {
		var v putUserRequest
		n := testing.AllocsPerRun(1, func() { _ = decodeJSON([]byte(body), &v) })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_ = decodeJSON([]byte(body), &v)
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16*len(body)+4<<20); got > limit {
			t.Errorf("%s: %d bytes allocated (%v allocations) for a %d-byte body, want at most %d",
				name, got, n, len(body), limit)
		}
	}
}
