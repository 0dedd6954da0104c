package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// Trust is the light client's root of trust for state sync: a block
// height and its hash, read from a node the operator trusts.
type Trust struct {
	Height int64
	Hash   []byte
}

// StateSyncTrust asks the node serving RPC at rpcAddr (tcp://host:port or
// unix://path) for its latest committed block: the height and hash a new
// node's light client starts from.
func StateSyncTrust(ctx context.Context, rpcAddr string) (Trust, error) {
	c, err := rpchttp.New(rpcAddr, "/websocket")
	if err != nil {
		return Trust{}, fmt.Errorf("state sync: RPC client for %s: %w", rpcAddr, err)
	}
	res, err := c.Commit(ctx, nil)
	if err != nil {
		return Trust{}, fmt.Errorf("state sync: asking %s for its latest block: %w", rpcAddr, err)
	}
	if res.SignedHeader.Header == nil || res.Height <= 0 {
		return Trust{}, fmt.Errorf("state sync: %s has no committed block yet", rpcAddr)
	}
	return Trust{Height: res.Height, Hash: res.Hash()}, nil
}

// stateSyncDiscovery is how long the node listens for peers' snapshots
// before it picks one (CometBFT's minimum: every peer answers within it on
// a healthy network; 15 s, CometBFT's default, only adds to every join).
const stateSyncDiscovery = 5 * time.Second

// stateSyncTrustPeriod is how long the trusted block stays trusted: less
// than the evidence max_age_duration (48 h by default), within which a
// validator that signed a false header can still be punished.
const stateSyncTrustPeriod = 24 * time.Hour

// EnableStateSync makes the node in home join by state sync when it first
// starts with empty state: it fetches a recent snapshot from its peers,
// checks it against trust with CometBFT's light client, which reads
// headers from rpcServers (two or more; the first is the primary, the
// others witnesses; one server is given twice), and then catches up by
// block sync. A node that already has blocks ignores it.
func EnableStateSync(home string, rpcServers []string, trust Trust) error {
	var servers []string
	for _, s := range rpcServers {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	switch {
	case len(servers) == 0:
		return errors.New("state sync: give at least one RPC server of a node of the network")
	case trust.Height <= 0 || len(trust.Hash) == 0:
		return errors.New("state sync: the trusted height and hash are missing")
	case len(servers) == 1:
		servers = append(servers, servers[0])
	}
	comet, appCfg, err := LoadConfigs(home)
	if err != nil {
		return err
	}
	ss := comet.StateSync
	ss.Enable = true
	ss.RPCServers = servers
	ss.TrustHeight = trust.Height
	ss.TrustHash = strings.ToUpper(hex.EncodeToString(trust.Hash))
	ss.TrustPeriod = stateSyncTrustPeriod
	ss.DiscoveryTime = stateSyncDiscovery
	if err := ss.ValidateBasic(); err != nil {
		return fmt.Errorf("state sync: %w", err)
	}
	return WriteConfigs(home, comet, appCfg)
}
