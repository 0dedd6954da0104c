package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A file-backend key is encrypted only under a passphrase of at least
// MinPassphraseLen characters, and so is every export; the test backend,
// which does not encrypt, asks none.
func TestWeakPassphraseIsRefusedForTheFileBackend(t *testing.T) {
	dir := t.TempDir()
	weak := openT(t, dir, BackendFile, fixedPass("eleven-char", nil))
	if _, err := weak.Add("a"); !errors.Is(err, ErrWeakPassphrase) || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("Add with an 11-character passphrase: %v, want ErrWeakPassphrase naming the rule", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused key left a file: %v", err)
	}
	ok := openT(t, dir, BackendFile, fixedPass("twelve-chars", nil))
	if _, err := ok.Add("a"); err != nil {
		t.Fatalf("Add with a 12-character passphrase: %v", err)
	}
	if _, err := ok.Export("a", "short"); !errors.Is(err, ErrWeakPassphrase) {
		t.Fatalf("Export under a 5-character passphrase: %v, want ErrWeakPassphrase", err)
	}
	if err := CheckPassphrase("ééééééééééé"); !errors.Is(err, ErrWeakPassphrase) {
		t.Fatalf("11 characters in 22 bytes: %v; the rule counts characters", err)
	}
	test := openT(t, t.TempDir(), BackendTest, nil)
	if _, err := test.Add("b"); err != nil {
		t.Fatalf("test backend: %v", err)
	}
}

// A keyring directory other users could read or enter is set back to 0700
// when opened, with a warning; a private one is left alone, silently.
func TestOpenClosesAKeyringDirectoryOpenToOthers(t *testing.T) {
	for _, perm := range []os.FileMode{0o755, 0o750, 0o707, 0o777} {
		t.Run(strconv.FormatUint(uint64(perm), 8), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kr")
			if err := os.Mkdir(dir, perm); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, perm); err != nil { // past the umask
				t.Fatal(err)
			}
			k := openT(t, dir, BackendTest, nil)
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o700 {
				t.Fatalf("permissions %#o after Open, want 0700", st.Mode().Perm())
			}
			if w := k.Warnings(); len(w) != 1 || !strings.Contains(w[0], "set to 0700") {
				t.Fatalf("warnings %q", w)
			}
		})
	}
	k := openT(t, t.TempDir(), BackendTest, nil)
	if err := os.Chmod(k.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	again := openT(t, k.Dir(), BackendTest, nil)
	if w := again.Warnings(); len(w) != 0 {
		t.Fatalf("a private directory got warnings %q", w)
	}
}

// openPTY opens a pseudo-terminal: the master side the test types into and
// reads the screen from, and the slave side the passphrase is read from.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// On a terminal the passphrase is not echoed, and echo is back on after.
// Before, it was printed on screen as it was typed.
func TestPassphraseIsHiddenOnATerminal(t *testing.T) {
	master, slave := openPTY(t)
	var prompt strings.Builder
	type result struct {
		pass string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		p, err := PassphraseFromTerminal(slave, &prompt)("Passphrase", false)
		done <- result{p, err}
	}()
	// Type only once echo is off, as a person would after the prompt.
	for i := 0; ; i++ {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), ioctlGetTermios)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		if i > 500 {
			t.Fatal("echo was never turned off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte("correct horse battery\n")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.pass != "correct horse battery" {
		t.Fatalf("read %q, %v", r.pass, r.err)
	}
	// The screen shows nothing typed: the master side has nothing to read.
	fd := int(master.Fd()) // Fd makes the file blocking: take it once, then unblock
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, _ := unix.Read(fd, buf)
	if n > 0 && strings.Contains(string(buf[:n]), "horse") {
		t.Fatalf("the passphrase was echoed: %q", buf[:n])
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 {
		t.Fatal("echo left off after reading")
	}
}
