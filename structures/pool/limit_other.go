//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package pool

// physicalMemory is not read here: DefaultMaxBytes assumes fallbackMemory.
func physicalMemory() int64 { return 0 }

// cgroupLimit: no cgroups here.
func cgroupLimit() int64 { return 0 }
