package app

import agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"

// anyActiveAccount marks a message any active account may send on its own
// behalf (rotating its own key, for example). Every other message names
// the role it needs in its module's route table (route_<module>.go), read
// through RequiredRole.
const anyActiveAccount = agencyv1.Role_ROLE_UNSPECIFIED
