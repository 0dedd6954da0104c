package keys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxPassphraseLen bounds a passphrase line read by PassphraseFromTerminal.
const maxPassphraseLen = 4096

// PassphraseFromTerminal returns a PassphraseFunc that writes the prompt to
// out and reads one line (terminated by "\n" or end of input; a trailing
// "\r" is dropped) from in. When confirm is true it asks a second time and
// fails if the two entries differ.
//
// WARNING: the passphrase is NOT hidden while it is typed. Terminal echo
// suppression would need golang.org/x/term, which is not a dependency of
// this module, so the input is read as an ordinary line and is visible on
// screen. For unattended use prefer PassphraseFromEnv.
//
// The input is read one byte at a time so that nothing after the
// passphrase line is consumed from in.
func PassphraseFromTerminal(in *os.File, out io.Writer) PassphraseFunc {
	return func(prompt string, confirm bool) (string, error) {
		if in == nil {
			return "", errors.New("no input to read the passphrase from")
		}
		if out == nil {
			out = io.Discard
		}
		fmt.Fprintf(out, "%s (input is not hidden): ", prompt)
		pass, err := readLine(in)
		if err != nil {
			return "", fmt.Errorf("reading passphrase: %w", err)
		}
		if !confirm {
			return pass, nil
		}
		fmt.Fprint(out, "Repeat the passphrase: ")
		again, err := readLine(in)
		if err != nil {
			return "", fmt.Errorf("reading passphrase confirmation: %w", err)
		}
		if again != pass {
			return "", errors.New("the two passphrases do not match")
		}
		return pass, nil
	}
}

// readLine reads bytes from r up to and excluding the next '\n'. It returns
// io.ErrUnexpectedEOF if the input ends before any byte was read.
func readLine(r io.Reader) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			if sb.Len() >= maxPassphraseLen {
				return "", fmt.Errorf("passphrase longer than %d bytes", maxPassphraseLen)
			}
			sb.WriteByte(buf[0])
			continue
		}
		if err == io.EOF {
			if sb.Len() == 0 {
				return "", io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(sb.String(), "\r"), nil
}

// PassphraseFromEnv returns a PassphraseFunc, for scripts, that ignores the
// prompt and the confirm flag and returns the value of the environment
// variable varName. It fails with a clear error if the variable is unset or
// empty.
func PassphraseFromEnv(varName string) PassphraseFunc {
	return func(prompt string, confirm bool) (string, error) {
		v, ok := os.LookupEnv(varName)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set; export it with the keyring passphrase", varName)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is set but empty; an empty passphrase is not allowed", varName)
		}
		return v, nil
	}
}
