//go:build !linux

package trie

import "time"

var cpuEpoch = time.Now()

// threadCPU falls back to wall-clock time where the thread's CPU clock is
// not read.
func threadCPU() time.Duration { return time.Since(cpuEpoch) }
