package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
)

const defaultNode = "tcp://127.0.0.1:26657"

func txCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Build, sign and broadcast a transaction, then wait for it to be committed",
		Long: `Each tx subcommand signs with the key named by --from, sends the
transaction to --node with broadcast_tx_sync, waits until it is in a
committed block and prints its height, result code and events as JSON.
A refused or failed transaction prints its error code and message and
exits with status 1.`,
	}
	cmd.AddCommand(txAgencyCmd())
	cmd.AddCommand(txFundsCmd())
	cmd.AddCommand(txBenefitsCmd())
	cmd.AddCommand(txTaxCmd())
	cmd.AddCommand(txProvenanceCmd())
	cmd.AddCommand(txGovCmd())
	return cmd
}

func txAgencyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agency", Short: "Agency membership, roles and keys (admins act on their own agency)"}
	roleArg := func(s string) (agencyv1.Role, error) { return api.ParseRole(s) }

	addMember := &cobra.Command{
		Use:   "add-member PUBKEY|KEYNAME --roles role1,role2",
		Short: "Add an account to your agency (needs the admin role)",
		Long: `PUBKEY is a base64 or hex ed25519 public key, or the name of a key in the
keyring. The new member proves it holds the key: when the key is in this
keyring the proof is signed here; otherwise the member runs
'tallyd keys prove NAME --chain-id ID --agency YOUR_AGENCY --purpose add-member'
and you pass its output as --key-proof.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := resolvePubKey(cmd, args[0])
			if err != nil {
				return err
			}
			proof, err := memberKeyProof(cmd, pub)
			if err != nil {
				return err
			}
			names, _ := cmd.Flags().GetStringSlice("roles")
			var roles []agencyv1.Role
			for _, n := range names {
				r, err := roleArg(n)
				if err != nil {
					return err
				}
				roles = append(roles, r)
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{PubKey: pub, Roles: roles, KeyProof: proof}}})
		},
	}
	addMember.Flags().StringSlice("roles", nil, "roles to grant: "+strings.Join(roleNames(), ", "))
	addKeyProofFlag(addMember)

	removeMember := &cobra.Command{
		Use:   "remove-member ADDRESS|KEYNAME",
		Short: "Mark an account of your agency removed; its history stays (needs admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RemoveMember{RemoveMember: &agencyv1.MsgRemoveMember{Address: addr}}})
		},
	}
	grant := &cobra.Command{
		Use:   "grant-role ADDRESS|KEYNAME ROLE",
		Short: "Grant a role to an account of your agency (needs admin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			role, err := roleArg(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_GrantRole{GrantRole: &agencyv1.MsgGrantRole{Address: addr, Role: role}}})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke-role ADDRESS|KEYNAME ROLE",
		Short: "Revoke a role from an account of your agency (needs admin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			role, err := roleArg(args[1])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RevokeRole{RevokeRole: &agencyv1.MsgRevokeRole{Address: addr, Role: role}}})
		},
	}
	suspend := &cobra.Command{
		Use:   "suspend ADDRESS|KEYNAME",
		Short: "Stop an account of your agency from signing until reinstated (needs admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			reason, _ := cmd.Flags().GetString("reason")
			code, err := api.ParseReasonCode[agencyv1.SuspensionReason](reason, api.SuspensionReasonPrefix)
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_SuspendAccount{SuspendAccount: &agencyv1.MsgSuspendAccount{Address: addr, ReasonCode: code}}})
		},
	}
	suspend.Flags().String("reason", "", "reason code (required): "+api.EnumNames(agencyv1.SuspensionReason(0), api.SuspensionReasonPrefix))
	reinstate := &cobra.Command{
		Use:   "reinstate ADDRESS|KEYNAME",
		Short: "Let a suspended account of your agency sign again (needs admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_ReinstateAccount{ReinstateAccount: &agencyv1.MsgReinstateAccount{Address: addr}}})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-key NEWKEYNAME",
		Short: "Replace your account's key with another key from the keyring; the address stays",
		Long: `Create the new key first with 'tallyd keys add NEWKEYNAME'. The new key signs
a proof that you hold it. Afterwards sign with --from NEWKEYNAME --account ADDRESS,
because the account keeps the address derived from its first key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			newPriv, err := kr.PrivKey(args[0])
			if err != nil {
				return err
			}
			addr, chainID, err := signerAndChain(cmd, kr)
			if err != nil {
				return err
			}
			newPub := newPriv.Public().(ed25519.PublicKey)
			proof := ed25519.Sign(newPriv, keyproof.Statement(chainID, "", addr, newPub, keyproof.RotateKey))
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_RotateKey{RotateKey: &agencyv1.MsgRotateKey{NewPubKey: newPub, NewKeySignature: proof}}})
		},
	}
	setName := &cobra.Command{
		Use:   "set-name ADDRESS|KEYNAME NAME",
		Short: "Set the name explorers show for an account of your agency, a desk or role such as \"Bristol collections desk\" (needs admin)",
		Long: `The name is public and stays in the chain's history: name a desk, a team or
a role, never a person. Letters, digits, spaces and - ' & , . ( ) / only, at
most 64 bytes. An empty NAME ("") clears it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := resolveAddress(cmd, args[0])
			if err != nil {
				return err
			}
			return sendTx(cmd, &txv1.Msg{Sum: &txv1.Msg_SetAccountName{SetAccountName: &agencyv1.MsgSetAccountName{Address: addr, DisplayName: args[1]}}})
		},
	}
	for _, c := range []*cobra.Command{addMember, removeMember, grant, revoke, suspend, reinstate, rotate, setName} {
		addTxFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func addTxFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("from", "", "name of the signing key in the keyring (required)")
	f.String("account", "", "account address to sign for, when it differs from the key's own address (after a key rotation)")
	f.String("node", defaultNode, "RPC address of any node")
	f.String("chain-id", "", "chain id (default: asked from the node)")
	f.Uint64("timeout-blocks", 100, "blocks from now after which the transaction can no longer be included")
	f.Uint64("nonce", 0, "nonce, unique per account while the transaction can be included (default: random)")
	f.String("memo", "", "a note kept off chain: only its salted commitment is sent (the salt that opens it is printed); 64 hex characters are sent as they are")
	f.Uint64("units", 0, "the transaction's unit limit (TxBody.max_units): the most meter units it may use and what a block counts it as; past it the transaction fails with tx/30 and its nonce is spent. "+
		"0: the limit its messages' route bounds give (enough for the usual states; declare more for a heavy one, such as a movement over many small tranches, up to app.max_tx_units)")
	f.Duration("wait", time.Minute, "how long to wait for the transaction to be committed")
	addKeyringFlags(cmd)
	_ = cmd.MarkFlagRequired("from")
}

// signerAndChain resolves the signing account's address and the chain id.
func signerAndChain(cmd *cobra.Command, kr *keys.Keyring) ([]byte, string, error) {
	from, _ := cmd.Flags().GetString("from")
	info, err := kr.Show(from)
	if err != nil {
		return nil, "", err
	}
	addrHex := info.Address
	if acct, _ := cmd.Flags().GetString("account"); acct != "" {
		addrHex = acct
	}
	addr, err := keys.ParseAddress(addrHex)
	if err != nil {
		return nil, "", err
	}
	chainID, _ := cmd.Flags().GetString("chain-id")
	if chainID == "" {
		c, err := dialNode(cmd)
		if err != nil {
			return nil, "", err
		}
		if chainID, _, err = c.Status(cmd.Context()); err != nil {
			return nil, "", err
		}
	}
	return addr, chainID, nil
}

func dialNode(cmd *cobra.Command) (*client.Client, error) {
	addr, _ := cmd.Flags().GetString("node")
	return client.Dial(addr)
}

// sendTx signs msgs with --from, broadcasts and waits, and prints the result.
func sendTx(cmd *cobra.Command, msgs ...*txv1.Msg) error {
	kr, err := openKeyring(cmd)
	if err != nil {
		return err
	}
	addr, chainID, err := signerAndChain(cmd, kr)
	if err != nil {
		return err
	}
	c, err := dialNode(cmd)
	if err != nil {
		return err
	}
	f := cmd.Flags()
	wait, _ := f.GetDuration("wait")
	statusCtx, cancelStatus := context.WithTimeout(cmd.Context(), 10*time.Second)
	_, height, err := c.Status(statusCtx)
	cancelStatus()
	if err != nil {
		return err
	}

	blocks, _ := f.GetUint64("timeout-blocks")
	nonce, _ := f.GetUint64("nonce")
	units, _ := f.GetUint64("units")
	memo, _ := f.GetString("memo")
	if api.CheckMemo(memo) != nil {
		c, salt, err := client.CommitMemo(memo)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "memo sent as commitment %s; keep salt %s with the note to open it (blocks are public for ever)\n", c, salt)
		memo = c
	}
	from, _ := f.GetString("from")
	priv, err := kr.PrivKey(from)
	if err != nil {
		return err
	}
	tx, err := client.BuildTx(client.TxOptions{ChainID: chainID, Signer: addr, Nonce: nonce, TimeoutHeight: uint64(height) + blocks, Memo: memo, Units: units},
		func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }, msgs...)
	if err != nil {
		return err
	}
	// The node's CheckTx answer comes first, within a fixed time; --wait
	// bounds only the wait for the block, so a timeout below means the
	// node accepted the transaction and it may yet commit.
	sendCtx, cancelSend := context.WithTimeout(cmd.Context(), 30*time.Second)
	var res *ctypes.ResultTx
	err = c.Broadcast(sendCtx, tx)
	cancelSend()
	if err == nil {
		waitCtx, cancelWait := context.WithTimeout(cmd.Context(), wait)
		res, err = c.WaitTx(waitCtx, client.TxHash(tx))
		cancelWait()
	}
	if errors.Is(err, client.ErrNotYetCommitted) {
		hash := strings.ToUpper(hex.EncodeToString(client.TxHash(tx)))
		node, _ := f.GetString("node")
		return fmt.Errorf("transaction %s was accepted by the node but not seen in a block within --wait %s. It may still commit until block %d "+
			"(its timeout height); after that it never will. Check with: %s query tx %s --node %s", hash, wait, uint64(height)+blocks, testnet.Invocation(), hash, node)
	}
	var txErr *client.TxError
	if errors.As(err, &txErr) {
		_ = printJSON(map[string]any{"hash": strings.ToUpper(hex.EncodeToString(client.TxHash(tx))), "height": txErr.Height,
			"code": txErr.Code, "codespace": txErr.Codespace, "log": txErr.Log})
		return fmt.Errorf("transaction %s", txErr.Error())
	}
	if err != nil {
		return err
	}
	return printJSON(map[string]any{"hash": res.Hash.String(), "height": res.Height, "code": res.TxResult.Code, "events": eventsJSON(res.TxResult.Events)})
}

// eventsJSON is a transaction's events as JSON objects.
func eventsJSON(evs []abci.Event) []map[string]any {
	events := []map[string]any{}
	for _, e := range evs {
		attrs := map[string]string{}
		for _, a := range e.Attributes {
			attrs[a.Key] = a.Value
		}
		events = append(events, map[string]any{"type": e.Type, "attributes": attrs})
	}
	return events
}

// resolveAddress accepts a 40-character hex address or a keyring key name.
func resolveAddress(cmd *cobra.Command, s string) ([]byte, error) {
	if addr, err := keys.ParseAddress(s); err == nil {
		return addr, nil
	}
	kr, err := openKeyring(cmd)
	if err != nil {
		return nil, err
	}
	info, err := kr.Show(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a 40-character hex address nor a key in the keyring: %w", s, err)
	}
	return keys.ParseAddress(info.Address)
}

// resolvePubKey accepts a base64 or hex ed25519 public key or a keyring key name.
func resolvePubKey(cmd *cobra.Command, s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == api.PubKeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == api.PubKeySize {
		return b, nil
	}
	kr, err := openKeyring(cmd)
	if err != nil {
		return nil, err
	}
	info, err := kr.Show(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a 32-byte public key (hex or base64) nor a key in the keyring: %w", s, err)
	}
	return base64.StdEncoding.DecodeString(info.PubKey)
}

func roleNames() []string {
	var out []string
	for i := int32(1); ; i++ {
		if _, ok := agencyv1.Role_name[i]; !ok {
			return out
		}
		out = append(out, api.RoleName(agencyv1.Role(i)))
	}
}
