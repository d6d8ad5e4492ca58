package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// enrollmentPrefix starts every enrollment token: the format's version.
const enrollmentPrefix = "tokend-enroll-v1."

// enrollmentSecretBytes is the size of an enrollment token's one-time
// credential.
const enrollmentSecretBytes = 32

// maxEnrollmentToken bounds the size of a token accepted for parsing.
const maxEnrollmentToken = 8 << 10

// ErrBadEnrollment marks an enrollment token that cannot be parsed.
var ErrBadEnrollment = errors.New("malformed enrollment token")

// ErrUntrustedCluster marks a member whose TLS certificate chain does not
// hold the cluster CA an enrollment token pins.
var ErrUntrustedCluster = errors.New("the member's certificate is not from the cluster CA the enrollment token names")

// Enrollment is what an enrollment token carries: what a new node needs to
// join, with a one-time credential that expires.
type Enrollment struct {
	// Version is the payload's version, 1.
	Version int `json:"v"`
	// URLs are the members' HTTP base URLs, the join targets.
	URLs []string `json:"urls"`
	// CASHA256 is the hex SHA-256 of the cluster CA certificate (DER),
	// empty when the cluster has no CA.
	CASHA256 string `json:"ca_sha256,omitempty"`
	// Secret is the one-time credential, sent in HeaderEnrollment.
	Secret string `json:"secret"`
	// Expires is when the credential stops being accepted, Unix seconds.
	Expires int64 `json:"exp"`
}

// String is the opaque token: the prefix, then the payload as base64url
// JSON.
func (e Enrollment) String() string {
	payload, _ := json.Marshal(e)
	return enrollmentPrefix + base64.RawURLEncoding.EncodeToString(payload)
}

// ParseEnrollment decodes an enrollment token. Its errors never quote the
// token.
func ParseEnrollment(token string) (Enrollment, error) {
	// The prefix is public: only the payload after it is secret.
	raw := strings.TrimSpace(token)
	if len(raw) > maxEnrollmentToken || !strings.HasPrefix(raw, enrollmentPrefix) {
		return Enrollment{}, fmt.Errorf("%w: it does not start with %q", ErrBadEnrollment, enrollmentPrefix)
	}
	payload, err := base64.RawURLEncoding.DecodeString(raw[len(enrollmentPrefix):])
	if err != nil {
		return Enrollment{}, fmt.Errorf("%w: not base64url", ErrBadEnrollment)
	}
	var e Enrollment
	if err := json.Unmarshal(payload, &e); err != nil {
		return Enrollment{}, fmt.Errorf("%w: undecodable payload", ErrBadEnrollment)
	}
	switch {
	case e.Version != 1:
		return Enrollment{}, fmt.Errorf("%w: version %d, want 1", ErrBadEnrollment, e.Version)
	case len(e.URLs) == 0:
		return Enrollment{}, fmt.Errorf("%w: no member URLs", ErrBadEnrollment)
	case e.Secret == "":
		return Enrollment{}, fmt.Errorf("%w: no credential", ErrBadEnrollment)
	case e.CASHA256 != "" && !validFingerprint(e.CASHA256):
		return Enrollment{}, fmt.Errorf("%w: ca_sha256 is not a hex SHA-256", ErrBadEnrollment)
	}
	return e, nil
}

// Expired reports whether e's credential has expired at now.
func (e Enrollment) Expired(now time.Time) bool {
	return now.Unix() > e.Expires
}

// NewEnrollmentSecret draws a one-time credential.
func NewEnrollmentSecret() (string, error) {
	b := make([]byte, enrollmentSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Fingerprint is the hex SHA-256 of a certificate's DER bytes.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// validFingerprint reports whether s is a hex SHA-256.
func validFingerprint(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// PinnedTLS returns base (or an empty configuration) made to trust, for
// https URLs, only members whose certificate chain holds the CA with the
// given fingerprint: a chain that carries the CA itself is verified
// against it; otherwise the chain must verify against base's RootCAs and
// include the CA. Anything else fails the handshake with
// ErrUntrustedCluster.
func PinnedTLS(base *tls.Config, fingerprint string) *tls.Config {
	cfg := base.Clone()
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	roots := cfg.RootCAs
	cfg.InsecureSkipVerify = true // verified below, against the pinned CA
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPinned(cs, roots, fingerprint)
	}
	return cfg
}

// verifyPinned checks cs's chain against the pinned CA fingerprint.
func verifyPinned(cs tls.ConnectionState, roots *x509.CertPool, fingerprint string) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrUntrustedCluster
	}
	leaf := cs.PeerCertificates[0]
	pinned := x509.NewCertPool()
	inter := x509.NewCertPool()
	found := false
	for _, c := range cs.PeerCertificates {
		if subtle.ConstantTimeCompare([]byte(Fingerprint(c)), []byte(fingerprint)) == 1 {
			pinned.AddCert(c)
			found = true
		} else {
			inter.AddCert(c)
		}
	}
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter, Roots: pinned}
	if !found {
		if roots == nil {
			return ErrUntrustedCluster
		}
		opts.Roots = roots
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedCluster, err)
	}
	for _, chain := range chains {
		for _, c := range chain {
			if Fingerprint(c) == fingerprint {
				return nil
			}
		}
	}
	return ErrUntrustedCluster
}
