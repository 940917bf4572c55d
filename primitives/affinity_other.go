//go:build !linux

package primitives

import "runtime"

// AllowedCPUs returns 0..runtime.NumCPU()-1: this system exposes no affinity
// mask to the module.
func AllowedCPUs() ([]int, error) {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus, nil
}

// PinThread reports ErrPinUnsupported on this system.
func PinThread(cpuID int) error { return ErrPinUnsupported }

// PinSupported reports whether PinThread can bind threads on this system.
const PinSupported = false
