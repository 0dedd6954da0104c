package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/node"
)

// lastSignedLookback is how many recent blocks `tallyd status` searches for
// this node's validator signature: enough to tell "signing" from "missing
// blocks" without reading a long history over RPC.
const lastSignedLookback = 20

// nodeStatus is what `tallyd status` shows about one node.
type nodeStatus struct {
	Node             string  `json:"node"`
	Moniker          string  `json:"moniker"`
	ChainID          string  `json:"chain_id"`
	Height           int64   `json:"height"`
	BlockTime        string  `json:"block_time"`
	BlockAge         string  `json:"block_age"`
	CatchingUp       bool    `json:"catching_up"`
	Peers            int     `json:"peers"`
	Validator        string  `json:"validator_address"`
	Power            int64   `json:"validator_power"`
	LastSigned       int64   `json:"last_signed_height"`
	AppVersion       uint64  `json:"app_protocol_version"`
	SoftwareVersion  string  `json:"software_version"`
	DataDir          string  `json:"data_dir,omitempty"`
	DataBytes        int64   `json:"data_bytes,omitempty"`
	DiskFreeFraction float64 `json:"disk_free_fraction,omitempty"`
	// The latest state-sync snapshot in the home (with --home).
	Snapshot *snapshotStatus `json:"snapshot,omitempty"`
	// RemoteSigner is the home's priv_validator_laddr (--home): the node
	// signs through a remote signer there. Without --home it is
	// signerAddrUnknown when the node says it has a remote signer: its RPC
	// does not tell where.
	RemoteSigner string `json:"remote_signer,omitempty"`
	// SignerUnreachableSince is when the node lost its remote signer
	// (RFC 3339), while none is connected.
	SignerUnreachableSince string   `json:"remote_signer_unreachable_since,omitempty"`
	Warnings               []string `json:"warnings"`
}

// snapshotStatus is the newest state-sync snapshot a node holds.
type snapshotStatus struct {
	Interval uint64 `json:"interval"` // app.toml snapshot_interval (0: none taken)
	Kept     int    `json:"kept"`
	Height   int64  `json:"latest_height,omitempty"`
	Bytes    int64  `json:"latest_bytes,omitempty"`
	Written  string `json:"latest_written,omitempty"`
	Age      string `json:"latest_age,omitempty"`
}

func statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One screen about a node: chain, height, catching up, peers, signing, power, version, disk, warnings",
		Long: `status asks a node (--node) for its chain, latest block, whether it is
catching up, its peers, its validator's power and the last of the latest
blocks it signed, and the app's version; with --home pointing at the node's
home on this machine it adds the data directory's size and free disk. It
ends with warnings an operator should act on, and exits non-zero when there
are any.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := readStatus(ctx, cmd)
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				if err := printJSON(st); err != nil {
					return err
				}
			} else {
				printStatusScreen(st)
			}
			if len(st.Warnings) > 0 {
				return fmt.Errorf("%d warning(s) for %s", len(st.Warnings), st.Node)
			}
			return nil
		},
	}
	cmd.Flags().String("node", defaultNode, "RPC address of the node")
	cmd.Flags().Bool("json", false, "print JSON instead of the screen")
	return cmd
}

func readStatus(ctx context.Context, cmd *cobra.Command) (*nodeStatus, error) {
	c, err := dialNode(cmd)
	if err != nil {
		return nil, err
	}
	addr, _ := cmd.Flags().GetString("node")
	s, err := c.RPC.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("node status: %w", err)
	}
	st := &nodeStatus{
		Node: addr, Moniker: s.NodeInfo.Moniker, ChainID: s.NodeInfo.Network,
		Height: s.SyncInfo.LatestBlockHeight, CatchingUp: s.SyncInfo.CatchingUp,
		Validator: s.ValidatorInfo.Address.String(), Power: s.ValidatorInfo.VotingPower,
		BlockTime: s.SyncInfo.LatestBlockTime.UTC().Format(time.RFC3339),
	}
	age := time.Since(s.SyncInfo.LatestBlockTime).Round(time.Second)
	st.BlockAge = age.String()
	if ni, err := c.RPC.NetInfo(ctx); err == nil {
		st.Peers = ni.NPeers
	}
	if info, err := c.RPC.ABCIInfo(ctx); err == nil {
		st.AppVersion, st.SoftwareVersion = info.Response.AppVersion, info.Response.Version
	}
	if rs, err := remoteSigner(ctx, addr); err == nil && rs.Remote {
		st.RemoteSigner = signerAddrUnknown
		st.SignerUnreachableSince = rs.UnreachableSince
	}
	if st.Power > 0 {
		for h := st.Height; h > 1 && h > st.Height-lastSignedLookback; h-- {
			com, err := c.RPC.Commit(ctx, &h)
			if err != nil {
				break
			}
			if signedBy(com.Commit, s.ValidatorInfo.Address) {
				st.LastSigned = h
				break
			}
		}
	}
	if h := homeFlag(cmd); h != "" {
		if dir := filepath.Join(h, "data"); isDir(dir) {
			st.DataDir, st.DataBytes = dir, node.DirSize(dir)
			if free, size := node.DiskSpace(dir); size > 0 {
				st.DiskFreeFraction = float64(free) / float64(size)
			}
		}
		if comet, appCfg, err := node.LoadConfigs(h); err == nil {
			if comet.PrivValidatorListenAddr != "" {
				st.RemoteSigner = comet.PrivValidatorListenAddr
			}
			snaps, err := node.Snapshots(h)
			if err != nil {
				return nil, fmt.Errorf("reading the snapshots in %s: %w", node.SnapshotDir(h), err)
			}
			st.Snapshot = &snapshotStatus{Interval: appCfg.SnapshotInterval, Kept: len(snaps)}
			if len(snaps) > 0 {
				st.Snapshot.Height, st.Snapshot.Bytes = snaps[0].Height, snaps[0].Bytes
				st.Snapshot.Written = snaps[0].Written.UTC().Format(time.RFC3339)
				st.Snapshot.Age = time.Since(snaps[0].Written).Round(time.Second).String()
			}
		}
	}
	warn := func(format string, args ...any) { st.Warnings = append(st.Warnings, fmt.Sprintf(format, args...)) }
	switch {
	case st.CatchingUp:
		warn("catching up: the node is still fetching blocks from its peers")
	case age > time.Minute:
		warn("the latest block is %s old: the chain, or this node, is not committing", age)
	}
	if st.Peers < 2 {
		warn("%d peer(s): check p2p.persistent_peers and that the other nodes are up", st.Peers)
	}
	if st.Power > 0 && !st.CatchingUp && (st.LastSigned == 0 || st.Height-st.LastSigned > 3) {
		warn("the validator's signature is not in the last %d blocks' commits: is its key (or signer) the one the chain expects?", min(lastSignedLookback, st.Height-1))
	}
	if st.SignerUnreachableSince != "" {
		since := st.SignerUnreachableSince
		if t, err := time.Parse(time.RFC3339, since); err == nil {
			since += fmt.Sprintf(" (%s ago)", time.Since(t).Round(time.Second))
		}
		warn("%s since %s: no `tallyd signer` is connected at priv_validator_laddr %s, so this validator signs nothing. Start `tallyd signer --connect %s` with this validator's key and state, or read its log for why it cannot connect",
			node.RemoteSignerUnreachable, since, st.RemoteSigner, st.RemoteSigner)
	}
	if st.RemoteSigner != "" && st.Power == 0 && !st.CatchingUp {
		warn("%s: this node signs through the remote signer at priv_validator_laddr %s, whose key %s has no voting power. Check that `tallyd signer --key` holds this validator's key (or that the agencies have admitted it)",
			node.RemoteSignerNotValidator, st.RemoteSigner, st.Validator)
	}
	if sn := st.Snapshot; sn != nil && sn.Interval > 0 && !st.CatchingUp && st.Height >= 2*int64(sn.Interval)+1 && st.Height-sn.Height > 2*int64(sn.Interval) {
		warn("the newest snapshot (height %d) is more than two snapshot intervals (%d blocks) behind height %d: look for \"snapshot failed\" or \"skipping a snapshot\" in the log; nodes cannot join by state sync from a recent state", sn.Height, sn.Interval, st.Height)
	}
	if st.DataDir != "" && st.DiskFreeFraction > 0 && st.DiskFreeFraction < 0.10 {
		warn("less than 10%% disk free for %s: a full disk stops the node", st.DataDir)
	}
	return st, nil
}

// signerAddrUnknown stands for the address of a node's remote signer when
// status is given no --home: the node's RPC says only that it has one.
const signerAddrUnknown = "its priv_validator_laddr (give --home to show it)"

// remoteSigner asks the node at addr for its remote signer (the
// remote_signer RPC method; a node without it answers an error).
func remoteSigner(ctx context.Context, addr string) (*node.RemoteSignerStatus, error) {
	c, err := jsonrpcclient.New(addr)
	if err != nil {
		return nil, err
	}
	var rs node.RemoteSignerStatus
	if _, err := c.Call(ctx, node.RemoteSignerRoute, map[string]any{}, &rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// signedBy reports whether the commit carries a signature of addr for
// the block.
func signedBy(c *types.Commit, addr []byte) bool {
	for _, sig := range c.Signatures {
		if sig.BlockIDFlag == types.BlockIDFlagCommit && bytes.Equal(sig.ValidatorAddress, addr) {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func printStatusScreen(st *nodeStatus) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s\t%s\n", k, v) }
	row("node", st.Node+"  ("+st.Moniker+")")
	row("chain", st.ChainID)
	row("height", fmt.Sprintf("%d  at %s (%s ago)", st.Height, st.BlockTime, st.BlockAge))
	row("catching up", fmt.Sprint(st.CatchingUp))
	row("peers", fmt.Sprint(st.Peers))
	if st.Power > 0 {
		row("validator", fmt.Sprintf("%s  power %d", st.Validator, st.Power))
		signed := "not in the latest blocks"
		if st.LastSigned > 0 {
			signed = fmt.Sprint(st.LastSigned)
		}
		row("last signed", signed)
	} else {
		row("validator", "no (this node does not vote)")
	}
	if st.RemoteSigner != "" {
		signer := st.RemoteSigner
		if st.SignerUnreachableSince != "" {
			signer += "  UNREACHABLE since " + st.SignerUnreachableSince
		}
		row("remote signer", signer)
	}
	row("app", fmt.Sprintf("tally %s, protocol version %d", st.SoftwareVersion, st.AppVersion))
	if st.DataDir != "" {
		row("disk", fmt.Sprintf("%s: %s, %.0f%% of its file system free", st.DataDir, humanBytes(st.DataBytes), 100*st.DiskFreeFraction))
	}
	if sn := st.Snapshot; sn != nil {
		every := fmt.Sprintf("every %d blocks, %d kept", sn.Interval, sn.Kept)
		if sn.Interval == 0 {
			every = fmt.Sprintf("none taken (snapshot_interval 0), %d kept", sn.Kept)
		}
		if sn.Height > 0 {
			row("snapshot", fmt.Sprintf("height %d, %s, written %s ago (%s)", sn.Height, humanBytes(sn.Bytes), sn.Age, every))
		} else {
			row("snapshot", "none yet ("+every+")")
		}
	}
	if len(st.Warnings) == 0 {
		row("warnings", "none")
	} else {
		row("warnings", strings.Join(st.Warnings, "\n\t"))
	}
	_ = w.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
