package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	cmtos "github.com/cometbft/cometbft/libs/os"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
)

func genesisCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "genesis",
		Short: "Genesis ceremony for a network of agencies: declare, collect, verify",
		Long: `The genesis ceremony starts a chain run by several agencies that do not
trust each other. Nobody's keys leave their machine; every agency can check
the result on its own.

1. Agree out of band on the chain id (for example tally-main) and on who
   coordinates. Every agency's tallyd must be the same release.

2. Each agency, on its validator machine:
     tallyd genesis declare --home /srv/tally --chain-id tally-main \
         --agency tax --agency-name "Tax Authority" --agency-kind tax_authority \
         --admin-key admin --p2p-address tax-node.example.org:26656 \
         --output tax.declaration.json
   This creates the node home and the admin account key if missing and
   writes a declaration signed by the admin key, the validator key and the
   node key. Send the declaration file to the coordinator and every agency
   (it holds only public keys).

3. The coordinator:
     tallyd genesis collect --chain-id tally-main \
         --genesis-time 2030-01-15T09:00:00Z --output genesis.json *.declaration.json
   It refuses tampered, duplicated or wrong-chain declarations, writes
   genesis.json and prints its sha256 and the persistent_peers list.
   Send genesis.json to every agency.

4. Each agency:
     tallyd genesis verify --genesis genesis.json --install --home /srv/tally \
         *.declaration.json
   It re-checks every declaration and that the genesis holds exactly the
   declared validators, agencies and admin accounts. Compare the printed
   genesis hash with every other agency by phone or another channel you
   trust. --install copies genesis.json into the home and sets
   p2p.persistent_peers.

5. Each agency: tallyd start --home /srv/tally. Blocks begin once more than
   two thirds of the voting power is online (and not before genesis time).`,
	}
	cmd.AddCommand(genesisDeclareCmd(), genesisCollectCmd(), genesisVerifyCmd())
	return cmd
}

func genesisDeclareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "declare",
		Short: "Create this agency's node home and keys, and write its signed genesis declaration",
		Long: `declare is step 2 of the ceremony (see 'tallyd genesis --help').

It creates the node home (--home) if missing, keeping an existing home's
config and keys; a home that already has a genesis is refused. It creates
the admin account key --admin-key in the keyring if missing. Then it writes
--output: the chain id, the agency (id, name, kind), the validator's
consensus public key and power, the node id and --p2p-address, and the
admin account's public key and address, signed by the admin key, the
validator key and the node key. The file holds no secrets.

--p2p-address is host:port where the other validators reach this node; it
is also set as p2p.external_address in config.toml if that is empty. Make
sure p2p.laddr in config.toml listens on that port.

Read the signed body with: jq -r .body FILE | jq .`,
		Example: `  tallyd genesis declare --home /srv/tally --chain-id tally-main \
      --agency treasury --agency-name "HM Treasury" --agency-kind treasury \
      --admin-key admin --p2p-address 203.0.113.10:26656 --output treasury.declaration.json`,
		Args: cobra.NoArgs,
		RunE: runDeclare,
	}
	f := cmd.Flags()
	f.String("chain-id", "", "chain id agreed by all agencies (required)")
	f.String("agency", "", "this agency's id: a-z, 0-9, - _ . (required)")
	f.String("agency-name", "", "human name of the agency (required)")
	f.String("agency-kind", "", "kind: treasury, tax_authority, benefits, regulator, council, bank, department, business (required)")
	f.String("admin-key", "admin", "keyring name of the agency's admin account key (created if missing)")
	f.String("p2p-address", "", "host:port where other validators reach this node (required)")
	f.Int64("power", genesis.DefaultPower, "validator voting power (agencies normally agree on equal power)")
	f.String("moniker", "", "node name shown to peers when the home is created (default: the agency id)")
	f.String("output", "", "declaration file to write (default <agency>.declaration.json)")
	addKeyringFlags(cmd)
	for _, name := range []string{"chain-id", "agency", "agency-name", "agency-kind", "p2p-address"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runDeclare(cmd *cobra.Command, _ []string) error {
	h := homeFlag(cmd)
	f := cmd.Flags()
	chainID, _ := f.GetString("chain-id")
	agencyID, _ := f.GetString("agency")
	name, _ := f.GetString("agency-name")
	kindName, _ := f.GetString("agency-kind")
	keyName, _ := f.GetString("admin-key")
	p2pAddr, _ := f.GetString("p2p-address")
	power, _ := f.GetInt64("power")
	moniker, _ := f.GetString("moniker")
	output, _ := f.GetString("output")
	if err := api.CheckAgencyID(agencyID); err != nil {
		return err
	}
	kind, err := api.ParseAgencyKind(kindName)
	if err != nil {
		return err
	}
	if err := genesis.ValidateP2PAddress(p2pAddr); err != nil {
		return err
	}
	if moniker == "" {
		moniker = agencyID
	}
	if output == "" {
		output = agencyID + ".declaration.json"
	}

	comet := node.DefaultCometConfig(h)
	if cmtos.FileExists(comet.GenesisFile()) {
		return fmt.Errorf("%s already has a genesis (%s): a node joining a ceremony must not have one; use a fresh --home, or delete that genesis.json if this node never ran", h, comet.GenesisFile())
	}
	configFile := filepath.Join(h, "config", "config.toml")
	var id node.Identity
	if cmtos.FileExists(configFile) {
		id, err = node.LoadIdentity(h)
	} else {
		id, err = node.InitNode(h, moniker)
	}
	if err != nil {
		return err
	}
	cfgNote := ""
	loaded, appCfg, err := node.LoadConfigs(h)
	if err != nil {
		return err
	}
	if loaded.P2P.ExternalAddress == "" {
		loaded.P2P.ExternalAddress = p2pAddr
		if err := node.WriteConfigs(h, loaded, appCfg); err != nil {
			return err
		}
		cfgNote = fmt.Sprintf("  set p2p.external_address = %s in config.toml\n", p2pAddr)
	}

	kr, err := openKeyring(cmd)
	if err != nil {
		return err
	}
	info, err := kr.Show(keyName)
	if err != nil {
		if info, err = kr.Add(keyName); err != nil {
			return fmt.Errorf("creating admin key %q: %w", keyName, err)
		}
	}
	pv := privval.LoadFilePVEmptyState(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	nk, err := p2p.LoadNodeKey(comet.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("loading node key: %w", err)
	}
	body := genesis.DeclarationBody{
		ChainID:         chainID,
		AgencyID:        agencyID,
		AgencyName:      name,
		AgencyKind:      api.AgencyKindName(kind),
		ValidatorPubKey: base64.StdEncoding.EncodeToString(id.ConsensusPK.Bytes()),
		Power:           power,
		NodeID:          id.NodeID,
		NodePubKey:      base64.StdEncoding.EncodeToString(nk.PubKey().Bytes()),
		P2PAddress:      p2pAddr,
		AdminPubKey:     info.PubKey,
		AdminAddress:    info.Address,
	}
	d, err := genesis.SignDeclaration(body, func(msg []byte) ([]byte, error) { return kr.Sign(keyName, msg) }, pv.Key.PrivKey, nk.PrivKey)
	if err != nil {
		return err
	}
	if err := genesis.WriteDeclaration(output, d); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), `Wrote declaration %s
  chain id:       %s
  agency:         %s %q (%s)
  validator key:  %s  power %d
  node:           %s@%s
  admin key:      %s  address %s  (keyring %s)
%s
Next: send %s to the coordinator and to every other agency.
`, output, chainID, agencyID, name, api.AgencyKindName(kind), body.ValidatorPubKey, power,
		id.NodeID, p2pAddr, keyName, info.Address, kr.Backend(), cfgNote, output)
	return nil
}

func genesisCollectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collect --chain-id CHAIN [--genesis-time RFC3339] --output genesis.json DECLARATION...",
		Short: "Verify every agency's declaration and build genesis.json from them",
		Long: `collect is step 3 of the ceremony (see 'tallyd genesis --help').

It verifies every declaration (all three signatures, chain id, agency id,
name and kind, key sizes) and refuses the whole set, naming each file and
what is wrong, if any declaration was tampered with, is for another chain,
or clashes with another one (same agency id, validator key, node id, admin
key or p2p address).

Then it writes genesis.json: one validator per agency (named after it), and
every agency with its admin account (role admin), with default params,
sorted by agency id. The same declarations and --genesis-time give the same
file, so a second coordinator can check the first. It prints the file's
sha256, which every agency compares out of band, and the persistent_peers
list.`,
		Example: `  tallyd genesis collect --chain-id tally-main --genesis-time 2030-01-15T09:00:00Z \
      --output genesis.json treasury.declaration.json tax.declaration.json fsa.declaration.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			chainID, _ := f.GetString("chain-id")
			timeStr, _ := f.GetString("genesis-time")
			output, _ := f.GetString("output")
			genesisTime := time.Now().UTC().Truncate(time.Second)
			if timeStr != "" {
				t, err := time.Parse(time.RFC3339, timeStr)
				if err != nil {
					return fmt.Errorf("--genesis-time %q: use RFC 3339, for example 2030-01-15T09:00:00Z", timeStr)
				}
				genesisTime = t.UTC()
			}
			ds, err := genesis.LoadDeclarations(chainID, args)
			if err != nil {
				return fmt.Errorf("declarations refused, no genesis written:\n%w", err)
			}
			doc, hash, err := genesis.CollectGenesis(output, chainID, genesisTime, ds)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote %s\n  chain id:      %s\n  genesis time:  %s\n  validators:\n", output, doc.ChainID, doc.GenesisTime.Format(time.RFC3339Nano))
			printDeclared(w, ds)
			fmt.Fprintf(w, "genesis sha256: %s\npersistent_peers: %s\n\nNext: send %s to every agency; each runs 'tallyd genesis verify --install' and compares the sha256 with you out of band.\n",
				hash, genesis.PersistentPeers(ds, ""), output)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("chain-id", "", "chain id every declaration must name (required)")
	f.String("genesis-time", "", "genesis time, RFC 3339 (default: now, to the second); blocks start no earlier")
	f.String("output", "genesis.json", "genesis file to write (overwritten)")
	_ = cmd.MarkFlagRequired("chain-id")
	return cmd
}

func printDeclared(w io.Writer, ds []*genesis.Declared) {
	for _, d := range ds {
		fmt.Fprintf(w, "    %-16s %-14s power %-4d admin %x  node %s\n", d.Body.AgencyID, d.Body.AgencyKind, d.Body.Power, d.AdminAddress, d.PeerAddress())
	}
}

func genesisVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify --genesis genesis.json [--install --home H] DECLARATION...",
		Short: "Check a genesis against every declaration, and optionally install it",
		Long: `verify is step 4 of the ceremony (see 'tallyd genesis --help').

Pass every agency's declaration, including your own. verify checks all their
signatures and that the genesis holds exactly the declared validators (key,
power) and exactly the declared agencies and admin accounts, with default
params and nothing else. It prints the genesis sha256: compare it with
every other agency over a channel you trust before starting.

With --install it also copies the genesis into <home>/config/genesis.json,
sets p2p.persistent_peers in config.toml to every other declared node, and
turns on filter_peers: the node then admits only the node ids registered for
validators (the declared ones, in genesis; later, those voted in with a node
address) and those listed in app.toml's allowed_peers.
It refuses a home whose validator is not in the genesis, or which already
holds a different genesis.`,
		Example: `  tallyd genesis verify --genesis genesis.json --install --home /srv/tally \
      treasury.declaration.json tax.declaration.json fsa.declaration.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			genesisPath, _ := cmd.Flags().GetString("genesis")
			install, _ := cmd.Flags().GetBool("install")
			v, err := genesis.VerifyGenesis(genesisPath, args)
			if err != nil {
				return fmt.Errorf("genesis refused:\n%w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s matches all %d declarations\n  chain id:      %s\n  genesis time:  %s\n  validators:\n",
				genesisPath, len(v.Declarations), v.Doc.ChainID, v.Doc.GenesisTime.Format(time.RFC3339Nano))
			printDeclared(w, v.Declarations)
			fmt.Fprintf(w, "genesis sha256: %s\n", v.Hash)
			if !install {
				fmt.Fprintln(w, "\nCompare the sha256 with every other agency, then run again with --install --home H.")
				return nil
			}
			return installGenesis(cmd, genesisPath, v)
		},
	}
	cmd.Flags().String("genesis", "genesis.json", "genesis file to check")
	cmd.Flags().Bool("install", false, "copy the genesis into --home, set p2p.persistent_peers and turn on filter_peers")
	return cmd
}

func installGenesis(cmd *cobra.Command, genesisPath string, v *genesis.VerifiedGenesis) error {
	h := homeFlag(cmd)
	comet := node.DefaultCometConfig(h)
	for _, p := range []string{comet.PrivValidatorKeyFile(), comet.NodeKeyFile(), filepath.Join(h, "config", "config.toml")} {
		if !cmtos.FileExists(p) {
			return fmt.Errorf("cannot install into %s: %s is missing (create the home with 'tallyd genesis declare')", h, p)
		}
	}
	id, err := node.LoadIdentity(h)
	if err != nil {
		return err
	}
	var own *genesis.Declared
	for _, d := range v.Declarations {
		if bytes.Equal(d.ValidatorPK.Bytes(), id.ConsensusPK.Bytes()) {
			own = d
		}
	}
	if own == nil {
		return fmt.Errorf("refusing to install: this home's validator key %s is not in the genesis; pass your own declaration, or check --home",
			base64.StdEncoding.EncodeToString(id.ConsensusPK.Bytes()))
	}
	if own.Body.NodeID != id.NodeID {
		return fmt.Errorf("refusing to install: this home's node id %s differs from %s declared by %s", id.NodeID, own.Body.NodeID, own.Source)
	}
	data, err := os.ReadFile(genesisPath)
	if err != nil {
		return err
	}
	target := comet.GenesisFile()
	if existing, err := os.ReadFile(target); err == nil {
		if !bytes.Equal(existing, data) {
			return fmt.Errorf("refusing to install: %s already holds a different genesis; remove it only if this node never ran on it", target)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(target, data, 0o644); err != nil {
		return err
	}
	loaded, appCfg, err := node.LoadConfigs(h)
	if err != nil {
		return err
	}
	loaded.P2P.PersistentPeers = genesis.PersistentPeers(v.Declarations, id.NodeID)
	// Every declared node id is in genesis, so the node can admit exactly
	// the validators' nodes (and the operator's allowed_peers).
	loaded.FilterPeers = true
	if err := node.WriteConfigs(h, loaded, appCfg); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\nInstalled %s as agency %s\n  persistent_peers: %s\n  filter_peers: on (validators' node ids and app.toml allowed_peers)\n\nCompare the genesis sha256 above with every other agency, then start the node with: tallyd start --home %s\n",
		target, own.Body.AgencyID, loaded.P2P.PersistentPeers, h)
	return nil
}
