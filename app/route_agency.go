package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/x/agency"
)

var agencyRoutes = moduleRoutes{
	name: "agency",
	query: func(a *App, q Query) (*abci.ResponseQuery, error) {
		switch q.Path {
		case PathAgency:
			if err := agency.ValidateAgencyID(string(q.Data)); err != nil {
				return nil, err
			}
			return a.single(agency.AgencyKey(string(q.Data)), q.Height, q.Prove)
		case PathAccount:
			if len(q.Data) != agency.AddressSize {
				return nil, ErrInvalidQuery.Wrapf("an address is %d bytes; got %d", agency.AddressSize, len(q.Data))
			}
			return a.single(agency.AccountKey(q.Data), q.Height, q.Prove)
		case PathMembers:
			arg, after := splitPage(q.Data)
			if err := agency.ValidateAgencyID(arg); err != nil {
				return nil, err
			}
			prefix := agency.MembersPrefix(arg)
			return a.list(prefix, after, q.Height, q.Prove, func(indexKey []byte) []byte {
				return agency.AccountKey(indexKey[len(prefix):])
			})
		}
		return nil, ErrUnknownQuery.Wrapf("no agency query %q; paths are %s, %s, %s", q.Path, PathAgency, PathAccount, PathMembers)
	},
}

// Agency query paths.
const (
	PathAgency  = "/agency/agency"  // data: agency id
	PathAccount = "/agency/account" // data: 20-byte address
	PathMembers = "/agency/members" // data: agency id [0x00 next_key]; each member account with its proof, a page at a time
)
