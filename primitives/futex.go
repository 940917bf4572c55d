package primitives

import (
	"sync/atomic"
	"time"
)

// Futex is a 32-bit word that goroutines can sleep on until another
// goroutine changes it and calls Wake.
//
// On Linux (without the zipora_nofutex build tag) Wait and Wake are the
// futex(2) FUTEX_WAIT_PRIVATE and FUTEX_WAKE_PRIVATE operations on the word.
// Elsewhere, a hashed table of wait queues gives the same semantics without
// ever busy-waiting.
//
// The zero value is a word holding 0 with no waiters, ready to use. A Futex
// must not be copied after first use: the kernel (or the fallback table)
// identifies waiters by the word's address. Because a Futex lives in a struct
// field or a heap allocation, its address is stable; never take a futex word
// from a stack variable in foreign code.
//
// Protocol: a waker first changes the word (Store, Add, CompareAndSwap), then
// calls Wake. A waiter calls Wait with the value it last observed; Wait
// sleeps only while the word still equals that value, so a change made before
// Wait is entered is never missed. Wait may return spuriously (nil without a
// Wake, for example on a signal): callers always re-check the word in a loop.
// A Store or Add that precedes a Wake happens-before the return of any Wait
// that Wake releases.
type Futex struct {
	word atomic.Uint32 // the futex word; every change is a seq-cst atomic
}

// Load atomically loads the word.
func (f *Futex) Load() uint32 { return f.word.Load() }

// Store atomically stores v into the word. It does not wake anybody.
func (f *Futex) Store(v uint32) { f.word.Store(v) }

// Add atomically adds delta to the word and returns the new value.
func (f *Futex) Add(delta uint32) uint32 { return f.word.Add(delta) }

// Swap atomically stores v and returns the previous value.
func (f *Futex) Swap(v uint32) uint32 { return f.word.Swap(v) }

// CompareAndSwap executes the compare-and-swap operation on the word.
func (f *Futex) CompareAndSwap(old, new uint32) bool { return f.word.CompareAndSwap(old, new) }

// Wait sleeps while the word equals expected, until a Wake, the timeout, or a
// spurious wake-up. A timeout of 0 waits without limit; a negative timeout
// returns ErrTimeout at once. Wait returns nil at once when the word does not
// equal expected, nil after a wake-up (possibly spurious), and ErrTimeout
// when the timeout elapsed first — never before it. Interrupted system calls
// (EINTR) and a changed word (EAGAIN) are handled inside and never surface.
func (f *Futex) Wait(expected uint32, timeout time.Duration) error {
	if timeout < 0 {
		return ErrTimeout
	}
	if f.word.Load() != expected {
		return nil
	}
	return futexWait(&f.word, expected, timeout)
}

// Wake wakes up to n goroutines sleeping in Wait on this word and returns how
// many it woke. n <= 0 wakes nobody.
func (f *Futex) Wake(n int) int {
	if n <= 0 {
		return 0
	}
	return futexWake(&f.word, n)
}
