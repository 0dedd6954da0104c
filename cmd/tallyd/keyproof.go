package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
)

// A key entering state needs its holder's proof of possession
// (api/keyproof). The commands that add a key take it from --key-proof
// (made by the holder with 'tallyd keys prove'), or sign it themselves when
// the key is in this keyring or, for consensus keys, in --validator-key.

func addKeyProofFlag(cmd *cobra.Command) {
	cmd.Flags().String("key-proof", "", "the new key holder's proof of possession, base64 (from 'tallyd keys prove'); default: signed here when the key is in this keyring")
}

// keyProof returns the proof for pub: --key-proof, or a signature by the
// keyring key whose public key is pub.
func keyProof(cmd *cobra.Command, pub []byte, chainID, agencyID string, account []byte, purpose keyproof.Purpose) ([]byte, error) {
	if s, _ := cmd.Flags().GetString("key-proof"); s != "" {
		return decodeProof(s)
	}
	kr, err := openKeyring(cmd)
	if err != nil {
		return nil, err
	}
	infos, err := kr.List()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if p, err := base64.StdEncoding.DecodeString(info.PubKey); err == nil && bytes.Equal(p, pub) {
			return kr.Sign(info.Name, keyproof.Statement(chainID, agencyID, account, pub, purpose))
		}
	}
	return nil, fmt.Errorf("the new key is not in this keyring, so it cannot prove possession here: its holder runs 'tallyd keys prove NAME --chain-id %s --agency %s --account %x --purpose %s' and you pass the output as --key-proof", chainID, agencyID, account, purpose)
}

func decodeProof(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.SignatureSize {
		return nil, fmt.Errorf("--key-proof must be base64 of a %d-byte ed25519 signature", ed25519.SignatureSize)
	}
	return b, nil
}

// validatorKeyProof returns a consensus key's proof: --key-proof, or signed
// with the priv_validator_key.json named by --validator-key.
func validatorKeyProof(cmd *cobra.Command, pub []byte, chainID, agencyID string, purpose keyproof.Purpose) ([]byte, error) {
	if s, _ := cmd.Flags().GetString("key-proof"); s != "" {
		return decodeProof(s)
	}
	path, _ := cmd.Flags().GetString("validator-key")
	if path == "" {
		return nil, fmt.Errorf("a consensus key needs its proof of possession: pass --validator-key PATH/priv_validator_key.json of that node, or --key-proof from 'tallyd keys prove-validator' run by its operator")
	}
	return signWithValidatorKey(path, pub, chainID, agencyID, purpose)
}

func signWithValidatorKey(path string, pub []byte, chainID, agencyID string, purpose keyproof.Purpose) ([]byte, error) {
	pv := privval.LoadFilePVEmptyState(path, "")
	if !bytes.Equal(pv.Key.PubKey.Bytes(), pub) {
		return nil, fmt.Errorf("%s holds consensus key %X, not %X", path, pv.Key.PubKey.Bytes(), pub)
	}
	return pv.Key.PrivKey.Sign(keyproof.Statement(chainID, agencyID, api.ConsensusAddress(pub), pub, purpose))
}

// memberKeyProof is the add-member proof for pub: the signing admin's
// agency, the new account's address.
func memberKeyProof(cmd *cobra.Command, pub []byte) ([]byte, error) {
	if s, _ := cmd.Flags().GetString("key-proof"); s != "" {
		return decodeProof(s)
	}
	kr, err := openKeyring(cmd)
	if err != nil {
		return nil, err
	}
	addr, chainID, err := signerAndChain(cmd, kr)
	if err != nil {
		return nil, err
	}
	agencyID, err := accountAgency(cmd, addr)
	if err != nil {
		return nil, err
	}
	return keyProof(cmd, pub, chainID, agencyID, api.AddressOf(pub), keyproof.AddMember)
}

// proposalChainID is the chain id a proposal's key proofs name.
func proposalChainID(cmd *cobra.Command) (string, error) {
	kr, err := openKeyring(cmd)
	if err != nil {
		return "", err
	}
	_, chainID, err := signerAndChain(cmd, kr)
	return chainID, err
}

// accountAgency asks the node which agency account addr belongs to.
func accountAgency(cmd *cobra.Command, addr []byte) (string, error) {
	c, err := dialNode(cmd)
	if err != nil {
		return "", err
	}
	res, _, err := c.Query(cmd.Context(), api.PathAccount, addr, 0, false)
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return "", fmt.Errorf("account %x: %s", addr, res.Log)
	}
	acc := &agencyv1.Account{}
	if err := proto.Unmarshal(res.Value, acc); err != nil {
		return "", err
	}
	return acc.AgencyId, nil
}

func keysProveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "prove NAME --chain-id ID --agency AGENCY --purpose PURPOSE [--account ADDRESS]",
		Short: "Sign the proof that you hold key NAME, for an admin or a proposal to add it",
		Long: `A key enters the chain only with its holder's proof of possession: a
signature over a statement naming the chain, the agency, the account and
the purpose. Give the printed base64 to whoever adds your key, as their
--key-proof. PURPOSE is add-member (an admin adds you), rotate-key,
admit-agency (a proposal admits your agency with you as admin) or
genesis-account. --account defaults to the key's own address; for
rotate-key give the account's address (the agency is not part of a
rotate-key proof; pass any agency id, it is ignored).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			info, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			pub, err := base64.StdEncoding.DecodeString(info.PubKey)
			if err != nil {
				return err
			}
			chainID, agencyID, purpose, err := proveFlags(cmd)
			if err != nil {
				return err
			}
			if purpose == keyproof.RotateKey {
				agencyID = "" // see keyproof.RotateKey
			}
			account := api.AddressOf(pub)
			if s, _ := cmd.Flags().GetString("account"); s != "" {
				if account, err = resolveAddress(cmd, s); err != nil {
					return err
				}
			}
			sig, err := kr.Sign(args[0], keyproof.Statement(chainID, agencyID, account, pub, purpose))
			if err != nil {
				return err
			}
			fmt.Println(base64.StdEncoding.EncodeToString(sig))
			return nil
		},
	}
	c.Flags().String("account", "", "account address the key is for (default: the key's own address)")
	addProveFlags(c)
	addKeyringFlags(c)
	return c
}

func keysProveValidatorCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "prove-validator PRIV_VALIDATOR_KEY_JSON --chain-id ID --agency AGENCY --purpose add-validator|rotate-validator",
		Short: "Sign the proof that you hold a node's consensus key, for a proposal to add it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			chainID, agencyID, purpose, err := proveFlags(cmd)
			if err != nil {
				return err
			}
			pv := privval.LoadFilePVEmptyState(args[0], "")
			sig, err := signWithValidatorKey(args[0], pv.Key.PubKey.Bytes(), chainID, agencyID, purpose)
			if err != nil {
				return err
			}
			fmt.Println(base64.StdEncoding.EncodeToString(sig))
			return nil
		},
	}
	addProveFlags(c)
	return c
}

func addProveFlags(c *cobra.Command) {
	c.Flags().String("chain-id", "", "the chain the key is for (required)")
	c.Flags().String("agency", "", "the agency the key is for (required)")
	c.Flags().String("purpose", "", "what the key is added for (required)")
	_ = c.MarkFlagRequired("chain-id")
	_ = c.MarkFlagRequired("agency")
	_ = c.MarkFlagRequired("purpose")
}

func proveFlags(cmd *cobra.Command) (chainID, agencyID string, purpose keyproof.Purpose, err error) {
	chainID, _ = cmd.Flags().GetString("chain-id")
	agencyID, _ = cmd.Flags().GetString("agency")
	p, _ := cmd.Flags().GetString("purpose")
	switch purpose = keyproof.Purpose(p); purpose {
	case keyproof.AddMember, keyproof.RotateKey, keyproof.AdmitAgency, keyproof.GenesisAccount, keyproof.AddValidator, keyproof.RotateValidator:
	default:
		return "", "", "", fmt.Errorf("--purpose %q: use add-member, rotate-key, admit-agency, genesis-account, add-validator or rotate-validator", p)
	}
	return chainID, agencyID, purpose, api.CheckAgencyID(agencyID)
}
