package primitives

import (
	"math/bits"
	"sync/atomic"
)

// SetBit atomically sets bit i (0..63) of *a and returns its previous value.
// Bits outside 0..63 panic.
func SetBit(a *atomic.Uint64, i uint) bool {
	m := bitMask(i)
	return a.Or(m)&m != 0
}

// ClearBit atomically clears bit i of *a and returns its previous value.
func ClearBit(a *atomic.Uint64, i uint) bool {
	m := bitMask(i)
	return a.And(^m)&m != 0
}

// ToggleBit atomically flips bit i of *a and returns its previous value.
func ToggleBit(a *atomic.Uint64, i uint) bool {
	m := bitMask(i)
	for {
		old := a.Load()
		if a.CompareAndSwap(old, old^m) {
			return old&m != 0
		}
	}
}

// TestBit reports whether bit i of *a is set.
func TestBit(a *atomic.Uint64, i uint) bool { return a.Load()&bitMask(i) != 0 }

// FindFirstSet returns the index of the lowest set bit of x, or -1 when x is
// zero.
func FindFirstSet(x uint64) int {
	if x == 0 {
		return -1
	}
	return bits.TrailingZeros64(x)
}

func bitMask(i uint) uint64 {
	if i > 63 {
		panic("primitives: bit index out of range")
	}
	return 1 << i
}
