// Package peerauth holds the cluster's node credential: the secret by which
// nodes prove to one another that they are members, on the Raft port and on
// node-to-node HTTP routes. It never leaves a node except in a join answer.
package peerauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// FileName is the credential's file in a node's data directory (mode 0600).
const FileName = "node-credential"

// MinSecretLen is the shortest node secret accepted, in bytes.
const MinSecretLen = 16

// generatedLen is the number of random bytes of a generated credential.
const generatedLen = 32

// Credential is the node credential as this node currently knows it. It is
// empty until the node bootstraps, loads it from its data dir, receives it
// in a join answer or is given --node-secret. Safe for concurrent use.
type Credential struct {
	v atomic.Pointer[[]byte]
}

// NewCredential returns a credential holding secret (empty: not known yet).
func NewCredential(secret []byte) *Credential {
	c := &Credential{}
	if len(secret) > 0 {
		c.Set(secret)
	}
	return c
}

// Set replaces the secret.
func (c *Credential) Set(secret []byte) {
	s := append([]byte(nil), secret...)
	c.v.Store(&s)
}

// Secret returns the secret and whether one is known. The caller must not
// modify it.
func (c *Credential) Secret() ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	p := c.v.Load()
	if p == nil || len(*p) == 0 {
		return nil, false
	}
	return *p, true
}

// Generate returns a fresh random credential, URL-safe base64 text.
func Generate() ([]byte, error) {
	raw := make([]byte, generatedLen)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate node credential: %w", err)
	}
	return []byte(base64.RawURLEncoding.EncodeToString(raw)), nil
}

// Load reads the credential kept in dataDir. It returns an error wrapping
// os.ErrNotExist when there is none.
func Load(dataDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, FileName))
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if len(s) < MinSecretLen {
		return nil, fmt.Errorf("%s: node credential shorter than %d bytes", filepath.Join(dataDir, FileName), MinSecretLen)
	}
	return []byte(s), nil
}

// Save writes secret to dataDir with mode 0600 and fsyncs it (write to a
// temporary file, then rename), so a crash leaves the old file or the new.
func Save(dataDir string, secret []byte) error {
	if len(secret) < MinSecretLen {
		return errors.New("node credential too short")
	}
	path := filepath.Join(dataDir, FileName)
	tmp, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(append([]byte(nil), secret...), '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save node credential: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save node credential: %w", err)
	}
	d, err := os.Open(dataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
