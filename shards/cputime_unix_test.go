//go:build unix

package shards_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) of the whole process. The
// benchmarks report it per key beside wall-clock rates because the shared
// 2-core machine they run on is usually loaded by other work.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
