package app

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// hexString, which names a transaction's signer in its "tx" event, is
// hex.EncodeToString.
func TestHexStringIsEncodeToString(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, b := range [][]byte{nil, {}, {0x00}, {0x0f, 0xf0}, all} {
		require.Equal(t, hex.EncodeToString(b), hexString(b))
	}
}
