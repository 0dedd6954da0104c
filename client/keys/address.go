package keys

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

// AddressLen is the length in bytes of a Tally account address (the first
// 20 bytes of SHA-256 of the ed25519 public key, as in CometBFT).
const AddressLen = 20

// AddressOf returns the account address of an ed25519 public key: CometBFT's
// address of the key, i.e. the first 20 bytes of SHA-256 of the 32-byte
// public key. It returns nil if pub is not ed25519.PublicKeySize bytes long.
func AddressOf(pub ed25519.PublicKey) []byte {
	if len(pub) != ed25519.PublicKeySize {
		return nil
	}
	return []byte(cmted25519.PubKey(pub).Address())
}

// FormatAddress renders an address as lowercase hex (40 characters for a
// 20-byte address).
func FormatAddress(addr []byte) string {
	return hex.EncodeToString(addr)
}

// ParseAddress parses a hex address as produced by FormatAddress. Upper- or
// mixed-case hex is accepted; surrounding whitespace is ignored. It returns
// an error if the string is not hex or does not decode to exactly AddressLen
// bytes.
func ParseAddress(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*AddressLen {
		return nil, fmt.Errorf("invalid address %q: want %d hex characters (%d bytes), got %d characters", s, 2*AddressLen, AddressLen, len(s))
	}
	addr, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: not hex: %v", s, err)
	}
	return addr, nil
}
