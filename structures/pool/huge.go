package pool

import (
	"fmt"
	"math/bits"
)

// hugeHeap allocates blocks above MaxFastBlock from huge regions (runs of
// chunk slots taken from the arena): best fit over free spans binned by
// log2 of their size, with coalescing of neighbouring free spans of the same
// region on free. When every block of a region is freed the region is kept
// as the one spare, or released to the arena (a growable arena drops the
// memory; a fixed one reuses it for anything). In a fixed arena, whose
// memory is one allocation, a new region next to an existing one is merged
// with it, so that free spans coalesce across the old boundary. Not
// synchronized: the concurrent levels call it under their growth mutex.
type hugeHeap struct {
	a        *arena
	bins     [64][]*hugeSpan
	byStart  map[Offset]*hugeSpan // free spans by first offset
	byEnd    map[Offset]*hugeSpan // free spans by end offset
	live     map[Offset]hugeBlock // live blocks by offset
	regFirst map[int]*hugeRegion  // region roots by first slot
	regEnd   map[int]*hugeRegion  // region roots by first slot + n
	spare    *hugeRegion          // a fully free region root kept for reuse

	liveBytes int64 // granted bytes of live blocks
	liveCount int64
	freeBytes int64 // bytes in free spans
	regBytes  int64 // bytes of all regions
}

// hugeRegion is a run of chunk slots. A region merged into a neighbour
// points to the merged region (parent); spans and blocks keep the region
// they were made in and resolve it with root.
type hugeRegion struct {
	first, n int    // chunk slots
	lo, hi   Offset // usable offsets
	parent   *hugeRegion
}

func (r *hugeRegion) root() *hugeRegion {
	for r.parent != nil {
		if r.parent.parent != nil {
			r.parent = r.parent.parent
		}
		r = r.parent
	}
	return r
}

type hugeSpan struct {
	off  Offset
	size int64
	reg  *hugeRegion
	bin  int
	idx  int
}

type hugeBlock struct {
	size    int   // requested size
	granted int64 // size rounded up to the alignment
	reg     *hugeRegion
}

func (h *hugeHeap) init(a *arena) {
	h.a = a
	h.byStart = make(map[Offset]*hugeSpan)
	h.byEnd = make(map[Offset]*hugeSpan)
	h.live = make(map[Offset]hugeBlock)
	h.regFirst = make(map[int]*hugeRegion)
	h.regEnd = make(map[int]*hugeRegion)
}

func binOf(size int64) int { return bits.Len64(uint64(size)) - 1 }

func (h *hugeHeap) insert(s *hugeSpan) {
	s.bin = binOf(s.size)
	s.idx = len(h.bins[s.bin])
	h.bins[s.bin] = append(h.bins[s.bin], s)
	h.byStart[s.off] = s
	h.byEnd[s.off+Offset(s.size)] = s
	h.freeBytes += s.size
}

func (h *hugeHeap) remove(s *hugeSpan) {
	b := h.bins[s.bin]
	last := b[len(b)-1]
	b[s.idx] = last
	last.idx = s.idx
	b[len(b)-1] = nil
	h.bins[s.bin] = b[:len(b)-1]
	delete(h.byStart, s.off)
	delete(h.byEnd, s.off+Offset(s.size))
	h.freeBytes -= s.size
}

// bestFit returns the smallest free span of at least need bytes in the
// request's bin, else the smallest span of the first non-empty larger bin.
func (h *hugeHeap) bestFit(need int64) *hugeSpan {
	for bin := binOf(need); bin < len(h.bins); bin++ {
		var best *hugeSpan
		for _, s := range h.bins[bin] {
			if s.size >= need && (best == nil || s.size < best.size || s.size == best.size && s.off < best.off) {
				best = s
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// alloc returns a huge block of size bytes.
func (h *hugeHeap) alloc(size int) (Offset, error) {
	need := (int64(size) + h.a.align - 1) &^ (h.a.align - 1)
	s := h.bestFit(need)
	if s == nil {
		if err := h.grow(need); err != nil {
			return 0, err
		}
		s = h.bestFit(need)
	}
	h.remove(s)
	r := s.reg.root()
	if r == h.spare {
		h.spare = nil
	}
	off := s.off
	if rest := s.size - need; rest > 0 {
		h.insert(&hugeSpan{off: off + Offset(need), size: rest, reg: r})
	}
	h.live[off] = hugeBlock{size: size, granted: need, reg: r}
	h.liveBytes += need
	h.liveCount++
	return off, nil
}

// grow adds a region large enough for need bytes (with a fixed arena, a
// region adjacent to existing ones: possibly fewer new slots).
func (h *hugeHeap) grow(need int64) error {
	a := h.a
	reserve := int64(0)
	if len(a.chunks) == 0 || len(a.holes) > 0 && a.holes[0].first == 0 {
		reserve = a.align // the region may start at slot 0
	}
	n := int((need + reserve + a.chunkSize - 1) >> a.shift)
	first, err := a.take(n, false)
	if err != nil && h.spare != nil {
		// A spare region too small for this block is worth giving back.
		h.dropSpare()
		first, err = a.take(n, false)
	}
	if err != nil {
		return err
	}
	r := &hugeRegion{first: first, n: n, lo: a.firstOffset(first), hi: Offset(first+n) << a.shift}
	if int64(r.hi-r.lo) < need { // slot 0 was not predicted; take one more slot
		a.release(first, n)
		r.n++
		if first, err = a.take(r.n, false); err != nil {
			return err
		}
		r.first, r.lo, r.hi = first, a.firstOffset(first), Offset(first+r.n)<<a.shift
	}
	h.regBytes += int64(r.n) << a.shift
	s := &hugeSpan{off: r.lo, size: int64(r.hi - r.lo), reg: r}
	h.regFirst[r.first] = r
	h.regEnd[r.first+r.n] = r
	if a.fixed {
		r = h.mergeNeighbours(r)
		s.reg = r
		h.coalesce(s, r) // with free spans at the old boundaries
	}
	h.insert(s)
	return nil
}

// coalesce merges the free span s of region r with the free spans of r
// that end where it starts and start where it ends.
func (h *hugeHeap) coalesce(s *hugeSpan, r *hugeRegion) {
	if p := h.byEnd[s.off]; p != nil && p.reg.root() == r {
		h.remove(p)
		s.off, s.size = p.off, p.size+s.size
	}
	if n := h.byStart[s.off+Offset(s.size)]; n != nil && n.reg.root() == r {
		h.remove(n)
		s.size += n.size
	}
}

// mergeNeighbours merges region r with the regions ending where it starts
// and starting where it ends (fixed arena only: contiguous memory) and
// returns the root.
func (h *hugeHeap) mergeNeighbours(r *hugeRegion) *hugeRegion {
	if prev := h.regEnd[r.first]; prev != nil {
		h.unregister(prev)
		h.unregister(r)
		prev.n += r.n
		prev.hi = r.hi
		r.parent = prev
		r = prev
		h.regFirst[r.first] = r
		h.regEnd[r.first+r.n] = r
	}
	if next := h.regFirst[r.first+r.n]; next != nil {
		h.unregister(next)
		h.unregister(r)
		r.n += next.n
		r.hi = next.hi
		next.parent = r
		h.regFirst[r.first] = r
		h.regEnd[r.first+r.n] = r
	}
	return r
}

func (h *hugeHeap) unregister(r *hugeRegion) {
	delete(h.regFirst, r.first)
	delete(h.regEnd, r.first+r.n)
	if h.spare == r {
		h.spare = nil
	}
}

// free returns a huge block; off and size must match a live block exactly.
func (h *hugeHeap) free(off Offset, size int) error {
	b, ok := h.live[off]
	if !ok {
		return fmt.Errorf("%w: offset %#x is not a live huge block", ErrInvalidFree, uint64(off))
	}
	if b.size != size {
		return fmt.Errorf("%w: huge block %#x was allocated with size %d, freed with %d", ErrInvalidFree, uint64(off), b.size, size)
	}
	delete(h.live, off)
	h.liveBytes -= b.granted
	h.liveCount--
	r := b.reg.root()
	s := &hugeSpan{off: off, size: b.granted, reg: r}
	h.coalesce(s, r)
	h.insert(s)
	if s.off == r.lo && s.off+Offset(s.size) == r.hi {
		h.regionIdle(s, r)
	}
	return nil
}

// regionIdle keeps one fully free region as the spare and releases the
// smaller of two.
func (h *hugeHeap) regionIdle(s *hugeSpan, r *hugeRegion) {
	switch {
	case h.spare == nil:
		h.spare = r
	case r.n > h.spare.n:
		h.dropSpare()
		h.spare = r
	default:
		h.releaseRegion(s, r)
	}
}

// dropSpare releases the spare region.
func (h *hugeHeap) dropSpare() {
	r := h.spare
	h.spare = nil
	if s := h.byStart[r.lo]; s != nil {
		h.releaseRegion(s, r)
	}
}

func (h *hugeHeap) releaseRegion(s *hugeSpan, r *hugeRegion) {
	h.remove(s)
	h.unregister(r)
	h.regBytes -= int64(r.n) << h.a.shift
	h.a.release(r.first, r.n)
}
