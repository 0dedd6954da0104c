package testnet

import "syscall"

// childAttrs puts each node in its own process group, so a Ctrl-C at the
// terminal reaches only the supervisor, which stops the nodes in order;
// and asks the kernel to send SIGTERM to the node if the supervisor dies.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
