package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// verifyTimeout bounds one verified read, including verifying new headers.
const verifyTimeout = 2 * time.Minute

// record is one kind of record `tallyd verify` can read and check. A
// module makes its records verifiable with one entry in verifiableRecords;
// read is usually a call to single (one proven record) with the query path,
// the state key the answer must be proven at (from the module's keys.go),
// and the record's proto type.
type record struct {
	use   string // subcommand name and its arguments
	short string
	args  int
	// read fetches the record through lc and returns what to print as
	// "record" (nil when proven absent) and what it was verified against.
	read func(ctx context.Context, cmd *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error)
	// keyring: the arguments may name keys in the keyring.
	keyring bool
}

func verifiableRecords() []record {
	return []record{
		{use: "account ADDRESS|KEYNAME", short: "An account: agency, roles, status, key", args: 1, keyring: true,
			read: single(api.PathAccount, func(cmd *cobra.Command, args []string) ([]byte, []byte, error) {
				addr, err := resolveAddress(cmd, args[0])
				return addr, api.AccountKey(addr), err
			}, func() proto.Message { return &agencyv1.Account{} }, func(m proto.Message) any { return protoJSON(m.(*agencyv1.Account)) })},
		{use: "agency ID", short: "An agency: name, kind, status, member and admin counts", args: 1,
			read: single(api.PathAgency, func(_ *cobra.Command, args []string) ([]byte, []byte, error) {
				return []byte(args[0]), api.AgencyKey(args[0]), nil
			}, func() proto.Message { return &agencyv1.Agency{} }, func(m proto.Message) any { return protoJSON(m.(*agencyv1.Agency)) })},
		{use: "members ID", short: "An agency's members, each proven, and the list checked complete against the agency's count", args: 1,
			read: readMembers},
		{use: "params", short: "The chain's transaction parameters", args: 0,
			read: single(api.PathParams, func(*cobra.Command, []string) ([]byte, []byte, error) {
				return nil, api.ParamsKey(), nil
			}, func() proto.Message { return &appv1.Params{} }, func(m proto.Message) any { return protoJSON(m) })},
		{use: "key KEY", short: "Any raw state key (hex; with --text, as text), its value in hex", args: 1,
			read: readRawKey},
		byPath("balance HOLDER", "A funds holder's balance (x/funds)", api.PathFundsBalance, func() proto.Message { return &fundsv1.Balance{} }),
		byPath("movement ID", "A movement of public money (x/funds)", api.PathFundsMovement, func() proto.Message { return &fundsv1.Movement{} }),
		byPath("payment ID", "A benefit payment (x/benefits)", api.PathBenefitsPayment, func() proto.Message { return &benefitsv1.Payment{} }),
		byPath("item ID", "A good or batch and its current custodian (x/provenance)", api.PathProvenanceItem, func() proto.Message { return &provenancev1.Item{} }),
		byPath("tax-type CODE", "A registered tax type (x/tax)", api.PathTaxType, func() proto.Message { return &taxv1.TaxType{} }),
		// Composite records (tax receipt with its amendments, clearance
		// statement, payment trace, item history, proposal with its votes)
		// are in compositeRecords (verify_records.go), each with a read
		// function that checks how the proven entries link up; a single
		// record needs one byPath line (its key is the route's, api.Routes).
	}
}

// provableKey gives, for a single-record query path, the state key its
// answer must be proven at (the contract's api.Route.Key), so `tallyd
// query … --verify` can check that the node proved the right key.
func provableKey(path string) (func(data []byte) []byte, bool) {
	r, ok := api.RouteOf(path)
	if !ok || r.Key == nil {
		return nil, false
	}
	return r.Key, true
}

// byPath is a verify subcommand for a single-record query path listed in
// provableKey: ARG is the query data, the record is printed as JSON.
func byPath(use, short, path string, newMsg func() proto.Message) record {
	return record{use: use, short: short, args: 1,
		read: single(path, func(_ *cobra.Command, args []string) ([]byte, []byte, error) {
			keyOf, _ := provableKey(path)
			return []byte(args[0]), keyOf([]byte(args[0])), nil
		}, newMsg, func(m proto.Message) any { return protoJSON(m) })}
}

// single reads one record at a path, proven at the key query returns.
func single(path string, query func(cmd *cobra.Command, args []string) (data, key []byte, err error),
	newMsg func() proto.Message, view func(proto.Message) any,
) func(context.Context, *cobra.Command, *client.LightClient, []string, int64) (any, *client.Verified, error) {
	return func(ctx context.Context, cmd *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
		data, key, err := query(cmd, args)
		if err != nil {
			return nil, nil, err
		}
		m := newMsg()
		ans, err := lc.GetProto(ctx, path, data, key, height, m)
		if err != nil {
			return nil, verifiedOf(ans), err
		}
		return view(m), &ans.Verified, nil
	}
}

func verifiedOf(ans *client.Answer) *client.Verified {
	if ans == nil {
		return nil
	}
	return &ans.Verified
}

func readMembers(ctx context.Context, _ *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	accs, list, err := lc.Members(ctx, args[0], height)
	if err != nil {
		return nil, nil, err
	}
	members := []any{}
	for _, a := range accs {
		members = append(members, protoJSON(a))
	}
	return map[string]any{"agency": args[0], "members": members, "complete": list.Complete}, &list.Verified, nil
}

func readRawKey(ctx context.Context, cmd *cobra.Command, lc *client.LightClient, args []string, height int64) (any, *client.Verified, error) {
	key := []byte(args[0])
	if text, _ := cmd.Flags().GetBool("text"); !text {
		var err error
		if key, err = hex.DecodeString(args[0]); err != nil {
			return nil, nil, fmt.Errorf("KEY %q is not hex (use --text for a text key): %w", args[0], err)
		}
	}
	ans, err := lc.Key(ctx, key, height)
	if err != nil {
		return nil, verifiedOf(ans), err
	}
	return map[string]any{"key": hex.EncodeToString(key), "value": hex.EncodeToString(ans.Value)}, &ans.Verified, nil
}

func verifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Read a record and check it against the chain with a light client, trusting no single node",
		Long: `verify asks --primary for a record with its Merkle proof, and accepts it
only if the proof leads to the app hash of a block header that a CometBFT
light client verified: from a trust root you obtained out of band, through
validator signatures, and compared with every --witnesses node (run them at
other agencies). It prints the record and what it was verified against, or
refuses, saying which check failed.

First use on a machine: give a trust root, a header's height and hash that
an agency you trust gives you (on a client that already trusts the chain,
'tallyd verify header' prints one):

  tallyd verify account ADDRESS --primary tcp://node-a:26657 \
    --witnesses tcp://node-b:26657,tcp://node-c:26657 \
    --trust-height 1200 --trust-hash 4F1A...

Verified headers are kept in --light-dir, so later runs need only the node
addresses. For a brand-new network, --genesis FILE (the genesis every agency
checked) can stand in for the trust root. 'tallyd query ... --verify' does
the same with --node as the primary.`,
	}
	addLightFlags(cmd.PersistentFlags())
	cmd.PersistentFlags().String("primary", defaultNode, "RPC address of the node to ask")
	cmd.PersistentFlags().Int64("height", 0, "state height to read (default: the newest verified)")
	for _, r := range append(verifiableRecords(), compositeRecords()...) {
		sub := &cobra.Command{Use: r.use, Short: r.short, Args: cobra.ExactArgs(r.args)}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			primary, _ := cmd.Flags().GetString("primary")
			return runVerified(cmd, primary, func(ctx context.Context, lc *client.LightClient, height int64) (any, *client.Verified, error) {
				return r.read(ctx, cmd, lc, args, height)
			})
		}
		if r.keyring {
			addKeyringFlags(sub)
		}
		if strings.HasPrefix(r.use, "key ") {
			sub.Flags().Bool("text", false, "KEY is text, not hex")
		}
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "header [HEIGHT]",
		Short: "Verify and print a block header (default: a recent one): a trust root you can give others",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			primary, _ := cmd.Flags().GetString("primary")
			ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
			defer cancel()
			lc, err := openLightClient(ctx, cmd, primary)
			if err != nil {
				return err
			}
			defer lc.Close()
			var lb *types.LightBlock
			if len(args) == 1 {
				var h int64
				if _, err := fmt.Sscan(args[0], &h); err != nil {
					return fmt.Errorf("HEIGHT %q is not a number", args[0])
				}
				lb, err = lc.Header(ctx, h)
			} else {
				lb, err = lc.Sync(ctx)
			}
			if err != nil {
				return err
			}
			return printJSON(map[string]any{
				"chain_id": lb.ChainID, "height": lb.Height, "hash": fmt.Sprintf("%X", lb.Hash()),
				"time": lb.Time.UTC().Format(time.RFC3339Nano), "app_hash": lb.AppHash.String(),
				"primary": lc.Primary(), "witnesses": lc.Witnesses(),
			})
		},
	})
	return cmd
}

// addLightFlags adds the light client's flags (the primary is --primary
// for verify and --node for query).
func addLightFlags(f *pflag.FlagSet) {
	f.StringSlice("witnesses", nil, "RPC addresses of witness nodes (other agencies'), comma-separated; at least one")
	f.Int64("trust-height", 0, "height of the trust root header (needed until --light-dir holds verified headers)")
	f.String("trust-hash", "", "hash (hex) of the trust root header, obtained out of band from an agency you trust")
	f.String("genesis", "", "for a fresh network: the genesis file every agency checked; block 1 becomes the trust root")
	f.Duration("trusting-period", client.DefaultTrustingPeriod, "how long a verified header stays a valid starting point")
	f.String("light-dir", "", "where verified headers are kept (default <home>/light)")
}

func openLightClient(ctx context.Context, cmd *cobra.Command, primary string) (*client.LightClient, error) {
	f := cmd.Flags()
	witnesses, _ := f.GetStringSlice("witnesses")
	trustHeight, _ := f.GetInt64("trust-height")
	trustHashHex, _ := f.GetString("trust-hash")
	genesisFile, _ := f.GetString("genesis")
	period, _ := f.GetDuration("trusting-period")
	dir, _ := f.GetString("light-dir")
	if dir == "" {
		dir = filepath.Join(homeFlag(cmd), "light")
	}
	opts := client.LightOptions{Primary: primary, Witnesses: witnesses, TrustHeight: trustHeight, TrustingPeriod: period, Dir: dir}
	if (trustHeight == 0) != (trustHashHex == "") {
		return nil, errors.New("give --trust-height and --trust-hash together")
	}
	if trustHashHex != "" {
		h, err := hex.DecodeString(trustHashHex)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("--trust-hash %q: want the 64 hex characters of a header hash", trustHashHex)
		}
		opts.TrustHash = h
	}
	if genesisFile != "" {
		b, err := os.ReadFile(genesisFile)
		if err != nil {
			return nil, fmt.Errorf("--genesis: %w", err)
		}
		if opts.Genesis, err = types.GenesisDocFromJSON(b); err != nil {
			return nil, fmt.Errorf("--genesis %s: %w", genesisFile, err)
		}
	}
	lc, err := client.NewLightClient(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("light client: %w", err)
	}
	return lc, nil
}

// runVerified opens the light client, reads, and prints the record with
// what it was verified against.
func runVerified(cmd *cobra.Command, primary string, read func(context.Context, *client.LightClient, int64) (any, *client.Verified, error)) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), verifyTimeout)
	defer cancel()
	lc, err := openLightClient(ctx, cmd, primary)
	if err != nil {
		return err
	}
	defer lc.Close()
	height, _ := cmd.Flags().GetInt64("height")
	rec, v, err := read(ctx, lc, height)
	if errors.Is(err, client.ErrNotFound) && v != nil {
		_ = printJSON(map[string]any{"found": false, "verified_against": verifiedJSON(v, "absence")})
		return fmt.Errorf("not found: its absence is proven at height %d", v.StateHeight)
	}
	if err != nil {
		return err
	}
	return printJSON(map[string]any{"found": true, "record": rec, "verified_against": verifiedJSON(v, "existence")})
}

func verifiedJSON(v *client.Verified, proof string) map[string]any {
	return map[string]any{
		"proof":         proof,
		"chain_id":      v.ChainID,
		"state_height":  v.StateHeight,
		"header_height": v.HeaderHeight,
		"header_hash":   fmt.Sprintf("%X", v.HeaderHash),
		"header_time":   v.HeaderTime.UTC().Format(time.RFC3339Nano),
		"app_hash":      fmt.Sprintf("%X", v.AppHash),
		"primary":       v.Primary,
		"witnesses":     v.Witnesses,
		"header_check":  "verified by the light client from the trust root and compared with the witnesses",
	}
}

// queryVerified is `tallyd query … --verify` for a single record.
func queryVerified(cmd *cobra.Command, path string, data []byte, into proto.Message, view func(proto.Message) any) error {
	if done, err := compositeVerified(cmd, path, []string{string(data)}); done {
		return err
	}
	keyOf, ok := provableKey(path)
	if !ok {
		return fmt.Errorf("query %s has no verified single-record form (api.Routes gives it no key)", path)
	}
	node, _ := cmd.Flags().GetString("node")
	return runVerified(cmd, node, func(ctx context.Context, lc *client.LightClient, height int64) (any, *client.Verified, error) {
		ans, err := lc.GetProto(ctx, path, data, keyOf(data), height, into)
		if err != nil {
			return nil, verifiedOf(ans), err
		}
		return view(into), &ans.Verified, nil
	})
}

// queryMembersVerified is `tallyd query agency members … --verify`.
func queryMembersVerified(cmd *cobra.Command, id string) error {
	node, _ := cmd.Flags().GetString("node")
	return runVerified(cmd, node, func(ctx context.Context, lc *client.LightClient, height int64) (any, *client.Verified, error) {
		return readMembers(ctx, cmd, lc, []string{id}, height)
	})
}
