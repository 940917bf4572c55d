//go:build !linux || zipora_nofutex

package primitives

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// futexImpl names the implementation in benchmarks and tests.
const futexImpl = "fallback"

// The fallback keeps waiters in a fixed table of buckets hashed by the word's
// address, each a mutex and a FIFO list of waiters, each waiter a channel.
//
// Missed-wakeup argument: a waiter compares the word with expected while
// holding its bucket's mutex and enqueues itself before unlocking; a waker
// changes the word before calling Wake, and Wake takes the same mutex. So
// either the waiter's comparison sees the new value (and it does not sleep)
// or it enqueued itself before Wake scanned the bucket (and Wake finds it).
//
// Rejected: a sync.Cond per Futex (the zero Futex must stay a plain word, and
// a Cond cannot time out), and polling (burns CPU).

const fallbackBuckets = 256

type futexWaiter struct {
	addr *atomic.Uint32
	ch   chan struct{} // closed by the waker
	next *futexWaiter
	prev *futexWaiter
}

type futexBucket struct {
	mu         sync.Mutex
	head, tail *futexWaiter
	_          [64]byte // keep buckets' mutexes on separate cache lines
}

var futexTable [fallbackBuckets]futexBucket

func bucketFor(addr *atomic.Uint32) *futexBucket {
	// Safety: the address is only hashed, never dereferenced through uintptr.
	a := uintptr(unsafe.Pointer(addr))
	h := (a >> 2) * 0x9E3779B97F4A7C15
	return &futexTable[h>>(unsafe.Sizeof(h)*8-8)]
}

func (b *futexBucket) remove(w *futexWaiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		b.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		b.tail = w.prev
	}
	w.next, w.prev = nil, nil
}

func futexWait(addr *atomic.Uint32, expected uint32, timeout time.Duration) error {
	b := bucketFor(addr)
	b.mu.Lock()
	if addr.Load() != expected {
		b.mu.Unlock()
		return nil
	}
	w := &futexWaiter{addr: addr, ch: make(chan struct{})}
	w.prev = b.tail
	if b.tail != nil {
		b.tail.next = w
	} else {
		b.head = w
	}
	b.tail = w
	b.mu.Unlock()

	if timeout == 0 {
		<-w.ch
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.ch:
		return nil
	case <-t.C:
	}
	b.mu.Lock()
	select {
	case <-w.ch:
		// Woken between the timer firing and taking the lock: the wake counts.
		b.mu.Unlock()
		return nil
	default:
	}
	b.remove(w)
	b.mu.Unlock()
	return ErrTimeout
}

func futexWake(addr *atomic.Uint32, n int) int {
	b := bucketFor(addr)
	b.mu.Lock()
	woken := 0
	for w := b.head; w != nil && woken < n; {
		next := w.next
		if w.addr == addr {
			b.remove(w)
			close(w.ch)
			woken++
		}
		w = next
	}
	b.mu.Unlock()
	return woken
}
