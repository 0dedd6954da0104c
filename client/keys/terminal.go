package keys

import (
	"os"

	"golang.org/x/sys/unix"
)

// hideEcho turns off echo on the terminal f and returns the function that
// turns it back on. ok is false when f is not a terminal (a pipe, a file):
// then nothing changed and the input is read as it comes. It uses the
// termios ioctls of golang.org/x/sys/unix, already a dependency, rather
// than golang.org/x/term, which is not in the module graph.
func hideEcho(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return func() {}, false
	}
	hidden := *old
	hidden.Lflag &^= unix.ECHO
	hidden.Lflag |= unix.ICANON | unix.ISIG
	hidden.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &hidden); err != nil {
		return func() {}, false
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, true
}
