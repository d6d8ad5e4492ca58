package raftnode

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// writeLog makes a raft.db holding count log entries and returns its bytes.
func writeLog(t *testing.T, path string, count int) []byte {
	t.Helper()
	s, err := openBoltChecked(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= count; i++ {
		if err := s.StoreLog(&raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: make([]byte, 300)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenBoltChecked_GarbagePagesAreAnErrorNamingTheFileNeverAPanic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raft.db")
	good := writeLog(t, path, 300)
	s, err := openBoltChecked(path)
	if err != nil {
		t.Fatalf("the undamaged raft.db: %v", err)
	}
	if last, err := s.LastIndex(); err != nil || last != 300 {
		t.Fatalf("the undamaged raft.db: last index %d, %v", last, err)
	}
	_ = s.Close()
	const page = 4096
	rng := rand.New(rand.NewSource(15))
	damaged := 0
	for off := 2 * page; off < len(good); off += 2 * page {
		b := append([]byte(nil), good...)
		rng.Read(b[off:min(off+2*page, len(b))])
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openBoltChecked(path) // a panic here fails the test
		if err == nil {
			_ = s.Close() // the garbage landed on free pages only
			continue
		}
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("garbage at offset %d: %v, want ErrDamaged", off, err)
		}
		damaged++
	}
	if damaged == 0 {
		t.Fatal("no garbage page was found damaged")
	}
}
