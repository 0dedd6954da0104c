package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tallyledger/tally/testnet"
)

// haltMessage is what `tallyd start` prints when consensus stops after a
// failure such as a full or read-only disk (cmd/tallyd/node.go).
const haltMessage = "consensus stopped"

// mountDataTmpfs moves a node's data directory onto a tmpfs of sizeMB,
// so the scenario can fill it or make it read-only without touching the
// machine's own disks.
func mountDataTmpfs(dir string, sizeMB int) error {
	saved := dir + ".saved"
	if err := os.Rename(dir, saved); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := nlRun("", "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMB), "tmpfs", dir); err != nil {
		return err
	}
	if err := nlRun("", "cp", "-a", saved+"/.", dir+"/"); err != nil {
		return err
	}
	return os.RemoveAll(saved)
}

// fill writes a file into dir until the file system is full.
func fill(dir string) (int64, error) {
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if err != nil {
			return n, nil // ENOSPC: full
		}
	}
}

// TestDiskTrouble makes one validator's data directory full, then
// read-only: the node stops with a clear error instead of running on as a
// validator that never signs, the others carry on, and once space (or
// write access) returns it restarts and reaches the same state.
func TestDiskTrouble(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED (needs root to mount a tmpfs for the data directory): the disk scenario did not run")
	}
	probe := t.TempDir()
	if err := nlRun("", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe); err != nil {
		t.Skipf("SKIPPED (cannot mount a tmpfs here: %v): the disk scenario did not run", err)
	}
	_ = nlRun("", "umount", probe)
	const victim = 3
	var dataDir string
	c := NewCluster(t, ClusterOptions{Before: func(m *testnet.Manifest) error {
		dataDir = filepath.Join(m.Nodes[victim].Home, "data")
		return mountDataTmpfs(dataDir, 256)
	}})
	t.Cleanup(func() { _ = nlRun("", "umount", "-l", dataDir) })
	s := NewScenario(t, "disk full, then read-only")
	name := c.Names()[victim]
	w, ctx := StartWorkload(t, c, 40)

	breakDisk := func(what string, breakIt, repair func() error) {
		time.Sleep(2 * time.Second)
		before := c.MaxHeight(ctx)
		logSize := fileSize(c.M.Nodes[victim].LogFile)
		c.ExpectExit(name)
		if err := breakIt(); err != nil {
			t.Fatal(err)
		}
		s.Fault("%s: %s at height %d", name, what, before)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		exitErr := c.Net.Wait(wctx, name)
		timedOut := wctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%s kept running for a minute with its data directory %s", name, what)
		}
		tail := readFrom(c.M.Nodes[victim].LogFile, logSize)
		c.TolerateConsensusFailure(name, logSize, logSize+int64(len(tail)))
		if !strings.Contains(tail, haltMessage) {
			t.Errorf("%s stopped (%v) without the clear message %q; its log says:\n%s", name, exitErr, haltMessage, lastLines(tail, 15))
		} else {
			s.Note("%s stopped with: %s", name, lineWith(tail, haltMessage))
		}
		var others []int
		for i := range c.Clients {
			if i != victim {
				others = append(others, i)
			}
		}
		wctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		if _, err := c.WaitProgress(wctx, c.MaxHeight(ctx), others); err != nil {
			t.Fatalf("the other three stopped: %v", err)
		}
		cancel()
		if err := repair(); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(name, nil); err != nil {
			t.Fatal(err)
		}
		wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		d, err := c.WaitCaughtUp(wctx, victim)
		cancel()
		if err != nil {
			t.Fatalf("%s did not recover after the disk was repaired: %v", name, err)
		}
		s.Resumed(d, name+" caught up after the disk was repaired")
	}

	breakDisk("full", func() error {
		n, err := fill(dataDir)
		t.Logf("filled %s with %d MiB", dataDir, n>>20)
		return err
	}, func() error { return os.Remove(filepath.Join(dataDir, "filler")) })

	// Read-only: a read-only bind mount over the data directory. Files the
	// node already has open stay writable through the mount beneath (the
	// kernel checks write access at open), so the node notices at its next
	// open; if it has not stopped by itself within 20 s, the scenario
	// restarts it, and it must refuse to start with a clear error while the
	// directory is read-only.
	time.Sleep(2 * time.Second)
	before := c.MaxHeight(ctx)
	logSize := fileSize(c.M.Nodes[victim].LogFile)
	c.ExpectExit(name)
	if err := nlRun("", "mount", "--bind", dataDir, dataDir); err != nil {
		t.Fatal(err)
	}
	if err := nlRun("", "mount", "-o", "remount,ro,bind", dataDir); err != nil {
		t.Fatal(err)
	}
	s.Fault("%s: data directory made read-only at height %d", name, before)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_ = c.Net.Wait(wctx, name)
	stoppedByItself := wctx.Err() == nil
	cancel()
	if stoppedByItself {
		s.Note("%s stopped by itself on the read-only directory: %s", name, lineWith(readFrom(c.M.Nodes[victim].LogFile, logSize), haltMessage))
	} else {
		s.Note("%s still ran after 20 s on the read-only directory (writes through files it had open still succeed); restarting it", name)
		if err := c.Net.Stop(name, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	startSize := fileSize(c.M.Nodes[victim].LogFile)
	if err := c.Restart(name, nil); err != nil {
		t.Fatal(err)
	}
	c.ExpectExit(name)
	wctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	_ = c.Net.Wait(wctx, name)
	refused := wctx.Err() == nil
	cancel()
	out := readFrom(c.M.Nodes[victim].LogFile, startSize)
	if !refused {
		t.Fatalf("%s started on a read-only data directory; its log says:\n%s", name, lastLines(out, 15))
	}
	if !strings.Contains(out, "read-only file system") {
		t.Errorf("%s refused to start on a read-only data directory without saying why:\n%s", name, lastLines(out, 15))
	} else {
		s.Note("%s refused to start while read-only: %s", name, lineWith(out, "read-only file system"))
	}
	c.TolerateConsensusFailure(name, logSize, fileSize(c.M.Nodes[victim].LogFile))
	if err := nlRun("", "umount", dataDir); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(name, nil); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	d, err := c.WaitCaughtUp(wctx, victim)
	cancel()
	if err != nil {
		t.Fatalf("%s did not recover after write access returned: %v", name, err)
	}
	s.Resumed(d, name+" caught up after write access returned")

	time.Sleep(2 * time.Second)
	w.Stop()
	s.Verify(context.Background(), c, w, nil)
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			if len(l) > 300 {
				l = l[:300] + "…"
			}
			return l
		}
	}
	return ""
}
