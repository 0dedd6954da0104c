package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/client/load"
)

func loadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load --from ADMINKEY [--mix[=all|NAME=W,...]] [--endpoints tcp://HOST:PORT,...] [--rate TX/S] [--duration D]",
		Short: "Offer signed transactions at a fixed rate and measure what the chain commits",
		Long: `load measures throughput and latency of a running chain with real signed
transactions.

Setup (not measured): for each agency ("party") the mix needs it creates
--accounts fresh signing keys in memory and has that agency's admin add them
with the roles the party's messages need: add_member signers are admins of
the --from key's agency; treasury, benefits, tax and provenance signers are
added by the --admins keys. It then prepares what the messages draw on — an
appropriation and an allocation to the benefits agency, a programme, a tax
type with the collectors authorised, a few items per producer — under a
prefix unique to the run, and waits until every endpoint has applied it.

Load: for --duration it offers --rate transactions per second, open loop:
each transaction is sent at its time whatever the nodes have answered so far
(broadcast_tx_sync to the next endpoint in turn, over --connections kept-alive
connections per endpoint), and its own sender learns CheckTx's verdict, so a
slow node cannot slow the offered load down. At most --workers broadcasts wait
for answers at once; a transaction due beyond that is not sent, and counted.
Each transaction is signed by a random load
account with a random nonce and a timeout --timeout-blocks above the current
height. --mix picks the message types (` + strings.Join(load.MsgNames(), ", ") + `), e.g.
"add_member" or "add_member=3,enrol=1" for weights; --mix alone (or
--mix=all) sends every module's common transactions: ` + load.MixString(load.FullMix) + `.
Every message is valid when sent: fresh members (auditor role), new
appropriation lines, allocations and fundings of a few pence, new recipients
on the run's programme, receipts with fresh bank references, new items, and
custody offers of items seen registered (or accepted) and acceptances of
offers seen committed, round a ring of producers.

Counting: commits are counted from the blocks, not from acknowledgements.
Every block from the start is read from the first endpoint and its tx hashes
are matched against what was sent. A block counts as committed once that
node's app has committed it (abci_info's last_block_height), so a query to it
straight after reads its transactions; the time that was first seen is the
commit time for latency. After the load stops the command waits up to --drain for
accepted transactions still in mempools, then reports:

  offered / submitted / accepted / rejected by code / broadcast errors,
  committed (succeeded, failed in block by code), accepted-but-not-committed,
  committed tx/s over the steady window (blocks whose header time is after
  --warmup and before the load stopped, over their header times), submit-to-commit latency p50/p95/p99,
  blocks read and average txs per block.

"accepted, not committed" > 0 at a rate the chain sustains is a loss to
investigate. An overloaded node refuses new transactions with tx/85 (its
mempool is nearly full) before CometBFT's own uncoded "mempool is full";
"refusals answered in" says how fast clients heard no.
"resent" counts broadcasts that failed before any answer on a kept-alive
connection the node had closed (it closes ones idle for 10 s) and were sent once
more on a new one; those the node had received after all ("tx already exists
in cache") are counted apart, neither accepted nor errors, and found in blocks.
"not sent (in flight)" > 0 means --workers broadcasts were waiting for
answers: the nodes answered too slowly for the offered rate (or raise
--workers). Progress goes to stderr; the report to stdout
(--json: one JSON object). Writes only load accounts and their members to
the chain: run it against test networks, never production.

Example, against a network from 'tallyd testnet init --output ./localnet'
(whose keyring has the --admins keys by their default names):
  tallyd load --keyring-backend test --keyring-dir ./localnet/keyring-test \
    --from treasury-admin --mix --rate 1000 --duration 30s \
    --endpoints tcp://127.0.0.1:27001,tcp://127.0.0.1:27011,tcp://127.0.0.1:27021,tcp://127.0.0.1:27031

scripts/bench-localnet.sh runs it at a series of rates on a fresh network.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			// --mix takes an optional value, so "--mix issue_receipt"
			// leaves the name behind as an argument.
			if cmd.Flags().Changed("mix") {
				return fmt.Errorf("load takes no arguments, got %q: to choose message types write --mix=%s (with '=': --mix alone means every type)", args[0], args[0])
			}
			return fmt.Errorf("load takes no arguments, got %q (run 'tallyd load --help')", args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			endpoints, _ := f.GetStringSlice("endpoints")
			rate, _ := f.GetFloat64("rate")
			duration, _ := f.GetDuration("duration")
			accounts, _ := f.GetInt("accounts")
			workers, _ := f.GetInt("workers")
			connections, _ := f.GetInt("connections")
			transport, _ := f.GetString("transport")
			msgsPerTx, _ := f.GetInt("msgs-per-tx")
			routeUnits, _ := f.GetBool("route-units")
			mixStr, _ := f.GetString("mix")
			chainID, _ := f.GetString("chain-id")
			timeoutBlocks, _ := f.GetUint64("timeout-blocks")
			warmup, _ := f.GetDuration("warmup")
			drain, _ := f.GetDuration("drain")
			asJSON, _ := f.GetBool("json")
			quiet, _ := f.GetBool("quiet")
			from, _ := f.GetString("from")
			account, _ := f.GetString("account")

			if accounts < 1 {
				return fmt.Errorf("--accounts must be at least 1")
			}
			if workers < 0 {
				return fmt.Errorf("--workers must not be negative")
			}
			if connections < 0 {
				return fmt.Errorf("--connections must not be negative (0: the transport's default)")
			}
			if transport != load.TransportHTTP && transport != load.TransportWS {
				return fmt.Errorf("--transport is %q: want %s or %s", transport, load.TransportHTTP, load.TransportWS)
			}
			if msgsPerTx < 1 {
				return fmt.Errorf("--msgs-per-tx must be at least 1 (and at most the chain's app.max_messages)")
			}
			if !f.Changed("warmup") {
				warmup = 0 // automatic
			} else if warmup == 0 {
				warmup = -1 // none
			}
			adminNames, _ := f.GetStringToString("admins")
			mix, err := load.ParseMix(mixStr)
			if err != nil {
				return err
			}
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			var priv ed25519.PrivateKey
			admins := map[string]load.Admin{}
			for _, p := range load.Parties(mix) {
				if p == load.PartyAgency {
					if from == "" {
						return fmt.Errorf("--from is required: the admin key that adds the add_member signers")
					}
					if priv, err = kr.PrivKey(from); err != nil {
						return err
					}
					defer clear(priv)
					continue
				}
				name, ok := adminNames[p]
				if !ok {
					return fmt.Errorf("--admins has no key for the %s party, which the mix needs", p)
				}
				k, err := kr.PrivKey(name)
				if err != nil {
					return fmt.Errorf("--admins %s=%s: %w", p, name, err)
				}
				defer clear(k)
				admins[p] = load.Admin{Key: k}
			}
			var adminAddr []byte
			if account != "" {
				if adminAddr, err = keys.ParseAddress(account); err != nil {
					return err
				}
			}
			var logw io.Writer = os.Stderr
			if quiet {
				logw = nil
			}
			signWhenSent, _ := f.GetBool("sign-when-sent")
			if path, _ := f.GetString("cpuprofile"); path != "" {
				out, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer out.Close()
				if err := pprof.StartCPUProfile(out); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := load.Run(ctx, load.Config{
				Endpoints:     endpoints,
				Rate:          rate,
				Duration:      duration,
				Accounts:      accounts,
				Workers:       workers,
				Transport:     transport,
				Connections:   connections,
				Mix:           mix,
				MsgsPerTx:     msgsPerTx,
				RouteUnits:    routeUnits,
				Admin:         priv,
				AdminAddress:  adminAddr,
				Admins:        admins,
				ChainID:       chainID,
				TimeoutBlocks: timeoutBlocks,
				WarmUp:        warmup,
				Drain:         drain,
				SignWhenSent:  signWhenSent,
				Log:           logw,
			})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(rep)
			}
			rep.WriteTable(os.Stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSlice("endpoints", []string{defaultNode}, "comma-separated RPC addresses of the nodes to send to; blocks are read from the first")
	f.Float64("rate", 100, "offered load in transactions per second")
	f.Duration("duration", 30*time.Second, "how long to offer load")
	f.Int("accounts", load.DefaultAccounts, "signing accounts to create in the setup phase (each may have many txs in flight)")
	f.Int("workers", 0, "most broadcasts waiting for answers at once; a transaction due beyond it is not sent, and counted (default two seconds of --rate, within 64..8192)")
	f.Int("connections", 0, fmt.Sprintf("connections kept open to each endpoint for the broadcasts (default %d over http, %d over ws)", load.DefaultConnections, load.DefaultWSConnections))
	f.String("transport", load.TransportHTTP, "how broadcasts are sent: http (an HTTP POST each, over kept-alive connections) or ws (a frame each over the node's /websocket, as CometBFT's loadtime sends); setup and block reads use HTTP either way")
	f.String("mix", "add_member", "message types to send, name[=weight],...; known: "+strings.Join(load.MsgNames(), ", ")+"; --mix alone is --mix=all, every one of them")
	f.Lookup("mix").NoOptDefVal = load.MixAll
	f.Int("msgs-per-tx", 1, "messages per transaction for message types that do not depend on an earlier one (custody offers and acceptances stay one to a transaction); at most the chain's app.max_messages")
	f.Bool("route-units", false, "declare no unit limit (TxBody.max_units): the chain counts each transaction at its messages' route bounds, so fewer fit in a block; for comparing with a release that predates max_units, which refuses the field. By default each transaction declares what its messages usually use, with a margin")
	f.String("from", "", "keyring name of an admin key; it adds the add_member signers to its agency (needed when the mix has add_member)")
	f.StringToString("admins", map[string]string{load.PartyTreasury: "treasury-admin", load.PartyBenefits: "benefits-admin",
		load.PartyTax: "revenue-admin", load.PartyProvenance: "dalefarm-admin"},
		"keyring names of the admins that add the other parties' signers: a Treasury agency's, a benefits agency's, a tax authority's and a business's")
	f.String("account", "", "the admin's account address, when it differs from the key's own (after a key rotation)")
	f.String("chain-id", "", "expected chain id (default: whatever the first endpoint serves)")
	f.Uint64("timeout-blocks", load.DefaultTimeoutBlocks, "each tx's timeout height is the current height plus this (at most the chain's timeout window)")
	f.Duration("warmup", 0, "start of the load excluded from the committed rate (default min(2s, duration/5); 0s for none)")
	f.Duration("drain", load.DefaultDrain, "longest wait after the load for accepted txs to be committed")
	f.Bool("json", false, "print the report as one JSON object")
	f.Bool("quiet", false, "no progress lines on stderr")
	f.Bool("sign-when-sent", false, "sign every transaction as it falls due; by default those that do not depend on what the chain has committed (all but custody offers and acceptances) are signed before the load starts, so that signing takes no CPU from the nodes while they are measured")
	f.String("cpuprofile", "", "write a CPU profile of this command (setup, load and drain) to this file: how much of the machine the load sender itself takes")
	addKeyringFlags(cmd)
	return cmd
}
