package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/agency"
)

var agencyRoutes = moduleRoutes{
	name: "agency",
	query: func(a *App, q Query) (*abci.ResponseQuery, error) {
		switch q.Path {
		case api.PathAgency:
			if err := agency.ValidateAgencyID(string(q.Data)); err != nil {
				return nil, err
			}
			return a.single(api.AgencyKey(string(q.Data)), q.Height, q.Prove)
		case api.PathAccount:
			if len(q.Data) != agency.AddressSize {
				return nil, ErrInvalidQuery.Wrapf("an address is %d bytes; got %d", agency.AddressSize, len(q.Data))
			}
			return a.single(api.AccountKey(q.Data), q.Height, q.Prove)
		case api.PathMembers:
			arg := string(q.Data)
			if err := agency.ValidateAgencyID(arg); err != nil {
				return nil, err
			}
			return a.list(q)
		}
		return nil, ErrUnknownQuery.Wrapf("no agency query %s; paths are %s, %s, %s", api.Quote(q.Path), api.PathAgency, api.PathAccount, api.PathMembers)
	},
}
