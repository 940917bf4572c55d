//go:build linux && !zipora_nofutex

package primitives

import (
	"math"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// x/sys/unix exposes SYS_FUTEX but not the operation constants.
const (
	futexWaitPrivate = 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 129 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// futexImpl names the implementation in benchmarks and tests.
const futexImpl = "linux-futex"

// futexWait blocks in futex(2). It must go through unix.Syscall6 (which tells
// the Go scheduler the thread is blocked, so its P is handed to another
// thread), never RawSyscall6: a raw blocking call keeps its P and with
// GOMAXPROCS=1 hangs the whole process.
func futexWait(addr *atomic.Uint32, expected uint32, timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var tsp *unix.Timespec
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrTimeout
			}
			ts := unix.NsecToTimespec(int64(left))
			tsp = &ts
		}
		// Safety: addr points into a heap-allocated or struct-embedded
		// atomic.Uint32 (Futex.word), which the garbage collector never moves;
		// tsp is live for the duration of the call.
		_, _, errno := unix.Syscall6(unix.SYS_FUTEX,
			uintptr(unsafe.Pointer(addr)), futexWaitPrivate, uintptr(expected),
			uintptr(unsafe.Pointer(tsp)), 0, 0)
		switch errno {
		case 0, unix.EAGAIN:
			// Woken (possibly spuriously), or the word had already changed.
			return nil
		case unix.ETIMEDOUT:
			if time.Until(deadline) > 0 {
				continue // the kernel's clock ran slightly ahead of ours
			}
			return ErrTimeout
		case unix.EINTR:
			if addr.Load() != expected {
				return nil
			}
			continue
		default:
			panic("primitives: futex wait: " + syscall.Errno(errno).Error())
		}
	}
}

func futexWake(addr *atomic.Uint32, n int) int {
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	for {
		// Safety: see futexWait; FUTEX_WAKE only uses the address as a key.
		r, _, errno := unix.Syscall6(unix.SYS_FUTEX,
			uintptr(unsafe.Pointer(addr)), futexWakePrivate, uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			return int(r)
		case unix.EINTR:
			continue
		default:
			panic("primitives: futex wake: " + syscall.Errno(errno).Error())
		}
	}
}
