//go:build linux

package primitives

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// AllowedCPUs returns, in ascending order, the CPUs the calling thread may
// run on (sched_getaffinity). Read it before pinning anything: a pinned
// thread reports only its own CPU.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("primitives: sched_getaffinity: %w", err)
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < set.Count(); i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}

// PinThread binds the calling OS thread to one CPU (sched_setaffinity).
//
// The caller must already hold its thread with runtime.LockOSThread and keep
// it locked until the goroutine exits: an unlocked thread with a narrowed
// mask would go back to the Go scheduler's pool and pass the mask on to
// threads it later creates. Letting a locked goroutine exit discards the
// thread, and its mask with it.
func PinThread(cpuID int) error {
	if cpuID < 0 || cpuID >= 64*len(unix.CPUSet{}) {
		return fmt.Errorf("%w: pin to CPU %d", ErrNoCPU, cpuID)
	}
	var set unix.CPUSet
	set.Set(cpuID)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("primitives: pin to CPU %d: %w", cpuID, err)
	}
	return nil
}

// PinSupported reports whether PinThread can bind threads on this system.
const PinSupported = true
