//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package pool

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// physicalMemory returns the machine's RAM in bytes, or 0.
func physicalMemory() int64 {
	name := "hw.physmem"
	if runtime.GOOS == "darwin" {
		name = "hw.memsize"
	}
	v, err := unix.SysctlUint64(name)
	if err != nil {
		return 0
	}
	return int64(v)
}

// cgroupLimit: no cgroups here.
func cgroupLimit() int64 { return 0 }
