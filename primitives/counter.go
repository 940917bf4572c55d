package primitives

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Counter is a 64-bit atomic counter alone on its cache line, so that
// updating it never slows down a neighbouring variable (false sharing).
//
// The zero value is a counter at 0, ready to use. A Counter must not be
// copied after first use. Operations are sequentially consistent atomics:
// an Add happens-before any Load that observes its effect.
type Counter struct {
	v atomic.Int64 // seq-cst: the count
	_ [CacheLineSize - int(unsafe.Sizeof(atomic.Int64{}))]byte
}

// Add adds delta and returns the new value.
func (c *Counter) Add(delta int64) int64 { return c.v.Add(delta) }

// Inc adds one and returns the new value.
func (c *Counter) Inc() int64 { return c.v.Add(1) }

// Load returns the current value.
func (c *Counter) Load() int64 { return c.v.Load() }

// Store sets the value.
func (c *Counter) Store(v int64) { c.v.Store(v) }

// Swap sets the value and returns the previous one.
func (c *Counter) Swap(v int64) int64 { return c.v.Swap(v) }

// StripedCounter is a counter for hot paths updated by many goroutines at
// once: updates are spread over cache-line-padded stripes and Value sums
// them.
//
// Value is not linearizable: it sums the stripes one after another, so with
// concurrent updates it may return a total that never existed at any single
// instant (it is exact once updates stop; every completed Add is counted).
// Use Counter where a consistent snapshot matters.
//
// The zero value is not usable; call NewStripedCounter. A StripedCounter must
// not be copied.
type StripedCounter struct {
	stripes []Counter
	mask    uint32
}

// NewStripedCounter returns a counter with at least stripes stripes, rounded
// up to a power of two; stripes <= 0 picks 2×GOMAXPROCS (at most 256).
func NewStripedCounter(stripes int) *StripedCounter {
	if stripes <= 0 {
		stripes = min(2*runtime.GOMAXPROCS(0), 256)
	}
	n := 1
	for n < stripes {
		n <<= 1
	}
	return &StripedCounter{stripes: make([]Counter, n), mask: uint32(n - 1)}
}

// Add adds delta to one stripe, chosen by the calling goroutine's stack
// address: a goroutine keeps hitting the same stripe, and different
// goroutines spread over the stripes, at the cost of a multiply.
func (s *StripedCounter) Add(delta int64) {
	var probe byte
	// Safety: the address of a stack byte is only hashed, never turned back
	// into a pointer; if the stack moves, the goroutine merely changes stripe.
	h := uint64(uintptr(unsafe.Pointer(&probe))>>12) * 0x9E3779B97F4A7C15
	s.stripes[uint32(h>>32)&s.mask].v.Add(delta)
}

// Inc adds one.
func (s *StripedCounter) Inc() { s.Add(1) }

// Value returns the sum of the stripes (not linearizable; see the type).
func (s *StripedCounter) Value() int64 {
	var sum int64
	for i := range s.stripes {
		sum += s.stripes[i].v.Load()
	}
	return sum
}

// Reset sets every stripe to zero. Adds concurrent with Reset may or may not
// be counted.
func (s *StripedCounter) Reset() {
	for i := range s.stripes {
		s.stripes[i].v.Store(0)
	}
}

// Flag is an atomic boolean whose Set and Clear report the previous state,
// so exactly one of several racing goroutines sees the transition.
//
// The zero value is a cleared flag, ready to use. A Flag must not be copied
// after first use. A Set happens-before any IsSet that observes it.
type Flag struct {
	b atomic.Bool // seq-cst: the state
}

// Set sets the flag and returns whether it was already set.
func (f *Flag) Set() bool { return f.b.Swap(true) }

// Clear clears the flag and returns whether it was set.
func (f *Flag) Clear() bool { return f.b.Swap(false) }

// IsSet reports whether the flag is set.
func (f *Flag) IsSet() bool { return f.b.Load() }

// ordered are the integer types the max/min helpers accept.
type ordered interface {
	~int32 | ~int64 | ~uint32 | ~uint64 | ~uintptr
}

// atomicOrdered is the method set of the typed atomics (atomic.Int32,
// atomic.Int64, atomic.Uint32, atomic.Uint64, atomic.Uintptr).
type atomicOrdered[T ordered] interface {
	Load() T
	CompareAndSwap(old, new T) bool
}

// StoreMax atomically raises *a to v if v is larger and returns the value it
// held before (a CAS loop; it never lowers the value).
//
//	var hi atomic.Int64
//	primitives.StoreMax(&hi, n)
func StoreMax[T ordered, A atomicOrdered[T]](a A, v T) (prev T) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return old
		}
	}
}

// StoreMin atomically lowers *a to v if v is smaller and returns the value it
// held before (a CAS loop; it never raises the value).
func StoreMin[T ordered, A atomicOrdered[T]](a A, v T) (prev T) {
	for {
		old := a.Load()
		if v >= old || a.CompareAndSwap(old, v) {
			return old
		}
	}
}
