// Package personal keeps the personal data an agency must hold about a
// person off the chain, encrypted under a key of that person alone, so that
// destroying the key erases the data everywhere it was copied
// (crypto-shredding). The chain holds only commitments: a pseudonym that
// stands for the person in records, and a hash of each record that proves
// which evidence a decision rested on without revealing it.
//
// Layout of a store directory (owner-only permissions):
//
//	keys/<person id>.key           32-byte AES-256 key, the only secret
//	records/<person id>/<name>.enc nonce || AES-GCM(salt || data), AAD "<person>/<name>"
//
// A person id is a hash of the caller's identifier under the store's own
// id key, so neither file names nor a backup of the records directory says
// whom a record is about. Backups may copy records freely; keys are kept
// apart (an HSM or a separately backed-up directory) and Shred destroys
// the one copy the store has. Once a key is gone the records, their salts
// and the link from the pseudonym to the person are gone with it; the
// commitments on the chain still verify against the app hash, but nothing
// opens them any more.
package personal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the size of a per-person key, a salt and a commitment.
const KeySize = 32

// ErrShredded means the person's key has been destroyed: their records can
// no longer be read.
var ErrShredded = errors.New("the person's key was destroyed (shredded): the record cannot be recovered")

// ErrNoRecord means the store holds no record of that name for the person.
var ErrNoRecord = errors.New("no such record")

// Domain-separation tags, so a commitment of one kind never equals another.
const (
	domainRecord    = "tally/personal/record/v1"
	domainPseudonym = "tally/personal/pseudonym/v1"
	domainPersonID  = "tally/personal/person-id/v1"
)

// Store is a directory of per-person encrypted records.
type Store struct {
	dir   string
	idKey []byte
}

// Open opens (creating if needed) the store in dir. The store's id key,
// which turns identifiers into file names, is created on first use.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "keys"), filepath.Join(dir, "records")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("personal store %s: %w", dir, err)
		}
	}
	idKey, err := readOrCreateKey(filepath.Join(dir, "id.key"))
	if err != nil {
		return nil, fmt.Errorf("personal store %s: %w", dir, err)
	}
	return &Store{dir: dir, idKey: idKey}, nil
}

// Commitment is a record's commitment as the chain holds it, and what it takes to open it.
type Commitment struct {
	// Hash is SHA-256(domain || salt || data): the value written on chain.
	Hash []byte
	// Salt is random and kept only inside the encrypted record, so a
	// guessable record (a name, a date) cannot be found from its hash.
	Salt []byte
}

// CommitRecord is the commitment of data under salt.
func CommitRecord(salt, data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(domainRecord))
	h.Write(salt)
	h.Write(data)
	return h.Sum(nil)
}

// personID is the file-name id of a caller's identifier.
func (s *Store) personID(identifier string) string {
	m := hmac.New(sha256.New, s.idKey)
	m.Write([]byte(domainPersonID))
	m.Write([]byte(identifier))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) keyPath(id string) string { return filepath.Join(s.dir, "keys", id+".key") }

func (s *Store) recordPath(id, name string) string {
	return filepath.Join(s.dir, "records", id, hex.EncodeToString([]byte(name))+".enc")
}

// key loads the person's key; create makes one when the person has none
// yet and was never shredded.
func (s *Store) key(id string, create bool) ([]byte, error) {
	k, err := os.ReadFile(s.keyPath(id))
	switch {
	case err == nil && len(k) == KeySize:
		return k, nil
	case err == nil:
		return nil, fmt.Errorf("key file %s is %d bytes, not %d", s.keyPath(id), len(k), KeySize)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	// No key: either never created, or shredded while records remain.
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "records", id)); len(entries) > 0 || !create {
		return nil, ErrShredded
	}
	return readOrCreateKey(s.keyPath(id))
}

// Pseudonym is the person's reference for one purpose (domain), e.g. a
// benefits recipient token or a taxpayer reference: an HMAC under the
// person's own key, so after Shred no one — the agency included — can tell
// whom the pseudonym on the chain stood for.
func (s *Store) Pseudonym(identifier, domain string) ([]byte, error) {
	k, err := s.key(s.personID(identifier), true)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(domainPseudonym))
	m.Write([]byte(domain))
	return m.Sum(nil), nil
}

// Put stores data about a person under name, encrypted under the person's
// key, and returns its commitment: write Hash to the chain, never data.
// Putting a name again replaces the record (and its commitment).
func (s *Store) Put(identifier, name string, data []byte) (*Commitment, error) {
	id := s.personID(identifier)
	k, err := s.key(id, true)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, KeySize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := newAEAD(k)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := aead.Seal(nonce, nonce, append(append([]byte{}, salt...), data...), aad(id, name))
	if err := os.MkdirAll(filepath.Join(s.dir, "records", id), 0o700); err != nil {
		return nil, err
	}
	if err := writeFile(s.recordPath(id, name), sealed); err != nil {
		return nil, err
	}
	return &Commitment{Hash: CommitRecord(salt, data), Salt: salt}, nil
}

// Get decrypts a record and returns it with its commitment. After Shred it
// returns ErrShredded.
func (s *Store) Get(identifier, name string) ([]byte, *Commitment, error) {
	id := s.personID(identifier)
	sealed, err := os.ReadFile(s.recordPath(id, name))
	if errors.Is(err, fs.ErrNotExist) {
		if _, kerr := s.key(id, false); errors.Is(kerr, ErrShredded) {
			return nil, nil, ErrShredded
		}
		return nil, nil, fmt.Errorf("record %q: %w", name, ErrNoRecord)
	}
	if err != nil {
		return nil, nil, err
	}
	k, err := s.key(id, false)
	if err != nil {
		return nil, nil, err
	}
	plain, err := Decrypt(k, id, name, sealed)
	if err != nil {
		return nil, nil, err
	}
	salt, data := plain[:KeySize], plain[KeySize:]
	return data, &Commitment{Hash: CommitRecord(salt, data), Salt: salt}, nil
}

// Decrypt opens one sealed record file with a key; exported so that a
// restored backup can be read with a key from the key store, and so that
// tests can show that nothing else opens it.
func Decrypt(key []byte, personID, name string, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead()+KeySize {
		return nil, fmt.Errorf("record %q is too short to be a sealed record", name)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad(personID, name))
	if err != nil {
		return nil, fmt.Errorf("record %q does not open under this key: %w", name, err)
	}
	return plain, nil
}

// Shred destroys the person's key: overwritten, synced and removed. Their
// sealed records (and every backup of them) become unreadable. Shredding a
// person with no key is not an error, so it can be repeated.
func (s *Store) Shred(identifier string) error {
	p := s.keyPath(s.personID(identifier))
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, werr := f.Write(make([]byte, KeySize))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("overwriting key %s: %w", p, err)
	}
	return os.Remove(p)
}

// PersonID is the id a store files a person's records under (the name of
// their records directory), for locating a backup copy.
func (s *Store) PersonID(identifier string) string { return s.personID(identifier) }

func aad(id, name string) []byte { return []byte(id + "/" + name) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func readOrCreateKey(path string) ([]byte, error) {
	k, err := os.ReadFile(path)
	if err == nil {
		if len(k) != KeySize {
			return nil, fmt.Errorf("key file %s is %d bytes, not %d", path, len(k), KeySize)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k = make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, writeFile(path, k)
}

// writeFile writes through a temporary file and a rename, so a crash never
// leaves half a key or record.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
