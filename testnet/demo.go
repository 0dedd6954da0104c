package testnet

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// demoMarker records, in the network directory, that the demo data was sent.
const demoMarker = "demo-seeded"

// Demo sends demonstration transactions through a running network.
type Demo struct {
	M       *Manifest
	Keys    *keys.Keyring
	Clients []*client.Client // one per validator node (Manifest.Validators), in manifest order
	// Log receives one line per step, for the person watching.
	Log func(format string, args ...any)
	// CLI is the command that reaches this network from the user's shell
	// ("build/tallyd --home build/localnet"), for the hints the demo prints.
	CLI string
}

// demoStep is one module's demonstration. Each module appends its step to
// demoSteps; they run in order, once per network.
type demoStep struct {
	name string
	run  func(ctx context.Context, d *Demo) error
}

var demoSteps = []demoStep{
	{"agency", agencyDemo},
	{"funds", fundsDemo},
	{"tax", taxDemo},
	{"provenance", provenanceDemo},
	{"governance", govDemo},
}

// demoStepTimeout bounds one step of the demo (money, taxes, goods, the
// vote). Each step waits for every validator to apply its blocks, which on
// a loaded machine with ten validators took longer than the 90 s that
// testnet start once gave starting and the whole demo together ("a node
// had not applied block 46 before the deadline").
const demoStepTimeout = 5 * time.Minute

// SeedDemo sends the demo data once: if the network directory records that
// it was sent, it does nothing.
func SeedDemo(ctx context.Context, dir string, m *Manifest, log func(string, ...any)) error {
	marker := filepath.Join(dir, demoMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		return err
	}
	d := &Demo{M: m, Keys: kr, Log: log, CLI: cliFor(dir)}
	for _, n := range m.Validators() {
		c, err := client.Dial(n.RPC)
		if err != nil {
			return err
		}
		d.Clients = append(d.Clients, c)
	}
	caughtUpCtx, cancel := context.WithTimeout(ctx, demoStepTimeout)
	err = d.waitCaughtUp(caughtUpCtx)
	cancel()
	if err != nil {
		return err
	}
	for _, s := range demoSteps {
		stepCtx, cancel := context.WithTimeout(ctx, demoStepTimeout)
		err := s.run(stepCtx, d)
		cancel()
		if err != nil {
			return fmt.Errorf("demo %s: %w", s.name, err)
		}
	}
	return os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// Send signs msgs with the demo key keyName, sends them through node i (mod
// the number of nodes) and waits for the block.
func (d *Demo) Send(ctx context.Context, node int, keyName string, msgs ...*txv1.Msg) error {
	priv, err := d.Keys.PrivKey(keyName)
	if err != nil {
		return err
	}
	c := d.Clients[node%len(d.Clients)]
	_, height, err := c.Status(ctx)
	if err != nil {
		return err
	}
	tx, err := client.BuildTx(client.TxOptions{
		ChainID:       d.M.ChainID,
		Signer:        keys.AddressOf(priv.Public().(ed25519.PublicKey)),
		TimeoutHeight: uint64(height) + 100,
	}, func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }, msgs...)
	if err != nil {
		return err
	}
	r, err := c.BroadcastAndWait(ctx, tx)
	if err != nil {
		return err
	}
	return d.waitApplied(ctx, r.Height)
}

// waitCaughtUp waits until no validator is still catching up. A node
// fetches blocks from its peers before it joins consensus, and until then
// CometBFT refuses every broadcast through it ("endpoint is closed while
// node is catching up"); on a loaded machine a node can stay there for
// seconds after the others have made blocks.
func (d *Demo) waitCaughtUp(ctx context.Context) error {
	for i, c := range d.Clients {
		for {
			st, err := c.RPC.Status(ctx)
			if err == nil && !st.SyncInfo.CatchingUp {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s was still catching up with its peers at the deadline: %w", d.M.Validators()[i].Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// waitApplied waits until every node's application has committed height,
// so the next step may be sent through any node and see this one's effect.
func (d *Demo) waitApplied(ctx context.Context, height int64) error {
	for _, c := range d.Clients {
		for {
			info, err := c.RPC.ABCIInfo(ctx)
			if err == nil && info.Response.LastBlockHeight >= height {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("a node had not applied block %d before the deadline: %w", height, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// AddMember is the message by which an admin of agencyID adds the demo key
// keyName (created when missing) with roles, with the key's proof of
// possession signed by that key.
func (d *Demo) AddMember(keyName, agencyID string, roles ...agencyv1.Role) (*txv1.Msg, error) {
	pub, err := d.Key(keyName)
	if err != nil {
		return nil, err
	}
	return client.AddMemberSigned(func(b []byte) ([]byte, error) { return d.Keys.Sign(keyName, b) }, d.M.ChainID, agencyID, pub, roles...)
}

// Key returns the demo key keyName, creating it when missing.
func (d *Demo) Key(keyName string) (ed25519.PublicKey, error) {
	if _, err := d.Keys.Show(keyName); err != nil {
		if _, err := d.Keys.Add(keyName); err != nil {
			return nil, err
		}
	}
	priv, err := d.Keys.PrivKey(keyName)
	if err != nil {
		return nil, err
	}
	return priv.Public().(ed25519.PublicKey), nil
}

// NameAccount is the message by which an admin names the demo key
// keyName's account as a desk of agencyID ("HM Treasury internal audit").
func (d *Demo) NameAccount(keyName, agencyID, desk string) (*txv1.Msg, error) {
	pub, err := d.Key(keyName)
	if err != nil {
		return nil, err
	}
	return &txv1.Msg{Sum: &txv1.Msg_SetAccountName{SetAccountName: &agencyv1.MsgSetAccountName{
		Address: keys.AddressOf(pub), DisplayName: deskName(agencyName(agencyID), desk)}}}, nil
}

// agencyName is the name a demo agency has in genesis.
func agencyName(id string) string {
	for _, s := range slices.Concat(validatorSeats, otherAgencies) {
		if s.id == id {
			return s.name
		}
	}
	return id
}

// agencyDemo: each agency's admin takes on an auditor and names the
// account "<agency> internal audit", through a different agency's node
// each time.
func agencyDemo(ctx context.Context, d *Demo) error {
	nodes := d.M.Validators()
	for i, n := range nodes {
		name := n.Agency + "-auditor"
		msg, err := d.AddMember(name, n.Agency, agencyv1.Role_ROLE_AUDITOR)
		if err != nil {
			return err
		}
		named, err := d.NameAccount(name, n.Agency, "auditor")
		if err != nil {
			return err
		}
		if err := d.Send(ctx, i+1, n.Agency+"-admin", msg, named); err != nil {
			return err
		}
		d.Log("%s took on an auditor (%s) and named the account %q, sent through %s's node", n.Agency, name,
			named.GetSetAccountName().DisplayName, nodes[(i+1)%len(nodes)].Name)
	}
	return nil
}
