// Package benefits runs benefit programmes: a programme's fund, the
// recipients enrolled on it, the payments made to them — scheduled ones at
// the end of the block they fall due in, and one-off ones — and the
// recovery of overpayments. Money moves through the funds module, so every
// payment traces back to an appropriation and forward to its settlement.
package benefits

import (
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/funds"
)

// Keeper is the benefits module's access to state. It holds no state of
// its own; it calls the agency and funds keepers.
type Keeper struct {
	Agency agency.Keeper
	Funds  funds.Keeper
}
