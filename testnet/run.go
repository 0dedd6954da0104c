package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/tallyledger/tally/client"
)

// Network runs the nodes of a local network as child tallyd processes.
type Network struct {
	Manifest *Manifest
	// Bin is the tallyd binary to run.
	Bin string

	mu     sync.Mutex
	procs  map[string]*proc
	prefix map[string][]string
	env    map[string][]string
}

// SetCommand makes the next starts of the named node run
// `prefix... tallyd start` (for example `ip netns exec NS`) with env added
// to the environment (for example FAIL_TEST_INDEX=3). Nil clears both.
func (n *Network) SetCommand(name string, prefix []string, env []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prefix[name] = prefix
	n.env[name] = env
}

// ExitError is how the named node's last process ended: nil while it runs
// or after a clean exit, otherwise the error from its wait (exit status or
// signal).
func (n *Network) ExitError(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.procs[name]
	if !ok || !p.exited() {
		return nil
	}
	return p.err
}

// Pid is the named node's process id, or 0 when it is not running.
func (n *Network) Pid(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.procs[name]
	if !ok || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Wait waits until the named node's process has exited, or ctx ends.
func (n *Network) Wait(ctx context.Context, name string) error {
	n.mu.Lock()
	p, ok := n.procs[name]
	n.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// NewNetwork prepares to run the network m with binary bin.
func NewNetwork(m *Manifest, bin string) *Network {
	return &Network{Manifest: m, Bin: bin, procs: map[string]*proc{}, prefix: map[string][]string{}, env: map[string][]string{}}
}

// Node returns the manifest entry called name.
func (n *Network) Node(name string) (Node, error) {
	for _, nd := range n.Manifest.Nodes {
		if nd.Name == name {
			return nd, nil
		}
	}
	return Node{}, fmt.Errorf("no node %q in this network", name)
}

// Start starts the named node as a child process whose output is appended
// to its log file. Starting a running node is an error.
func (n *Network) Start(name string) error {
	nd, err := n.Node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.procs[name]; ok && !p.exited() {
		return fmt.Errorf("node %s is already running (pid %d)", name, p.cmd.Process.Pid)
	}
	return n.startProc(name, nd.LogFile, append(append([]string{}, n.prefix[name]...), n.Bin, "start", "--home", nd.Home), n.env[name])
}

// SignerName is the process name of node name's remote signer, for Stop,
// Kill and Running.
func SignerName(node string) string { return node + "-signer" }

// StartSigner starts the remote signer of the named node (one made with
// Options.RemoteSigner), whose output is appended to its log file.
func (n *Network) StartSigner(name string) error {
	nd, err := n.Node(name)
	if err != nil {
		return err
	}
	if nd.Signer == nil {
		return fmt.Errorf("node %s has no remote signer (testnet init --remote-signer)", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	sn := SignerName(name)
	if p, ok := n.procs[sn]; ok && !p.exited() {
		return fmt.Errorf("signer %s is already running (pid %d)", sn, p.cmd.Process.Pid)
	}
	return n.startProc(sn, nd.Signer.LogFile, append(append([]string{}, n.prefix[name]...), n.Bin, "signer",
		"--key", nd.Signer.Key, "--state", nd.Signer.State, "--connect", nd.Signer.Addr, "--chain-id", n.Manifest.ChainID), n.env[name])
}

// startProc runs args as the child process called name, output appended
// to logFile. The caller holds n.mu.
func (n *Network) startProc(name, logFile string, args, env []string) error {
	logf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(args[0], args[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	n.procs[name] = p
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the named node's process is alive.
func (n *Network) Running(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.procs[name]
	return ok && !p.exited()
}

// Stop stops the named node: SIGTERM and up to grace for a clean exit,
// then SIGKILL. Kill (grace 0) sends SIGKILL at once, like a power cut.
func (n *Network) Stop(name string, grace time.Duration) error {
	n.mu.Lock()
	p, ok := n.procs[name]
	n.mu.Unlock()
	if !ok || p.exited() {
		return nil
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return nil
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// Kill stops the named node with SIGKILL, without warning.
func (n *Network) Kill(name string) error { return n.Stop(name, 0) }

// StartAll starts every node, and first the remote signers of those that
// have one.
func (n *Network) StartAll() error {
	for _, nd := range n.Manifest.Nodes {
		if nd.Signer != nil {
			if err := n.StartSigner(nd.Name); err != nil {
				n.StopAll()
				return err
			}
		}
		if err := n.Start(nd.Name); err != nil {
			n.StopAll()
			return err
		}
	}
	return nil
}

// StopAll stops every node cleanly, in parallel, then their signers.
func (n *Network) StopAll() {
	var wg sync.WaitGroup
	for _, nd := range n.Manifest.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Stop(nd.Name, 15*time.Second)
			if nd.Signer != nil {
				_ = n.Stop(SignerName(nd.Name), 5*time.Second)
			}
		}()
	}
	wg.Wait()
}

// Status is what one node reports about itself.
type Status struct {
	Name    string
	Online  bool
	Height  int64
	AppHash string
	Err     error
}

// Statuses asks every node for its latest height and app hash.
func (n *Network) Statuses(ctx context.Context) []Status {
	out := make([]Status, len(n.Manifest.Nodes))
	var wg sync.WaitGroup
	for i, nd := range n.Manifest.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = nodeStatus(ctx, nd)
		}()
	}
	wg.Wait()
	return out
}

func nodeStatus(ctx context.Context, nd Node) Status {
	st := Status{Name: nd.Name}
	c, err := client.Dial(nd.RPC)
	if err != nil {
		st.Err = err
		return st
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := c.RPC.Status(ctx)
	if err != nil {
		st.Err = err
		return st
	}
	if id := string(res.NodeInfo.ID()); nd.NodeID != "" && id != nd.NodeID {
		// Something else answers on this node's port: its own process
		// could not bind it and another network's node holds it.
		st.Err = &ForeignNodeError{Node: nd.Name, RPC: nd.RPC, Want: nd.NodeID, Got: id}
		return st
	}
	st.Online = true
	st.Height = res.SyncInfo.LatestBlockHeight
	st.AppHash = res.SyncInfo.LatestAppHash.String()
	return st
}

// ForeignNodeError says that a node's RPC address is answered by another
// node: another process (typically another local network made with the
// same --base-port) holds the port this node should listen on.
type ForeignNodeError struct {
	Node, RPC, Want, Got string
}

func (e *ForeignNodeError) Error() string {
	return fmt.Sprintf("%s's RPC address %s is answered by node %s, not by %s's node %s: another process holds its ports "+
		"(another local network made with the same --base-port?); stop it, or make this network with another --base-port",
		e.Node, e.RPC, e.Got, e.Node, e.Want)
}

// WaitHeight waits until the named node reports at least height. It gives
// up at once when the node's port is answered by another node.
func (n *Network) WaitHeight(ctx context.Context, name string, height int64) error {
	nd, err := n.Node(name)
	if err != nil {
		return err
	}
	var last Status
	for {
		last = nodeStatus(ctx, nd)
		if last.Online && last.Height >= height {
			return nil
		}
		var foreign *ForeignNodeError
		if errors.As(last.Err, &foreign) {
			return foreign
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not reach height %d (last: height %d, err %v): %w", name, height, last.Height, last.Err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
