package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
)

// Password rules. bcrypt reads at most 72 bytes, so a longer password would
// be silently truncated: refuse it instead.
const (
	minPasswordLength = 6
	maxPasswordBytes  = 72
	maxUsernameLength = 507
	// maxUserDetailBytes bounds a user's roles, full name, email and
	// metadata together, so that a user record stays far below the
	// snapshot's record size limit (snapshot.MaxRecordSize).
	maxUserDetailBytes = 256 << 10
	reservedUsername   = "elastic"
)

// invalidUsername is Elasticsearch's description of valid user names.
const invalidUsername = "User names must be at least 1 and no more than 507 characters. They can contain " +
	"alphanumeric characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in the Basic Latin " +
	"(ASCII) block. Leading or trailing whitespace is not allowed."

// usernameProblem returns why name cannot be a user name, or "".
func usernameProblem(name string) string {
	if len(name) < 1 || len(name) > maxUsernameLength || name[0] == ' ' || name[len(name)-1] == ' ' {
		return invalidUsername
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return invalidUsername
		}
	}
	return ""
}

// passwordProblem returns why pw cannot be a password, or "".
func passwordProblem(pw string) string {
	switch {
	case len(pw) < minPasswordLength:
		return fmt.Sprintf("passwords must be at least [%d] characters long", minPasswordLength)
	case len(pw) > maxPasswordBytes:
		return fmt.Sprintf("passwords must be at most [%d] bytes long", maxPasswordBytes)
	}
	return ""
}

// passwordInput is the password part of a put user or change password body:
// a password, or a bcrypt hash of one (Elasticsearch's password_hash).
type passwordInput struct {
	Password     *string `json:"password"`
	PasswordHash *string `json:"password_hash"`
}

// problems validates the input; required says a password must be given.
func (p passwordInput) problems(required bool, missing string) []string {
	switch {
	case p.Password != nil && p.PasswordHash != nil:
		return []string{"only one of [password, password_hash] can be provided"}
	case p.Password != nil:
		if msg := passwordProblem(*p.Password); msg != "" {
			return []string{msg}
		}
	case p.PasswordHash != nil:
		cost, err := bcrypt.Cost([]byte(*p.PasswordHash))
		if err != nil {
			return []string{"The provided password hash is not a hash or it could not be resolved to a supported hash algorithm. The supported password hash algorithms are [bcrypt]"}
		}
		switch {
		case cost < credentials.MinCost:
			return []string{fmt.Sprintf("password hashes must use a bcrypt cost of at least [%d]", credentials.MinCost)}
		case cost > credentials.MaxCost:
			return []string{fmt.Sprintf("password hashes must use a bcrypt cost of at most [%d]", credentials.MaxCost)}
		}
	case required:
		return []string{missing}
	}
	return nil
}

// hash returns the bcrypt hash to store, or nil when none was given.
func (p passwordInput) hash() ([]byte, error) {
	switch {
	case p.Password != nil:
		return credentials.HashPassword(*p.Password)
	case p.PasswordHash != nil:
		return []byte(*p.PasswordHash), nil
	}
	return nil, nil
}

// putUserRequest is the body of PUT /_security/user/{name}.
type putUserRequest struct {
	passwordInput
	// Username may repeat the name in the path, as Elasticsearch 7's
	// clients send it; any other value is refused.
	Username *string         `json:"username"`
	Roles    []string        `json:"roles"`
	FullName *string         `json:"full_name"`
	Email    *string         `json:"email"`
	Metadata json.RawMessage `json:"metadata"`
	Enabled  *bool           `json:"enabled"`
}

// validate checks a put user request for name, which exists already or not.
// It returns the compacted metadata (nil for none).
func (q *putUserRequest) validate(name string, exists, reserved bool) ([]byte, error) {
	meta, err := compactMetadata(q.Metadata)
	if err != nil {
		return nil, err
	}
	var msgs []string
	if msg := usernameProblem(name); msg != "" {
		msgs = append(msgs, msg)
	} else if strings.HasPrefix(name, "_") {
		msgs = append(msgs, fmt.Sprintf("Username [%s] is reserved and may not be used: names beginning with [_] are reserved for the API's own routes.", name))
	} else if reserved {
		msgs = append(msgs, fmt.Sprintf("Username [%s] is reserved and may not be used.", name))
	}
	if q.Username != nil && *q.Username != name {
		msgs = append(msgs, fmt.Sprintf("username in the body [%s] does not match the username in the path [%s]", echoed(*q.Username), echoed(name)))
	}
	if q.Roles == nil {
		msgs = append(msgs, "roles are missing")
	}
	if meta != nil && metadataHasReservedKey(meta) {
		msgs = append(msgs, "metadata keys may not start with [_]")
	}
	if q.detailBytes(meta) > maxUserDetailBytes {
		msgs = append(msgs, fmt.Sprintf("roles, full_name, email and metadata must together be at most [%d] bytes", maxUserDetailBytes))
	}
	msgs = append(msgs, q.problems(!exists, "password must be specified unless you are updating an existing user")...)
	if len(msgs) > 0 {
		return nil, validationFailed(msgs...)
	}
	return meta, nil
}

// detailBytes is the stored size of the request's details, counting five
// bytes of encoding overhead per role.
func (q *putUserRequest) detailBytes(meta []byte) int {
	n := len(meta)
	for _, r := range q.Roles {
		n += len(r) + 5
	}
	if q.FullName != nil {
		n += len(*q.FullName)
	}
	if q.Email != nil {
		n += len(*q.Email)
	}
	return n
}

// compactMetadata checks that raw is a JSON object (or absent or null) and
// returns it compacted.
func compactMetadata(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, parseError("failed to parse field [metadata]: expected an object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, parseError("failed to parse field [metadata]: not valid JSON")
	}
	return buf.Bytes(), nil
}

// metadataHasReservedKey reports a top-level key starting with "_", which
// Elasticsearch reserves for itself.
func metadataHasReservedKey(meta []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	for k := range m {
		if strings.HasPrefix(k, "_") {
			return true
		}
	}
	return false
}
