package main

import (
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/x/module"
)

// rehearsalUpgrade, set at build time with
//
//	go build -ldflags "-X main.rehearsalUpgrade=NAME" ./cmd/tallyd
//
// makes this binary handle the scheduled upgrade NAME with a migration that
// changes nothing, so operators can rehearse an upgrade on a test network.
var rehearsalUpgrade string

// upgrades are the migrations this release runs, by upgrade name. A release
// that changes state incompatibly adds its handler here; the chain halts at
// the scheduled height until nodes run a binary that has it (see the
// README's "Upgrades" steps).
func upgrades() map[string]app.UpgradeHandler {
	m := map[string]app.UpgradeHandler{}
	if rehearsalUpgrade != "" {
		m[rehearsalUpgrade] = func(module.Context) error { return nil }
	}
	return m
}
