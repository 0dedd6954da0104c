//go:build !linux

package faults

import (
	"errors"
	"runtime"
	"time"
)

// Network namespaces are Linux only: Available says so, and NewNetLab
// fails before anything here is reached.

func nlInNetns(string, func() error) error {
	return errors.New("network namespaces need Linux, this is " + runtime.GOOS)
}

func nlPidAlive(int) bool { return true }

type nlDelayQueue struct{}

func (l *NetLab) startQueues() ([]*nlDelayQueue, error) {
	return nil, errors.New("NFQUEUE needs Linux")
}

func (l *NetLab) probeQueue() error { return errors.New("NFQUEUE needs Linux") }

func (q *nlDelayQueue) setDelay(time.Duration) {}

func (q *nlDelayQueue) close() {}
