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
	// inline is true for a command written in the prose (`tallyd init`)
	// rather than in a code block.
	inline bool
}

var (
	codeBlock  = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	assignment = regexp.MustCompile(`^(export )?[A-Z_]+=`)
	localPort  = regexp.MustCompile(`\b27(\d{3})\b`)
	// commandStart is what a documented command line begins with: the
	// binary as built or installed, make, go test or one of scripts/.
	commandStart = regexp.MustCompile(`^(build/tallyd |tallyd |make |go test |(\./)?scripts/)`)
)

// docFiles are the README and every page under docs/, however deep: a page
// added there is checked without touching this test.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../README.md"}
	require.NoError(t, filepath.WalkDir("../docs", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	}))
	return files
}

// documentedCommands reads the README and docs/ and returns every command
// line in them: in code blocks of any language (continuation lines joined,
// "a && b" split into its commands), and in the prose's code spans.
func documentedCommands(t *testing.T) []docCommand {
	t.Helper()
	var out []docCommand
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		name, _ := filepath.Rel("..", f)
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
				if assignment.MatchString(text) && !commandStart.MatchString(leadingAssignments.ReplaceAllString(text, "")) {
					env = append(env, text)
					continue
				}
				for _, part := range strings.Split(text, " && ") {
					part = strings.TrimSpace(leadingAssignments.ReplaceAllString(part, ""))
					if commandStart.MatchString(part) {
						out = append(out, docCommand{file: name, line: n, text: part, comment: comment, env: append([]string(nil), env...)})
					}
				}
			}
		}
		// The prose, code blocks blanked out (lines kept for numbering).
		prose := codeBlock.ReplaceAllFunc(b, func(block []byte) []byte {
			return bytes.Repeat([]byte("\n"), bytes.Count(block, []byte("\n")))
		})
		for i, l := range strings.Split(string(prose), "\n") {
			for _, m := range codeSpan.FindAllStringSubmatch(l, -1) {
				if commandStart.MatchString(m[1]) {
					out = append(out, docCommand{file: name, line: i + 1, text: strings.TrimSpace(m[1]), inline: true})
				}
			}
		}
	}
	return out
}

// leadingAssignments are the VAR=value words before a command
// ("TALLYD_BIN=$PWD/build/tallyd SYNC_RATE=300 go test …").
var leadingAssignments = regexp.MustCompile(`^([A-Z_]+=\S+\s+)+`)

// placeholder reports whether a documented word stands for a value the
// reader supplies (ADDRESS, <taxpayer hex>, [--collector ...], a|b, …).
func placeholder(w string) bool {
	if strings.ContainsAny(w, "<>[]|") || w == "..." || strings.Contains(w, "…") {
		return true
	}
	letters := strings.Trim(w, "-_0123456789")
	return len(letters) > 1 && strings.ToUpper(letters) == letters && !strings.HasPrefix(w, "-")
}

// The commands the README and docs/ show work as written. Lines of code
// blocks that start with build/tallyd are the hands-on tour: each runs
// against a real local network started the way `make localnet` starts it
// (demo data included), and must succeed, or fail when its comment says
// "refused", without a panic. The other commands are checked by
// TestDocumentedCommandsNameRealCommands.
func TestDocumentedCommandsWorkAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local network")
	}
	var tour []docCommand
	for _, c := range documentedCommands(t) {
		if !c.inline && strings.HasPrefix(c.text, "build/tallyd ") {
			tour = append(tour, c)
		}
	}
	require.GreaterOrEqual(t, len(tour), 10, "the README tour was not found")

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
	t.Logf("ran %d tour commands", len(tour))

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

	// docs/json.md: tallyd prints every record in one form — amounts as
	// strings of pence with pounds beside, enums with words beside, bytes
	// as hex — whichever command prints it.
	t.Run("tallyd prints records in one JSON form", func(t *testing.T) {
		numberAmount := regexp.MustCompile(`"(amount|collected|refunded|net|balance|max_receipt_amount)": [0-9]`)
		base64ish := regexp.MustCompile(`"[A-Za-z0-9+/]{20,}={1,2}"`)
		for _, args := range [][]string{
			{"query", "tax", "total", "VAT", "2026-Q1"},
			{"query", "tax", "receipt", "REVENUE-000001"},
			{"query", "tax", "authorisation", "revenue-collector", "VAT"},
			{"query", "agency", "members", "revenue"},
			{"query", "params"},
			{"query", "invariants"},
		} {
			out, err := exec.Command(tallyd, append([]string{"--home", dir}, args...)...).CombinedOutput()
			require.NoError(t, err, "%v: %s", args, out)
			require.NotRegexp(t, numberAmount, string(out), "%v prints an amount as a JSON number", args)
			require.NotRegexp(t, base64ish, string(out), "%v prints bytes as base64", args)
			require.NotContains(t, string(out), "map[", args)
		}
		out, err := exec.Command(tallyd, "--home", dir, "query", "tax", "total", "VAT", "2026-Q1").CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), `"net_formatted": "£12,000.00"`)
		out, err = exec.Command(tallyd, "--home", dir, "query", "agency", "members", "revenue").CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), `"status": "STATUS_ACTIVE"`)
		require.Contains(t, string(out), `"status_formatted": "active"`)
	})

	// A second network made with the same ports cannot bind them; start
	// says so (another node answers there) instead of reporting the other
	// network's blocks as its own.
	t.Run("a network on taken ports is refused, not reported up", func(t *testing.T) {
		second := filepath.Join(t.TempDir(), "second")
		out, err := exec.Command(tallyd, "testnet", "init", "--validators", "1", "--council=false", "--output", second, "--base-port", strconv.Itoa(base)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err = exec.CommandContext(ctx, tallyd, "testnet", "start", second, "--explorer=false", "--demo=false", "--status-every", "1h").CombinedOutput()
		require.Error(t, err, "%s", out)
		require.NotContains(t, string(out), "committing blocks")
		require.Contains(t, string(out), "is answered by node")
		require.Contains(t, string(out), "another --base-port")
	})
}

// Every other documented command names something that exists. A tallyd
// line (in a code block or the prose) is a template an operator fills in
// (ADDRESS, CHAIN, another machine's node): it must name a real command,
// and every flag it uses must be one that command takes. A make line names
// a target of the Makefile; a go test line names packages that exist and
// -run/-bench patterns that match a test or benchmark in them; a script
// exists and is executable.
func TestDocumentedCommandsNameRealCommands(t *testing.T) {
	counts := map[string]int{}
	helps := map[string]string{} // command path → its --help, asked once
	for _, c := range documentedCommands(t) {
		where := fmt.Sprintf("%s:%d: %s", c.file, c.line, c.text)
		words := strings.Fields(c.text)
		switch {
		case words[0] == "tallyd" || words[0] == "build/tallyd" && c.inline:
			checkTallydTemplate(t, where, words[1:], helps)
			counts["tallyd"]++
		case words[0] == "build/tallyd":
			counts["tour"]++ // run by TestDocumentedCommandsWorkAsWritten
		case words[0] == "make":
			mk, err := os.ReadFile("../Makefile")
			require.NoError(t, err)
			for _, target := range words[1:] {
				require.Regexp(t, `(?m)^`+regexp.QuoteMeta(target)+`:`, string(mk), "%s: no make target %q", where, target)
			}
			counts["make"]++
		case words[0] == "go":
			checkGoTest(t, where, words[2:])
			counts["go test"]++
		default:
			st, err := os.Stat(filepath.Join("..", strings.TrimPrefix(words[0], "./")))
			require.NoError(t, err, where)
			require.NotZero(t, st.Mode()&0o111, "%s: the script is not executable", where)
			counts["script"]++
		}
	}
	t.Logf("checked documented commands: %v", counts)
	require.GreaterOrEqual(t, counts["tallyd"], 40, "the templates in the README were not found")
	require.GreaterOrEqual(t, counts["go test"], 5)
}

// checkTallydTemplate runs `tallyd <command path> --help` for a documented
// tallyd line and checks that each flag it uses is in that help.
func checkTallydTemplate(t *testing.T, where string, words []string, helps map[string]string) {
	t.Helper()
	var path []string
	cut := false // the line leaves the subcommand to the reader (tallyd tx … --memo)
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			break
		}
		if placeholder(w) {
			cut = strings.Contains(w, "…") || w == "..."
			break
		}
		path = append(path, w)
	}
	help, ok := helps[strings.Join(path, " ")]
	if !ok {
		out, err := exec.Command(tallyd, append(path, "--help")...).CombinedOutput()
		require.NoError(t, err, "%s\n%s", where, out)
		help = string(out)
		helps[strings.Join(path, " ")] = help
	}
	// A word the command does not know as a subcommand would have been
	// taken as an argument: the help must be that of a leaf or of the
	// group the line names.
	require.Contains(t, help, "Usage:", where)
	if cut {
		return
	}
	for _, w := range words {
		if !strings.HasPrefix(w, "--") {
			continue
		}
		flag, _, _ := strings.Cut(strings.Trim(w, "[]"), "=")
		require.Contains(t, help, flag+" ", "%s: uses %s, which `tallyd %s` does not take", where, flag, strings.Join(path, " "))
	}
}

// checkGoTest checks a documented `go test` line's packages and its -run
// and -bench patterns against the test sources (build tags included: a
// measurement behind -tags is still found).
func checkGoTest(t *testing.T, where string, args []string) {
	t.Helper()
	var pkgs []string
	patterns := map[string]string{} // flag → pattern
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "|" || a == "2>&1":
			i = len(args) // a pipe to grep and the like
		case a == "-run" || a == "-bench":
			if i+1 < len(args) {
				patterns[a] = strings.Trim(args[i+1], `'"`)
				i++
			}
		case a == "-tags" || a == "-benchtime" || a == "-count" || a == "-timeout":
			i++
		case strings.HasPrefix(a, "./"):
			pkgs = append(pkgs, a)
		}
	}
	if len(pkgs) == 0 {
		return // "go test -bench": the command in general
	}
	var src strings.Builder
	for _, p := range pkgs {
		dir := filepath.Join("..", strings.TrimSuffix(strings.TrimSuffix(p, "/..."), "/"))
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "%s: package %s has no tests", where, p)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			src.Write(b)
		}
	}
	for flag, pattern := range patterns {
		if pattern == "^$" || pattern == "XXX" {
			continue // runs nothing, on purpose
		}
		kind := "Test"
		if flag == "-bench" {
			kind = "Benchmark"
		}
		// A pattern's first level names top-level functions (a/b: b is a
		// subtest or sub-benchmark).
		first, _, _ := strings.Cut(pattern, "/")
		re, err := regexp.Compile(first)
		require.NoError(t, err, where)
		found := false
		for _, m := range regexp.MustCompile(`(?m)^func (`+kind+`\w+)\(`).FindAllStringSubmatch(src.String(), -1) {
			if re.MatchString(m[1]) {
				found = true
				break
			}
		}
		require.True(t, found, "%s: %s %q matches no %s function in %v", where, flag, pattern, kind, pkgs)
	}
}
