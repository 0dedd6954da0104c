package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// "--mix issue_receipt" (a space, not '=') leaves the type behind as an
// argument; the message says how to write it, instead of "unknown command".
func TestLoadNamesTheMixFormWhenGivenAnArgument(t *testing.T) {
	for args, want := range map[string][]string{
		"mix":  {"load", "--from", "admin", "--mix", "issue_receipt"},
		"bare": {"load", "--from", "admin", "issue_receipt"},
	} {
		root := rootCmd()
		var buf bytes.Buffer
		root.SetOut(&buf)
		root.SetErr(&buf)
		root.SetArgs(want)
		err := root.Execute()
		require.Error(t, err, args)
		require.Contains(t, err.Error(), `load takes no arguments, got "issue_receipt"`, args)
		if args == "mix" {
			require.Contains(t, err.Error(), "--mix=issue_receipt", args)
		}
	}
}
