package load

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Account is a signing account the load generator controls. Its private key
// lives only in memory.
type Account struct {
	Address []byte
	PubKey  ed25519.PublicKey
	priv    ed25519.PrivateKey
	// ChainID and AgencyID are the chain and agency the account signs in,
	// for key proofs of members it adds.
	ChainID  string
	AgencyID string
}

// MsgFunc builds one message signed by signer. r is the calling worker's
// own random source (not safe for concurrent use; do not keep it). Every
// message it builds must be valid for a load account, which holds the
// admin role in the agency of the --from key, so that a tx refused or
// failed is a finding, not noise.
type MsgFunc func(signer *Account, r *rand.Rand) (*txv1.Msg, error)

// msgFuncs is the mix vocabulary. A module adds its entry here (name as
// used by --mix → builder). If an entry needs state prepared in the setup
// phase (funds to move, a programme to enrol in), extend setup in load.go.
var msgFuncs = map[string]MsgFunc{
	// Adds a member with a fresh random key and the auditor role, which
	// any agency kind may hold: always valid, and grows state like real
	// onboarding does.
	"add_member": func(signer *Account, r *rand.Rand) (*txv1.Msg, error) {
		var seed [ed25519.SeedSize]byte
		for i := 0; i < len(seed); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				seed[i+j] = byte(v >> (8 * j))
			}
		}
		return client.AddMember(signer.ChainID, signer.AgencyID, ed25519.NewKeyFromSeed(seed[:]), agencyv1.Role_ROLE_AUDITOR), nil
	},
}

// BuildMsg builds one message of the named mix entry, as a worker would.
func BuildMsg(name string, signer *Account, r *rand.Rand) (*txv1.Msg, error) {
	f, ok := msgFuncs[name]
	if !ok {
		return nil, fmt.Errorf("unknown message type %q; known: %s", name, strings.Join(MsgNames(), ", "))
	}
	return f(signer, r)
}

// MsgNames lists the message types a mix may name, sorted.
func MsgNames() []string {
	names := make([]string, 0, len(msgFuncs))
	for n := range msgFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MixEntry is one message type of a mix with its relative weight.
type MixEntry struct {
	Name   string
	Weight int
}

// DefaultMix is what a run sends when Config.Mix is empty.
var DefaultMix = []MixEntry{{Name: "add_member", Weight: 1}}

// ParseMix parses "name[=weight],..." (for example "add_member" or
// "add_member=3,transfer=1"); a name without a weight weighs 1.
func ParseMix(s string) ([]MixEntry, error) {
	var out []MixEntry
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("mix entry %q: weight must be a positive integer", part)
			}
			weight = n
		}
		if _, ok := msgFuncs[name]; !ok {
			return nil, fmt.Errorf("mix entry %q: unknown message type; known: %s", name, strings.Join(MsgNames(), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("mix entry %q named twice", name)
		}
		seen[name] = true
		out = append(out, MixEntry{Name: name, Weight: weight})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty mix; known message types: %s", strings.Join(MsgNames(), ", "))
	}
	return out, nil
}

// MixString renders a mix as ParseMix reads it.
func MixString(mix []MixEntry) string {
	parts := make([]string, len(mix))
	for i, e := range mix {
		parts[i] = e.Name + "=" + strconv.Itoa(e.Weight)
	}
	return strings.Join(parts, ",")
}

// picker chooses a mix entry by weight.
type picker struct {
	funcs []MsgFunc
	cum   []int
	total int
}

func newPicker(mix []MixEntry) (*picker, error) {
	p := &picker{}
	for _, e := range mix {
		f, ok := msgFuncs[e.Name]
		if !ok {
			return nil, fmt.Errorf("unknown message type %q in mix; known: %s", e.Name, strings.Join(MsgNames(), ", "))
		}
		if e.Weight < 1 {
			return nil, fmt.Errorf("mix entry %q: weight must be positive", e.Name)
		}
		p.total += e.Weight
		p.funcs = append(p.funcs, f)
		p.cum = append(p.cum, p.total)
	}
	if len(p.funcs) == 0 {
		return nil, fmt.Errorf("empty mix")
	}
	return p, nil
}

func (p *picker) pick(r *rand.Rand) MsgFunc {
	n := r.IntN(p.total)
	for i, c := range p.cum {
		if n < c {
			return p.funcs[i]
		}
	}
	return p.funcs[len(p.funcs)-1]
}
