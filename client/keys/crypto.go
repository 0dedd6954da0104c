package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	kdfArgon2id      = "argon2id"
	cipherXChaCha    = "xchacha20-poly1305"
	saltLen          = 16
	aadPrefix        = "tally-keys/ed25519-seed/v1:"
	maxKDFTime       = 100
	maxKDFMemoryKiB  = 4 << 20 // 4 GiB
	maxKDFThreads    = 64
	minSaltLen       = 8
	maxSaltLen       = 64
	encryptedSeedLen = ed25519.SeedSize + chacha20poly1305.Overhead
)

// kdfParams are argon2id cost parameters.
type kdfParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// defaultKDF is the argon2id cost used for every new encryption (keyring
// files of the file backend and exported armor). The parameters are stored
// next to each ciphertext, so lowering them (as the tests do) only affects
// keys written afterwards.
var defaultKDF = kdfParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// encryptedSeed is the JSON form of an ed25519 seed encrypted under a
// passphrase: argon2id derives a 32-byte key from the passphrase and salt,
// and XChaCha20-Poly1305 seals the 32-byte seed. The public key is bound as
// additional authenticated data.
type encryptedSeed struct {
	KDF        string `json:"kdf"`
	Time       uint32 `json:"time"`
	MemoryKiB  uint32 `json:"memory_kib"`
	Threads    uint8  `json:"threads"`
	Salt       string `json:"salt"`
	Cipher     string `json:"cipher"`
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

// errDecrypt is returned by decryptSeed when authentication fails; callers
// turn it into an ErrWrongPassphrase error naming what was being decrypted.
var errDecrypt = errors.New("decryption failed")

func aad(pub ed25519.PublicKey) []byte {
	return append([]byte(aadPrefix), pub...)
}

func encryptSeed(priv ed25519.PrivateKey, passphrase string) (*encryptedSeed, error) {
	if passphrase == "" {
		return nil, errors.New("refusing to encrypt with an empty passphrase")
	}
	p := defaultKDF
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generating salt: %w", err)
	}
	key := argon2.IDKey([]byte(passphrase), salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	ct := aead.Seal(nil, nonce, priv.Seed(), aad(pub))
	b64 := base64.StdEncoding.EncodeToString
	return &encryptedSeed{
		KDF:        kdfArgon2id,
		Time:       p.Time,
		MemoryKiB:  p.MemoryKiB,
		Threads:    p.Threads,
		Salt:       b64(salt),
		Cipher:     cipherXChaCha,
		Nonce:      b64(nonce),
		Ciphertext: b64(ct),
	}, nil
}

// decryptSeed decrypts e with passphrase and returns the private key. pub is
// the public key recorded next to the ciphertext; it is authenticated as
// additional data and checked against the decrypted key. A wrong passphrase
// (or tampered data) yields errDecrypt; malformed parameters yield other
// errors.
func decryptSeed(e *encryptedSeed, pub ed25519.PublicKey, passphrase string) (ed25519.PrivateKey, error) {
	if e == nil {
		return nil, errors.New("missing encrypted key data")
	}
	if e.KDF != kdfArgon2id {
		return nil, fmt.Errorf("unsupported key derivation function %q (want %q)", e.KDF, kdfArgon2id)
	}
	if e.Cipher != cipherXChaCha {
		return nil, fmt.Errorf("unsupported cipher %q (want %q)", e.Cipher, cipherXChaCha)
	}
	// Bound the cost parameters so that a hostile file cannot make us
	// allocate unbounded memory or spin forever.
	if e.Time < 1 || e.Time > maxKDFTime {
		return nil, fmt.Errorf("argon2id time parameter %d out of range [1, %d]", e.Time, maxKDFTime)
	}
	if e.Threads < 1 || e.Threads > maxKDFThreads {
		return nil, fmt.Errorf("argon2id threads parameter %d out of range [1, %d]", e.Threads, maxKDFThreads)
	}
	if e.MemoryKiB < 8*uint32(e.Threads) || e.MemoryKiB > maxKDFMemoryKiB {
		return nil, fmt.Errorf("argon2id memory parameter %d KiB out of range [%d, %d]", e.MemoryKiB, 8*uint32(e.Threads), maxKDFMemoryKiB)
	}
	salt, err := base64.StdEncoding.DecodeString(e.Salt)
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return nil, fmt.Errorf("invalid salt: want base64 of %d..%d bytes", minSaltLen, maxSaltLen)
	}
	nonce, err := base64.StdEncoding.DecodeString(e.Nonce)
	if err != nil || len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("invalid nonce: want base64 of %d bytes", chacha20poly1305.NonceSizeX)
	}
	ct, err := base64.StdEncoding.DecodeString(e.Ciphertext)
	if err != nil || len(ct) != encryptedSeedLen {
		return nil, fmt.Errorf("invalid ciphertext: want base64 of %d bytes", encryptedSeedLen)
	}
	key := argon2.IDKey([]byte(passphrase), salt, e.Time, e.MemoryKiB, e.Threads, chacha20poly1305.KeySize)
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, ct, aad(pub))
	if err != nil {
		return nil, errDecrypt
	}
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if !pub.Equal(priv.Public()) {
		clear(priv)
		return nil, errors.New("decrypted private key does not match the recorded public key")
	}
	return priv, nil
}
