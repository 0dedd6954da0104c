package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// longRunning are the commands that, given no arguments, may legitimately
// start serving or loading (a node, a network, the explorer, a load run)
// instead of answering at once. The sweep still runs them with --help and
// with a garbage argument.
var longRunning = map[string]bool{
	"tallyd start":         true,
	"tallyd testnet start": true,
	"tallyd explorer":      true,
	"tallyd load":          true,
}

// tallydBinary returns the tallyd the sweep runs: $TALLYD_BIN (make test
// sets it) or one built for the test.
func tallydBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("TALLYD_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "tallyd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building tallyd: %v\n%s", err, out)
	}
	return bin
}

func allCommands(c *cobra.Command) []*cobra.Command {
	all := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		all = append(all, allCommands(sub)...)
	}
	return all
}

// Every tallyd command and subcommand answers --help, no arguments and a
// garbage argument with help or a clear error: never a panic, never an
// error without words. The commands run in this process (a process each
// would take minutes on a busy machine); nodes they would contact do not
// exist (a closed port), and their home and working directory are empty.
func TestEveryCommandAnswersHelpNoArgsAndGarbage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command")
	}
	t.Chdir(t.TempDir())
	t.Setenv("TALLY_HOME", t.TempDir())
	t.Setenv("TALLY_KEYRING_PASSPHRASE", "sweep-passphrase-long-enough")
	commands := allCommands(rootCmd())
	if len(commands) < 40 {
		t.Fatalf("found only %d commands; the walk is broken", len(commands))
	}
	// Output goes nowhere: only the error and a panic matter here.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout, stderr, stdin := os.Stdout, os.Stderr, os.Stdin
	os.Stdout, os.Stderr, os.Stdin = devnull, devnull, devnull
	defer func() { os.Stdout, os.Stderr, os.Stdin = stdout, stderr, stdin }()

	run := func(args []string) (help string, err error, panicked any, timedOut bool) {
		type result struct {
			help     string
			err      error
			panicked any
		}
		done := make(chan result, 1)
		go func() {
			var r result
			defer func() {
				r.panicked = recover()
				done <- r
			}()
			root := rootCmd()
			var buf bytes.Buffer
			root.SetOut(&buf)
			root.SetErr(&buf)
			root.SetArgs(args)
			r.err = root.Execute()
			r.help = buf.String()
		}()
		select {
		case r := <-done:
			return r.help, r.err, r.panicked, false
		case <-time.After(20 * time.Second):
			return "", nil, nil, true
		}
	}
	for _, c := range commands {
		p := c.CommandPath()
		words := strings.Fields(p)[1:]
		var node []string // a node that is not there, for commands that dial one
		if c.Flags().Lookup("node") != nil || c.InheritedFlags().Lookup("node") != nil {
			node = []string{"--node", "tcp://127.0.0.1:1"}
		}
		help, err, panicked, timedOut := run(append(append([]string{}, words...), "--help"))
		if err != nil || panicked != nil || timedOut || !strings.Contains(help, "Usage:") {
			t.Errorf("%s --help: err=%v panic=%v timed out=%v\n%s", p, err, panicked, timedOut, help)
		}
		cases := [][]string{append(append([]string{}, words...), "no-such-thing-!@#"), append(append([]string{}, words...), "--no-such-flag")}
		if !longRunning[p] {
			cases = append(cases, words)
		}
		for _, args := range cases {
			_, err, panicked, timedOut := run(append(args, node...))
			line := "tallyd " + strings.Join(args, " ")
			switch {
			case timedOut:
				t.Errorf("%s did not answer within 20 s", line)
			case panicked != nil:
				t.Errorf("%s panicked: %v", line, panicked)
			case err != nil && strings.TrimSpace(err.Error()) == "":
				t.Errorf("%s failed without saying why", line)
			case c.HasSubCommands() && len(args) > len(words) && !strings.HasPrefix(args[len(args)-1], "--") &&
				(err == nil || !strings.Contains(err.Error(), "unknown command")):
				t.Errorf("%s did not say the subcommand is unknown: %v", line, err)
			}
		}
	}
}

// A command sent to a node that is not listening says so and suggests
// another node, instead of ending at "connection refused".
func TestRefusedConnectionSuggestsAnotherNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tallyd")
	}
	bin := tallydBinary(t)
	out, err := exec.Command(bin, "query", "agency", "agency", "treasury", "--node", "tcp://127.0.0.1:1").CombinedOutput()
	if err == nil {
		t.Fatalf("query against a closed port succeeded:\n%s", out)
	}
	for _, want := range []string{"connection refused", "No node is listening", "another node with --node"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// tallyd init takes the addresses the node listens on, and refuses ones
// CometBFT could not use.
func TestInitTakesListenAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tallyd")
	}
	bin := tallydBinary(t)
	home := t.TempDir()
	out, err := exec.Command(bin, "init", "--home", home, "--keyring-backend", "test",
		"--p2p-laddr", "tcp://127.0.0.1:36656", "--rpc-laddr", "tcp://127.0.0.1:36657").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(filepath.Join(home, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`laddr = "tcp://127.0.0.1:36656"`, `laddr = "tcp://127.0.0.1:36657"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.toml lacks %s", want)
		}
	}
	out, err = exec.Command(bin, "init", "--home", t.TempDir(), "--keyring-backend", "test", "--p2p-laddr", "0.0.0.0:26656").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--p2p-laddr") || !strings.Contains(string(out), "want tcp://HOST:PORT") {
		t.Errorf("a listen address without tcp:// was not refused clearly: %v\n%s", err, out)
	}
}

// A command an error message suggests names tallyd as the user ran it, so
// that it can be pasted: run as build/tallyd, a mistyped key name says to
// run `build/tallyd keys list`, and an unknown subcommand points to
// 'build/tallyd query --help'.
func TestErrorHintsNameTheBinaryAsRun(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	arg0 := os.Args[0]
	os.Args[0] = filepath.Join(dir, "build", "tallyd")
	defer func() { os.Args[0] = arg0 }()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "show", "nosuchkey", "--home", t.TempDir(), "--keyring-backend", "test"}, "run `build/tallyd keys list`"},
		{[]string{"query", "agencyy"}, "run 'build/tallyd query --help'"},
	} {
		root := rootCmd()
		root.SetArgs(tc.args)
		root.SetOut(io.Discard)
		err := root.Execute()
		if err == nil {
			t.Fatalf("tallyd %v succeeded", tc.args)
		}
		if got := errorText(err); !strings.Contains(got, tc.want) || strings.Contains(got, " tallyd ") {
			t.Errorf("tallyd %v printed %q, want it to say %q", tc.args, got, tc.want)
		}
	}
}
