package trie

import (
	"math/bits"
	"unsafe"
)

// values is the value-slot store: segments of doubling size (valSeg0,
// 2*valSeg0, 4*valSeg0, ...), so that growing never copies the values
// (a single growing slice costs a copy of every value and fresh memory
// each time it grows, which dominated inserts), and the number of heap
// objects stays logarithmic in the number of keys. Slot i lives in segment
// s = len(i+valSeg0)-1-valSeg0Bits at index i+valSeg0-(valSeg0<<s).
type values[V any] struct {
	segs [][]V
	n    uint32 // slots handed out (used or free)
}

const (
	valSeg0Bits = 10
	valSeg0     = 1 << valSeg0Bits
)

func valLoc(i uint32) (seg int, idx uint32) {
	j := uint64(i) + valSeg0
	seg = bits.Len64(j) - 1 - valSeg0Bits
	return seg, uint32(j - valSeg0<<seg)
}

// at returns slot i (which must have been handed out by push).
func (s *values[V]) at(i uint32) *V {
	seg, idx := valLoc(i)
	return &s.segs[seg][idx]
}

// push appends v in a new slot and returns its index.
func (s *values[V]) push(v V) uint32 {
	i := s.n
	seg, idx := valLoc(i)
	if seg == len(s.segs) {
		s.segs = append(s.segs, make([]V, valSeg0<<seg))
	}
	s.segs[seg][idx] = v
	s.n++
	return i
}

// len is the number of slots handed out.
func (s *values[V]) len() int { return int(s.n) }

// bytes is the Go memory of the segments.
func (s *values[V]) bytes() int {
	var zero V
	n := 0
	for _, g := range s.segs {
		n += len(g)
	}
	return n * int(unsafe.Sizeof(zero))
}
