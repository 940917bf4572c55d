//go:build linux

package trie

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID): time the thread spent descheduled by other
// work on a shared machine does not count. Callers lock their goroutine to
// the thread (runtime.LockOSThread).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	// Safety: ts is a live Timespec the kernel fills; clock 3 is
	// CLOCK_THREAD_CPUTIME_ID.
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
