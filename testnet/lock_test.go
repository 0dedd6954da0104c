package testnet

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// A network directory can be run by one process at a time; the second is
// told who holds it, and the lock is free again once released.
func TestSecondStartOfANetworkIsRefusedWithTheLockNamed(t *testing.T) {
	dir := t.TempDir()
	release, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in this process
	// conflicts just as another process's would.
	_, err = Lock(dir)
	if err == nil {
		t.Fatal("a second lock of the same network succeeded")
	}
	for _, want := range []string{"already running", LockFile, "process " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	release()
	release2, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	release2()
}
