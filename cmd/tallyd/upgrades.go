package main

// rehearsalUpgrade, set at build time with
//
//	go build -ldflags "-X main.rehearsalUpgrade=NAME" ./cmd/tallyd
//
// makes this binary handle the scheduled upgrade NAME with a migration that
// changes nothing, so operators can rehearse an upgrade on a test network
// (node.RunOptions.RehearsalUpgrade).
var rehearsalUpgrade string
