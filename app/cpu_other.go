//go:build !linux

package app

import "time"

// systemCPU, where the system does not say: no process or thread CPU
// times, so readers are charged wall time against a share of a core (the
// whole "CPU a thread could have had" is assumed spare).
type systemCPU struct{}

func (systemCPU) process() time.Duration                       { return 0 }
func (systemCPU) thread() (ran, waited time.Duration, ok bool) { return 0, 0, false }
func (systemCPU) threadID() int64                              { return 1 }
func (systemCPU) stalled() (int64, bool)                       { return 0, false }
