package personal_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tallyledger/tally/client/personal"
)

// TestShredMakesRecordsUnrecoverable: after Shred the store cannot read the
// record, a backup of the sealed record opens under no key left on disk,
// the plaintext appears in no file, and the commitment taken before stays
// what the chain holds (the same bytes), with nothing left that opens it.
func TestShredMakesRecordsUnrecoverable(t *testing.T) {
	dir := t.TempDir()
	s, err := personal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const who = "national-id:QQ123456C"
	secret := []byte("Jane Example, 1 High Street; eligible: carer since 2024-03")
	c, err := s.Put(who, "evidence", secret)
	if err != nil {
		t.Fatal(err)
	}
	pseudonym, err := s.Pseudonym(who, "benefits/recipient")
	if err != nil {
		t.Fatal(err)
	}
	got, c2, err := s.Get(who, "evidence")
	if err != nil || !bytes.Equal(got, secret) || !bytes.Equal(c2.Hash, c.Hash) {
		t.Fatalf("before shredding: got %q, %x, %v; want the record and commitment %x", got, c2, err, c.Hash)
	}
	if !bytes.Equal(personal.CommitRecord(c.Salt, secret), c.Hash) {
		t.Fatal("the commitment does not open with its salt and record")
	}
	again, _ := s.Pseudonym(who, "benefits/recipient")
	if !bytes.Equal(again, pseudonym) {
		t.Fatal("the pseudonym is not stable while the key exists")
	}

	// A backup taken before shredding.
	recDir := filepath.Join(dir, "records", s.PersonID(who))
	entries, err := os.ReadDir(recDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("records of the person: %v, %v", entries, err)
	}
	backup, err := os.ReadFile(filepath.Join(recDir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Shred(who); err != nil {
		t.Fatal(err)
	}
	if err := s.Shred(who); err != nil {
		t.Fatalf("shredding twice: %v", err)
	}
	if _, _, err := s.Get(who, "evidence"); !errors.Is(err, personal.ErrShredded) {
		t.Fatalf("Get after shred: %v; want ErrShredded", err)
	}
	if _, err := s.Pseudonym(who, "benefits/recipient"); !errors.Is(err, personal.ErrShredded) {
		t.Fatalf("Pseudonym after shred: %v; want ErrShredded (the link to the person is gone)", err)
	}
	if _, err := s.Put(who, "evidence", secret); !errors.Is(err, personal.ErrShredded) {
		t.Fatalf("Put after shred: %v; want ErrShredded", err)
	}
	// Reopening the store (a restart) does not bring anything back.
	s2, err := personal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s2.Get(who, "evidence"); !errors.Is(err, personal.ErrShredded) {
		t.Fatalf("Get after reopening: %v; want ErrShredded", err)
	}

	// Every file left in the store (the id key, other people's keys) fails
	// to open the backup, and none holds the plaintext.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) || bytes.Contains(b, []byte("QQ123456C")) {
			t.Errorf("%s holds the plaintext", p)
		}
		if len(b) == personal.KeySize {
			if _, err := personal.Decrypt(b, s.PersonID(who), "evidence", backup); err == nil {
				t.Errorf("key file %s opens the shredded record", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The chain's commitment is unchanged bytes, but the salt that opened
	// it lived only inside the sealed record.
	if bytes.Contains(backup, c.Salt) {
		t.Fatal("the salt is stored in the clear")
	}
}

// TestPeopleHaveSeparateKeys: shredding one person leaves another's records readable.
func TestPeopleHaveSeparateKeys(t *testing.T) {
	s, err := personal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("a", "evidence", []byte("record of a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("b", "evidence", []byte("record of b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Shred("a"); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Get("b", "evidence"); err != nil || string(got) != "record of b" {
		t.Fatalf("b after shredding a: %q, %v", got, err)
	}
	if _, _, err := s.Get("b", "other"); !errors.Is(err, personal.ErrNoRecord) {
		t.Fatalf("missing record: %v; want ErrNoRecord", err)
	}
}
