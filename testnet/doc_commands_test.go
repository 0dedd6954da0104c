package testnet_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// docCommand is one command line found in the documentation.
type docCommand struct {
	file string
	line int
	// text is the command as written (without its trailing comment).
	text string
	// comment is its trailing "# ..." comment, which may say "refused".
	comment string
	// env are the assignments written before it in the same block.
	env []string
}

var (
	codeBlock  = regexp.MustCompile("(?s)```(sh|bash)\n(.*?)```")
	assignment = regexp.MustCompile(`^(export )?[A-Z_]+=`)
	localPort  = regexp.MustCompile(`\b27(\d{3})\b`)
)

// documentedCommands reads every sh block of the README and docs/ and
// returns the tallyd command lines in them, with continuation lines joined.
func documentedCommands(t *testing.T) []docCommand {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	files = append([]string{"../README.md"}, files...)
	var out []docCommand
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range codeBlock.FindAllSubmatchIndex(b, -1) {
			startLine := bytes.Count(b[:m[4]], []byte("\n")) + 1
			var env []string
			lines := strings.Split(string(b[m[4]:m[5]]), "\n")
			for i := 0; i < len(lines); i++ {
				l := strings.TrimSpace(lines[i])
				n := startLine + i
				for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
					i++
					l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
				}
				text, comment, _ := strings.Cut(l, " #")
				text = strings.TrimSpace(text)
				switch {
				case assignment.MatchString(text):
					env = append(env, text)
				case strings.HasPrefix(text, "build/tallyd ") || strings.HasPrefix(text, "tallyd "):
					out = append(out, docCommand{file: filepath.Base(f), line: n, text: text, comment: comment, env: append([]string(nil), env...)})
				}
			}
		}
	}
	return out
}

// placeholder reports whether a documented word stands for a value the
// reader supplies (ADDRESS, <taxpayer hex>, [--collector ...], a|b).
func placeholder(w string) bool {
	if strings.ContainsAny(w, "<>[]|") || w == "..." {
		return true
	}
	letters := strings.Trim(w, "-_0123456789")
	return len(letters) > 1 && strings.ToUpper(letters) == letters && !strings.HasPrefix(w, "-")
}

// The commands the README and docs/ show work as written. Lines that start
// with build/tallyd are the hands-on tour: each runs against a real local
// network started the way `make localnet` starts it (demo data included),
// and must succeed, or fail when its comment says "refused", without a
// panic. Lines that start with tallyd are templates an operator fills in
// (ADDRESS, CHAIN, another machine's node): each must name a real command,
// and every flag it uses must be one that command takes.
func TestDocumentedCommandsWorkAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local network")
	}
	cmds := documentedCommands(t)
	var tour, templates []docCommand
	for _, c := range cmds {
		if strings.HasPrefix(c.text, "build/tallyd ") {
			tour = append(tour, c)
		} else {
			templates = append(templates, c)
		}
	}
	require.GreaterOrEqual(t, len(tour), 10, "the README tour was not found")
	require.GreaterOrEqual(t, len(templates), 5)

	t.Run("templates name real commands and flags", func(t *testing.T) {
		for _, c := range templates {
			words := strings.Fields(c.text)[1:]
			var path []string
			for _, w := range words {
				if strings.HasPrefix(w, "-") || placeholder(w) {
					break
				}
				path = append(path, w)
			}
			help, err := exec.Command(tallyd, append(path, "--help")...).CombinedOutput()
			require.NoError(t, err, "%s:%d: %s\n%s", c.file, c.line, c.text, help)
			// A word the command does not know as a subcommand would have
			// been taken as an argument: the help must be that of a leaf
			// or of the group the line names.
			require.Contains(t, string(help), "Usage:", "%s:%d", c.file, c.line)
			for _, w := range words {
				if !strings.HasPrefix(w, "--") {
					continue
				}
				flag, _, _ := strings.Cut(strings.Trim(w, "[]"), "=")
				require.Contains(t, string(help), flag+" ", "%s:%d: %q uses %s, which `tallyd %s` does not take", c.file, c.line, c.text, flag, strings.Join(path, " "))
			}
		}
	})

	// The network, as `make localnet` runs it.
	dir := filepath.Join(t.TempDir(), "localnet")
	base := freeBase(t)
	out, err := exec.Command(tallyd, "testnet", "init", "--validators", "4", "--output", dir, "--base-port", strconv.Itoa(base)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	start := exec.Command(tallyd, "testnet", "start", dir, "--explorer=false", "--status-every", "1h")
	stdout, err := start.StdoutPipe()
	require.NoError(t, err)
	start.Stderr = os.Stderr
	require.NoError(t, start.Start())
	t.Cleanup(func() {
		_ = start.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = start.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = start.Process.Kill()
		}
	})
	ready := make(chan struct{})
	var startLog bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			startLog.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(4 * time.Minute):
		t.Fatalf("the local network did not finish starting and seeding the demo:\n%s", startLog.String())
	}

	// The tour runs in one working directory, as a reader's shell would:
	// build/tallyd and build/localnet are this test's binary and network,
	// and the localnet's ports (27xxx) are this network's.
	work := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(work, "build"), 0o755))
	require.NoError(t, os.Symlink(tallyd, filepath.Join(work, "build", "tallyd")))
	require.NoError(t, os.Symlink(dir, filepath.Join(work, "build", "localnet")))
	ports := func(s string) string {
		return localPort.ReplaceAllStringFunc(s, func(p string) string {
			off, _ := strconv.Atoi(p[2:])
			return strconv.Itoa(base + off)
		})
	}
	for _, c := range tour {
		script := ports(strings.Join(append(append([]string{"set -e"}, c.env...), c.text), "\n"))
		run := func() ([]byte, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", script)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "TALLY_HOME=") // only what the block itself sets
			return cmd.CombinedOutput()
		}
		out, err := run()
		if err != nil && strings.Contains(string(out), "not found at height") {
			// The tour reads a write back from another node, which may be
			// a block behind the one that committed it; the README says to
			// ask again, and so does the test, once, a block later.
			time.Sleep(2 * time.Second)
			out, err = run()
		}
		where := fmt.Sprintf("%s:%d: %s", c.file, c.line, c.text)
		require.NotContains(t, string(out), "panic:", where)
		if strings.Contains(c.comment, "refused") {
			require.Error(t, err, "%s\nis documented as refused but succeeded:\n%s", where, out)
			if code := regexp.MustCompile(`[a-z]+/\d+`).FindString(c.comment); code != "" {
				require.Contains(t, string(out), code, where)
			}
			continue
		}
		require.NoError(t, err, "%s\n%s", where, out)
	}
	t.Logf("ran %d tour commands and checked %d templates", len(tour), len(templates))

	// A send that gives up waiting says the transaction may still commit,
	// and until when, and how to check; the check then finds it.
	t.Run("a send not seen in time says how to check", func(t *testing.T) {
		cli := func(args ...string) (string, error) {
			cmd := exec.Command(tallyd, append([]string{"--home", dir}, args...)...)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		_, err := cli("keys", "add", "latecomer")
		require.NoError(t, err)
		out, err := cli("tx", "agency", "add-member", "latecomer", "--roles", "auditor", "--from", "treasury-admin", "--wait", "1ns")
		require.Error(t, err, out)
		require.Contains(t, out, "may still commit until block", out)
		hash := regexp.MustCompile(`query tx ([0-9A-F]{64})`).FindStringSubmatch(out)
		require.NotNil(t, hash, out)
		require.Eventually(t, func() bool {
			out, err := cli("query", "tx", hash[1])
			return err == nil && strings.Contains(out, `"found": true`)
		}, time.Minute, 500*time.Millisecond)
	})
}
