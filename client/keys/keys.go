// Package keys manages the ed25519 account keys that sign Tally
// transactions. It is the library behind `tallyd keys
// add|list|show|delete|import|export`.
//
// A Keyring is a directory holding one JSON file per key, named
// "<name>.json" (file mode 0600, directory mode 0700). Every file records the
// backend it was written with:
//
//   - BackendFile encrypts the private key at rest under a passphrase
//     obtained from a PassphraseFunc (argon2id key derivation,
//     XChaCha20-Poly1305 encryption).
//   - BackendTest stores the private key UNENCRYPTED (base64) and must only
//     be used for local demos and tests.
//
// Public information (name, address, public key) is stored in clear in both
// backends, so List and Show never ask for a passphrase.
//
// An account's address is CometBFT's address of its public key (see
// AddressOf) and is displayed as lowercase hex (see FormatAddress).
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

const (
	// BackendFile keeps private keys encrypted at rest under a passphrase
	// (argon2id KDF + XChaCha20-Poly1305).
	BackendFile = "file"
	// BackendTest keeps private keys UNENCRYPTED; for local demos and tests
	// only.
	BackendTest = "test"
)

const (
	keyFileVersion = 1
	keyTypeEd25519 = "ed25519"
	keyFileExt     = ".json"
	armorFormat    = "tally-key-export"
	armorVersion   = 1
	// maxFileSize bounds key and armor files we are willing to parse.
	maxFileSize = 64 << 10
)

var (
	// ErrNotFound is wrapped by errors about a key name that is not in the
	// keyring.
	ErrNotFound = errors.New("key not found")
	// ErrExists is wrapped by errors about adding or importing a key under a
	// name that is already taken.
	ErrExists = errors.New("key already exists")
	// ErrWrongPassphrase is wrapped by errors about a passphrase that does not
	// decrypt a key (a keyring key of the file backend, or exported armor).
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrInvalidName is wrapped by errors about a key name that does not
	// match [a-zA-Z0-9._-]{1,64}.
	ErrInvalidName = errors.New("invalid key name")
	// ErrBackendMismatch is wrapped by errors about a key file that was
	// written by a different backend than the one the keyring was opened
	// with.
	ErrBackendMismatch = errors.New("keyring backend mismatch")
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,64}$`)

// Info is the public description of a key.
type Info struct {
	// Name is the key's name in the keyring.
	Name string `json:"name"`
	// Address is the account address as lowercase hex (see FormatAddress).
	Address string `json:"address"`
	// PubKey is the standard base64 encoding of the 32-byte ed25519 public
	// key.
	PubKey string `json:"pub_key"`
	// Backend is the backend the key was stored with (BackendFile or
	// BackendTest).
	Backend string `json:"backend"`
}

// PassphraseFunc supplies a passphrase. prompt is a human-readable request
// naming the key. confirm is true when the passphrase will be used to
// encrypt a key, in which case an interactive implementation should ask
// twice and fail if the entries differ. See PassphraseFromTerminal and
// PassphraseFromEnv.
type PassphraseFunc func(prompt string, confirm bool) (string, error)

// Keyring stores named keys in a directory (one JSON file per key, file mode
// 0600, dir 0700). A Keyring is safe for concurrent use by multiple
// goroutines; distinct processes sharing a directory never overwrite each
// other's keys (creation is exclusive) but are otherwise not coordinated.
type Keyring struct {
	dir        string
	backend    string
	passphrase PassphraseFunc
	warnings   []string
	mu         sync.Mutex
}

// keyFile is the on-disk JSON of one key.
type keyFile struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Backend string `json:"backend"`
	KeyType string `json:"key_type"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	// PrivKey is the base64 of the 64-byte ed25519 private key (seed ||
	// public key); BackendTest only.
	PrivKey string `json:"priv_key,omitempty"`
	// Encrypted is the passphrase-encrypted seed; BackendFile only.
	Encrypted *encryptedSeed `json:"encrypted_seed,omitempty"`
}

// armor is the JSON produced by Export and consumed by Import.
type armor struct {
	Format    string         `json:"format"`
	Version   int            `json:"version"`
	KeyType   string         `json:"key_type"`
	Name      string         `json:"name"` // informational; Import uses its own name argument
	Address   string         `json:"address"`
	PubKey    string         `json:"pub_key"`
	Encrypted *encryptedSeed `json:"encrypted_seed"`
}

// Open opens (creating it with mode 0700 if needed) the keyring in dir using
// backend BackendFile or BackendTest. Any other backend is an error naming
// the valid ones. passphrase may be nil for BackendTest; for BackendFile it
// is called whenever a private key is encrypted or decrypted (Add, Import,
// ImportPrivKey, Export, PrivKey, Sign), and those operations fail if it is
// nil. List, Show and Delete never ask for a passphrase. An existing
// directory that others may read or enter (any group or other permission
// bit) is set back to 0700, and Warnings says so.
func Open(dir, backend string, passphrase PassphraseFunc) (*Keyring, error) {
	switch backend {
	case BackendFile, BackendTest:
	default:
		return nil, fmt.Errorf("unknown keyring backend %q: valid backends are %q (encrypted) and %q (unencrypted, for tests)", backend, BackendFile, BackendTest)
	}
	if dir == "" {
		return nil, errors.New("keyring directory must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("keyring directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating keyring directory: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("keyring directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keyring path %s is not a directory", abs)
	}
	k := &Keyring{dir: abs, backend: backend, passphrase: passphrase}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(abs, 0o700); err != nil {
			return nil, fmt.Errorf("keyring directory %s has permissions %#o (others can read it) and could not be set to 0700: %w", abs, perm, err)
		}
		k.warnings = append(k.warnings, fmt.Sprintf("keyring directory %s had permissions %#o, open to other users; set to 0700", abs, perm))
	}
	return k, nil
}

// Warnings lists what Open corrected (a keyring directory open to others),
// for the caller to show the user.
func (k *Keyring) Warnings() []string { return k.warnings }

// Dir returns the absolute path of the keyring directory.
func (k *Keyring) Dir() string { return k.dir }

// Backend returns the keyring's backend (BackendFile or BackendTest).
func (k *Keyring) Backend() string { return k.backend }

// Add generates a new ed25519 key from crypto/rand and stores it under name.
// It refuses a name that is already taken (ErrExists) or does not match
// [a-zA-Z0-9._-]{1,64} (ErrInvalidName). With BackendFile the
// PassphraseFunc is asked (with confirm=true) for the encryption passphrase,
// which must not be empty.
func (k *Keyring) Add(name string) (Info, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Info{}, fmt.Errorf("generating key: %w", err)
	}
	defer clear(priv)
	return k.store(name, priv)
}

// ImportPrivKey stores an existing 64-byte ed25519 private key under name,
// with the same checks and passphrase handling as Add.
func (k *Keyring) ImportPrivKey(name string, priv ed25519.PrivateKey) (Info, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Info{}, fmt.Errorf("invalid ed25519 private key: want %d bytes, got %d", ed25519.PrivateKeySize, len(priv))
	}
	check := ed25519.NewKeyFromSeed(priv.Seed())
	defer clear(check)
	if !bytes.Equal(check, priv) {
		return Info{}, errors.New("invalid ed25519 private key: public half does not match the seed")
	}
	return k.store(name, check)
}

// Import decrypts armor produced by Export with passphrase and stores the
// key under name (the name recorded in the armor is ignored), with the same
// checks and passphrase handling as Add. A passphrase that does not decrypt
// the armor gives an error wrapping ErrWrongPassphrase.
func (k *Keyring) Import(name string, armorJSON []byte, passphrase string) (Info, error) {
	if err := k.checkNewName(name); err != nil {
		return Info{}, err
	}
	if len(armorJSON) > maxFileSize {
		return Info{}, fmt.Errorf("exported key is too large (%d bytes)", len(armorJSON))
	}
	var a armor
	if err := json.Unmarshal(armorJSON, &a); err != nil {
		return Info{}, fmt.Errorf("not an exported Tally key (invalid JSON): %w", err)
	}
	if a.Format != armorFormat {
		return Info{}, fmt.Errorf("not an exported Tally key: format %q, want %q (use the output of `tallyd keys export`)", a.Format, armorFormat)
	}
	if a.Version != armorVersion {
		return Info{}, fmt.Errorf("unsupported exported key version %d (this build reads version %d)", a.Version, armorVersion)
	}
	if a.KeyType != keyTypeEd25519 {
		return Info{}, fmt.Errorf("unsupported key type %q (want %q)", a.KeyType, keyTypeEd25519)
	}
	pub, err := decodePubKey(a.PubKey, a.Address)
	if err != nil {
		return Info{}, fmt.Errorf("exported key: %w", err)
	}
	priv, err := decryptSeed(a.Encrypted, pub, passphrase)
	if errors.Is(err, errDecrypt) {
		return Info{}, fmt.Errorf("%w for exported key %s (or the exported data is corrupted)", ErrWrongPassphrase, a.Address)
	}
	if err != nil {
		return Info{}, fmt.Errorf("exported key: %w", err)
	}
	defer clear(priv)
	return k.store(name, priv)
}

// Export returns portable JSON armor of the named key, always encrypted
// (argon2id + XChaCha20-Poly1305) under exportPassphrase, which must not be
// empty. With BackendFile the PassphraseFunc is asked for the key's keyring
// passphrase first. Import reverses Export.
func (k *Keyring) Export(name string, exportPassphrase string) ([]byte, error) {
	if exportPassphrase == "" {
		return nil, errors.New("refusing to export with an empty passphrase: exported keys are always encrypted")
	}
	if err := CheckPassphrase(exportPassphrase); err != nil {
		return nil, fmt.Errorf("export passphrase: %w", err)
	}
	priv, err := k.PrivKey(name)
	if err != nil {
		return nil, err
	}
	defer clear(priv)
	enc, err := encryptSeed(priv, exportPassphrase)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	out, err := json.MarshalIndent(armor{
		Format:    armorFormat,
		Version:   armorVersion,
		KeyType:   keyTypeEd25519,
		Name:      name,
		Address:   FormatAddress(AddressOf(pub)),
		PubKey:    base64.StdEncoding.EncodeToString(pub),
		Encrypted: enc,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// List returns the Info of every key in the keyring, sorted by name. It
// fails if any key file is unreadable, corrupted, or was written by the
// other backend (ErrBackendMismatch).
func (k *Keyring) List() ([]Info, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("reading keyring directory: %w", err)
	}
	infos := []Info{}
	for _, e := range entries {
		fname := e.Name()
		name, ok := strings.CutSuffix(fname, keyFileExt)
		if !ok || !validName.MatchString(name) || e.IsDir() {
			continue
		}
		kf, err := k.load(name)
		if err != nil {
			return nil, err
		}
		infos = append(infos, kf.info())
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}

// Show returns the Info of the named key. An unknown name gives an error
// wrapping ErrNotFound.
func (k *Keyring) Show(name string) (Info, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kf, err := k.load(name)
	if err != nil {
		return Info{}, err
	}
	return kf.info(), nil
}

// Delete removes the named key from disk. It does not ask for a passphrase;
// an interactive CLI should confirm with the user first. An unknown name
// gives an error wrapping ErrNotFound, and a key written by the other
// backend is not deleted (ErrBackendMismatch).
func (k *Keyring) Delete(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.load(name); err != nil {
		return err
	}
	if err := os.Remove(k.path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return k.notFound(name)
		}
		return fmt.Errorf("deleting key %q: %w", name, err)
	}
	syncDir(k.dir)
	return nil
}

// PrivKey returns the named private key. With BackendFile the
// PassphraseFunc is asked (confirm=false) for the key's passphrase; a
// passphrase that does not decrypt the key gives an error wrapping
// ErrWrongPassphrase. The caller owns the returned slice and should clear
// it when done.
func (k *Keyring) PrivKey(name string) (ed25519.PrivateKey, error) {
	k.mu.Lock()
	kf, err := k.load(name)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pub, err := decodePubKey(kf.PubKey, kf.Address)
	if err != nil {
		return nil, k.corrupt(name, err)
	}
	switch kf.Backend {
	case BackendTest:
		raw, err := base64.StdEncoding.DecodeString(kf.PrivKey)
		if err != nil || len(raw) != ed25519.PrivateKeySize {
			return nil, k.corrupt(name, fmt.Errorf("priv_key must be base64 of %d bytes", ed25519.PrivateKeySize))
		}
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		ok := bytes.Equal(priv, raw) && pub.Equal(priv.Public())
		clear(raw)
		if !ok {
			clear(priv)
			return nil, k.corrupt(name, errors.New("private key does not match the recorded public key"))
		}
		return priv, nil
	case BackendFile:
		pass, err := k.ask(fmt.Sprintf("Enter the passphrase for key %q", name), false)
		if err != nil {
			return nil, err
		}
		priv, err := decryptSeed(kf.Encrypted, pub, pass)
		if errors.Is(err, errDecrypt) {
			return nil, fmt.Errorf("%w for key %q", ErrWrongPassphrase, name)
		}
		if err != nil {
			return nil, k.corrupt(name, err)
		}
		return priv, nil
	}
	return nil, k.corrupt(name, fmt.Errorf("unknown backend %q", kf.Backend))
}

// Sign signs msg with the named key (pure ed25519, as verified by
// crypto/ed25519.Verify) and returns the 64-byte signature. With
// BackendFile it asks for the passphrase as PrivKey does.
func (k *Keyring) Sign(name string, msg []byte) ([]byte, error) {
	priv, err := k.PrivKey(name)
	if err != nil {
		return nil, err
	}
	defer clear(priv)
	return ed25519.Sign(priv, msg), nil
}

// store validates name, encrypts or encodes priv according to the backend
// and writes the key file without overwriting an existing one.
func (k *Keyring) store(name string, priv ed25519.PrivateKey) (Info, error) {
	// Check before prompting for a passphrase or running the KDF; the
	// exclusive create below is what actually guarantees no overwrite.
	if err := k.checkNewName(name); err != nil {
		return Info{}, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	kf := keyFile{
		Version: keyFileVersion,
		Name:    name,
		Backend: k.backend,
		KeyType: keyTypeEd25519,
		Address: FormatAddress(AddressOf(pub)),
		PubKey:  base64.StdEncoding.EncodeToString(pub),
	}
	switch k.backend {
	case BackendTest:
		kf.PrivKey = base64.StdEncoding.EncodeToString(priv)
	case BackendFile:
		pass, err := k.ask(fmt.Sprintf("Enter a passphrase to encrypt key %q", name), true)
		if err != nil {
			return Info{}, err
		}
		if pass == "" {
			return Info{}, fmt.Errorf("an empty passphrase is not allowed for the %q backend", BackendFile)
		}
		if err := CheckPassphrase(pass); err != nil {
			return Info{}, err
		}
		enc, err := encryptSeed(priv, pass)
		if err != nil {
			return Info{}, err
		}
		kf.Encrypted = enc
	}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return Info{}, err
	}
	data = append(data, '\n')
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := writeExclusive(k.dir, k.path(name), data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Info{}, k.exists(name)
		}
		return Info{}, fmt.Errorf("writing key %q: %w", name, err)
	}
	return kf.info(), nil
}

// checkNewName reports whether name is valid and not yet taken.
func (k *Keyring) checkNewName(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, err := os.Lstat(k.path(name))
	switch {
	case err == nil:
		return k.exists(name)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("checking key %q: %w", name, err)
	}
}

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w %q: names must be 1 to 64 characters from a-z, A-Z, 0-9, '.', '_' and '-'", ErrInvalidName, name)
	}
	return nil
}

// ask obtains a passphrase from the PassphraseFunc.
func (k *Keyring) ask(prompt string, confirm bool) (string, error) {
	if k.passphrase == nil {
		return "", fmt.Errorf("the %q keyring backend needs a passphrase but no passphrase source was configured", BackendFile)
	}
	pass, err := k.passphrase(prompt, confirm)
	if err != nil {
		return "", fmt.Errorf("getting passphrase: %w", err)
	}
	return pass, nil
}

// load reads and validates the named key file. The caller holds k.mu.
func (k *Keyring) load(name string) (*keyFile, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := k.path(name)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, k.notFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading key %q: %w", name, err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading key %q: %w", name, err)
	}
	defer clear(buf)
	if len(buf) > maxFileSize {
		return nil, k.corrupt(name, errors.New("file too large"))
	}
	var kf keyFile
	if err := json.Unmarshal(buf, &kf); err != nil {
		return nil, k.corrupt(name, err)
	}
	if kf.Version != keyFileVersion {
		return nil, k.corrupt(name, fmt.Errorf("unsupported key file version %d (this build reads version %d)", kf.Version, keyFileVersion))
	}
	if kf.Backend != k.backend {
		return nil, fmt.Errorf("%w: key %q in %s was written with the %q backend but this keyring was opened with the %q backend; open the keyring with backend %q to use it",
			ErrBackendMismatch, name, k.dir, kf.Backend, k.backend, kf.Backend)
	}
	if kf.Name != name {
		return nil, k.corrupt(name, fmt.Errorf("file records the name %q; key files must not be renamed by hand", kf.Name))
	}
	if kf.KeyType != keyTypeEd25519 {
		return nil, k.corrupt(name, fmt.Errorf("unsupported key type %q", kf.KeyType))
	}
	if _, err := decodePubKey(kf.PubKey, kf.Address); err != nil {
		return nil, k.corrupt(name, err)
	}
	switch kf.Backend {
	case BackendTest:
		if kf.PrivKey == "" || kf.Encrypted != nil {
			return nil, k.corrupt(name, errors.New("test-backend key must have priv_key and no encrypted_seed"))
		}
	case BackendFile:
		if kf.PrivKey != "" || kf.Encrypted == nil {
			return nil, k.corrupt(name, errors.New("file-backend key must have encrypted_seed and no priv_key"))
		}
	}
	return &kf, nil
}

func (kf *keyFile) info() Info {
	return Info{Name: kf.Name, Address: kf.Address, PubKey: kf.PubKey, Backend: kf.Backend}
}

// decodePubKey decodes a base64 public key and checks it against a hex
// address.
func decodePubKey(b64, addrHex string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("pub_key must be base64 of %d bytes", ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(raw)
	if FormatAddress(AddressOf(pub)) != addrHex {
		return nil, fmt.Errorf("address %q does not match the public key (want %s)", addrHex, FormatAddress(AddressOf(pub)))
	}
	return pub, nil
}

func (k *Keyring) path(name string) string {
	return filepath.Join(k.dir, name+keyFileExt)
}

func (k *Keyring) notFound(name string) error {
	return fmt.Errorf("%w: no key named %q in keyring %s; run `tallyd keys list` to see the available keys", ErrNotFound, name, k.dir)
}

func (k *Keyring) exists(name string) error {
	return fmt.Errorf("%w: a key named %q is already in keyring %s; choose another name or delete the existing key first", ErrExists, name, k.dir)
}

func (k *Keyring) corrupt(name string, err error) error {
	return fmt.Errorf("key file %s is corrupted: %v", k.path(name), err)
}

// writeExclusive writes data to path with mode 0600, failing with an error
// wrapping fs.ErrExist if path already exists. The data is written to a
// temporary file in dir and hard-linked into place, so readers never see a
// partially written key; filesystems without hard links fall back to an
// exclusive create.
func writeExclusive(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-key-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	linkErr := os.Link(tmpName, path)
	if linkErr == nil {
		syncDir(dir)
		return nil
	}
	if errors.Is(linkErr, fs.ErrExist) {
		return linkErr
	}
	// No hard links here: exclusive create and write in place.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir flushes directory entries to disk; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
