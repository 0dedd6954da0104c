package main

import (
	"bytes"
	"context"
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
// error without words. Nodes it would contact do not exist (a closed port),
// and its home is an empty directory.
func TestEveryCommandAnswersHelpNoArgsAndGarbage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tallyd once per command (about 10 s)")
	}
	bin := tallydBinary(t)
	home := t.TempDir()
	commands := allCommands(rootCmd())
	if len(commands) < 40 {
		t.Fatalf("found only %d commands; the walk is broken", len(commands))
	}
	run := func(t *testing.T, args ...string) (string, error, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "TALLY_HOME="+home, "TALLY_KEYRING_PASSPHRASE=sweep-passphrase-long")
		cmd.Stdin = strings.NewReader("")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err, ctx.Err() != nil
	}
	for _, c := range commands {
		p := c.CommandPath()
		words := strings.Fields(p)[1:]
		var node []string // a node that is not there, for commands that dial one
		if c.Flags().Lookup("node") != nil || c.InheritedFlags().Lookup("node") != nil {
			node = []string{"--node", "tcp://127.0.0.1:1"}
		}
		t.Run(strings.Join(append([]string{"tallyd"}, words...), "_"), func(t *testing.T) {
			out, err, timedOut := run(t, append(words, "--help")...)
			if err != nil || timedOut || !strings.Contains(out, "Usage:") {
				t.Errorf("%s --help: err=%v timed out=%v\n%s", p, err, timedOut, out)
			}
			cases := [][]string{append(append([]string{}, words...), "no-such-thing-!@#"), append(append([]string{}, words...), "--no-such-flag")}
			if !longRunning[p] {
				cases = append(cases, words)
			}
			for _, args := range cases {
				out, err, timedOut := run(t, append(args, node...)...)
				if timedOut {
					t.Errorf("tallyd %s did not answer within 5 s:\n%s", strings.Join(args, " "), out)
					continue
				}
				if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
					t.Errorf("tallyd %s panicked:\n%s", strings.Join(args, " "), out)
				}
				if err != nil && !strings.Contains(out, "Error:") {
					t.Errorf("tallyd %s failed without saying why:\n%s", strings.Join(args, " "), out)
				}
				if c.HasSubCommands() && len(args) > len(words) && !strings.HasPrefix(args[len(args)-1], "--") && !strings.Contains(out, "unknown command") {
					t.Errorf("tallyd %s did not say the subcommand is unknown:\n%s", strings.Join(args, " "), out)
				}
			}
		})
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
