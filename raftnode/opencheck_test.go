package raftnode

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
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

// After a crash, free pages hold whatever an aborted transaction wrote
// there, which bbolt never reads: garbage in a free page's header is not
// damage, and a node restarted after a crash must open its raft.db.
func TestOpenBoltChecked_GarbageOnFreePagesIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raft.db")
	writeLog(t, path, 300)
	s, err := openBoltChecked(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 290); err != nil { // frees most pages
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var free []int
	pageSize := db.Info().PageSize
	_ = db.View(func(tx *bbolt.Tx) error {
		for id := 2; id < int(tx.Size())/pageSize; id++ {
			if info, err := tx.Page(id); err == nil && info != nil && info.Type == "free" {
				free = append(free, id)
			}
		}
		return nil
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(free) == 0 {
		t.Fatal("no free page to write garbage on")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range free {
		header := b[id*pageSize : id*pageSize+16]
		for i := range header {
			header[i] = 0xff // a page type and overflow no page in use has
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = openBoltChecked(path)
	if err != nil {
		t.Fatalf("garbage on %d free pages: %v", len(free), err)
	}
	if last, err := s.LastIndex(); err != nil || last != 300 {
		t.Fatalf("last index %d, %v", last, err)
	}
	_ = s.Close()
}
