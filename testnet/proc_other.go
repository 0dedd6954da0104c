//go:build !linux

package testnet

import "syscall"

// childAttrs puts each node in its own process group, so a Ctrl-C at the
// terminal reaches only the supervisor, which stops the nodes in order.
func childAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
