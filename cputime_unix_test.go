//go:build unix

package warden_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: on a
// machine shared with other work, CPU time per operation varies far less
// than wall time, which counts the time other processes held the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
