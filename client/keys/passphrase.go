package keys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// maxPassphraseLen bounds a passphrase line read by PassphraseFromTerminal.
const maxPassphraseLen = 4096

// MinPassphraseLen is the shortest passphrase that may encrypt a key (the
// file backend, and every export): twelve characters. The key files sit on
// disk where a thief can run the KDF as often as they like; twelve
// characters keep even a lower-case-only passphrase out of reach of such a
// search, where six or eight would not be.
const MinPassphraseLen = 12

// ErrWeakPassphrase is returned when a new passphrase is too short.
var ErrWeakPassphrase = errors.New("passphrase too weak")

// CheckPassphrase refuses a passphrase shorter than MinPassphraseLen
// characters, with a message a person can act on. It applies to new
// passphrases only: keys already encrypted under a shorter one still open.
func CheckPassphrase(pass string) error {
	if n := utf8.RuneCountInString(pass); n < MinPassphraseLen {
		return fmt.Errorf("%w: it has %d characters; use at least %d (several unrelated words make a long passphrase you can remember)", ErrWeakPassphrase, n, MinPassphraseLen)
	}
	return nil
}

// PassphraseFromTerminal returns a PassphraseFunc that writes the prompt to
// out and reads one line (terminated by "\n" or end of input; a trailing
// "\r" is dropped) from in. When confirm is true it asks a second time and
// fails if the two entries differ.
//
// When in is a terminal, echo is turned off while the passphrase is typed
// (and back on afterwards), so it never appears on screen. When in is a
// pipe or a file it is read as it comes. For unattended use prefer
// PassphraseFromEnv.
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
		fmt.Fprintf(out, "%s: ", prompt)
		pass, err := readHidden(in, out)
		if err != nil {
			return "", fmt.Errorf("reading passphrase: %w", err)
		}
		if !confirm {
			return pass, nil
		}
		fmt.Fprint(out, "Repeat the passphrase: ")
		again, err := readHidden(in, out)
		if err != nil {
			return "", fmt.Errorf("reading passphrase confirmation: %w", err)
		}
		if again != pass {
			return "", errors.New("the two passphrases do not match")
		}
		return pass, nil
	}
}

// readHidden reads one line from in with echo off when in is a terminal,
// ending the prompt's line itself since the user's newline is not shown.
func readHidden(in *os.File, out io.Writer) (string, error) {
	restore, hidden := hideEcho(in)
	defer restore()
	line, err := readLine(in)
	if hidden {
		fmt.Fprintln(out)
	}
	return line, err
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
