package app

import (
	"syscall"
	"time"
)

// systemCPU reads CPU times from Linux: getrusage for the process, the
// scheduler's statistics for the calling thread.
type systemCPU struct{}

func (systemCPU) process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// thread reads /proc/thread-self/schedstat: nanoseconds run, nanoseconds
// waited on a run queue, time slices.
func (systemCPU) thread() (ran, waited time.Duration, ok bool) {
	fd, err := syscall.Open("/proc/thread-self/schedstat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, false
	}
	var buf [96]byte
	n, err := syscall.Read(fd, buf[:])
	_ = syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	return parseSchedstat(buf[:n])
}

func (systemCPU) threadID() int64 { return int64(syscall.Gettid()) }

// stalled reads /proc/pressure/cpu's first line, "some avg10=1.23 ...".
func (systemCPU) stalled() (int64, bool) {
	fd, err := syscall.Open("/proc/pressure/cpu", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	_ = syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, false
	}
	return parsePressure(buf[:n])
}
