//go:build !unix

package load

// cpuSeconds is -1: this system's CPU time is not read.
func cpuSeconds() float64 { return -1 }
