package module

import (
	"fmt"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// MaxShown bounds the problems one invariant check spells out in its
// detail; the rest are only counted.
const MaxShown = 10

// NewCheck starts an invariant check that passes until Failf records a
// problem. rule says, for a person, what the check promises.
func NewCheck(name, rule string) *appv1.InvariantCheck {
	return &appv1.InvariantCheck{Name: name, Rule: rule, Ok: true}
}

// Failf records one problem a check found.
func Failf(c *appv1.InvariantCheck, format string, args ...any) {
	c.Ok = false
	c.Problems++
	if c.Problems <= MaxShown {
		if c.Detail != "" {
			c.Detail += "; "
		}
		c.Detail += fmt.Sprintf(format, args...)
	}
}
