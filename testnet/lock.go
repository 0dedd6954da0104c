package testnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in a network's directory that the process running
// the network holds locked.
const LockFile = "testnet.lock"

// Lock takes the network directory for this process, so that a second
// `tallyd testnet start` of the same network fails at once with a message
// naming the lock and its holder, instead of starting nodes that die on
// their databases' locks while the first network's nodes keep answering.
// The lock is released when the process exits or release is called.
func Lock(dir string) (release func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder))); perr == nil {
				who = fmt.Sprintf("process %d", pid)
			}
			return nil, fmt.Errorf("the network in %s is already running: %s holds its lock %s. Stop it first (Ctrl-C in its terminal), or use that network", dir, who, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// Invocation is how the user ran this program (build/tallyd, ./tallyd, or
// tallyd when it is on PATH), so that printed hints can be pasted as they
// are.
func Invocation() string {
	arg0 := os.Args[0]
	if !strings.Contains(arg0, "/") {
		return arg0
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, arg0); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.Contains(rel, "/") {
				return "./" + rel
			}
			return rel
		}
	}
	return arg0
}

// cliFor is the command prefix that reaches the network in dir with its
// client configuration: "<how tallyd was run> --home <dir>".
func cliFor(dir string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(rel, "..") {
			dir = rel
		}
	}
	return Invocation() + " --home " + dir
}
