package pool

import (
	"sync"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
)

// smallSource hands out slabs for small blocks from the current small chunk
// of an arena. Not synchronized: the concurrent levels use it under their
// growth mutex.
type smallSource struct {
	cur, end Offset // the rest of the current small chunk
	chunks   int64  // small chunks taken
}

// carve returns the slab [lo, hi): a multiple of n bytes, at most want and at
// least n. When the current chunk has less than n bytes left it starts a new
// one and returns the old chunk's remainder as [tlo, thi), which the caller
// must put on the free lists. When the arena cannot grow it first gives the
// huge heap's spare region back.
func (s *smallSource) carve(a *arena, h *hugeHeap, n, want Offset) (lo, hi, tlo, thi Offset, err error) {
	if s.end-s.cur < n {
		first, err := a.take(1, true)
		if err != nil && h.spare != nil {
			h.dropSpare()
			first, err = a.take(1, true)
		}
		if err != nil {
			return 0, 0, 0, 0, err
		}
		tlo, thi = s.cur, s.end
		s.cur, s.end = a.firstOffset(first), Offset(first+1)<<a.shift
		s.chunks++
	}
	got := min(want, (s.end-s.cur)/n*n)
	lo = s.cur
	s.cur += got
	return lo, lo + got, tlo, thi, nil
}

// slabBytes is how much a size class takes from the shared chunk at a time:
// 16 blocks, at least 16 KiB, at most a chunk.
func slabBytes(a *arena, n Offset) Offset {
	return max(n, min(max(16*n, 16<<10), Offset(a.chunkSize)/2)/n*n)
}

// smallFree is the Free bytes of the small chunks: their memory less the
// blocks in use, the untouched remainders and the nil unit.
func smallFree(a *arena, chunks, inUse, untouched int64) int64 {
	f := chunks<<a.shift - inUse - untouched
	if a.zeroSmall {
		f -= a.align
	}
	return f
}

// tptr returns a pointer to the byte at off through a published table.
func tptr(t *table, shift uint, off Offset) unsafe.Pointer {
	// Safety: off is a block (or free-list link) of a chunk in t, so the
	// pointer stays inside that chunk's allocation; every slot below the
	// table's length has ChunkSize bytes (see arena.release). Callers read
	// and write the 8-byte link word through it: blocks are aligned to at
	// least 8 and at least 8 bytes long.
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.chunks[off>>(shift&63)])), off&(1<<(shift&63)-1))
}

// tbytes is Bytes through a published table.
func tbytes(t *table, shift uint, off Offset, size int) []byte {
	in := uint64(off) & (1<<(shift&63) - 1)
	end := in + uint64(size)
	return t.chunks[off>>(shift&63)][in:end:end]
}

// loadLinkRacy reads the free-list link word at p: the first 8 bytes of a
// free block (blocks are aligned to at least 8).
//
// Safety: in a Treiber-stack pop the link is read from the block at the head
// after the head was loaded, and by then another goroutine may have popped
// the same block and be writing user data into it (it then changes the
// head's generation, so this pop's CAS fails and the value read is thrown
// away; a torn read is thrown away the same way). The read is therefore a
// benign race, and it is the only one: it must not be reported by the race
// detector, which flags an atomic read against the user's plain writes just
// as it flags a plain one. go:norace keeps this one load out of the
// detector's view; every other access to block memory stays checked. When
// the CAS succeeds, no other pop of this block came between, and the link
// was written before the push that published it (the push's CAS, which the
// pop's head load observed, orders it).
//
//go:norace
func loadLinkRacy(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

// pad rounds a per-class struct up to whole cache lines.
const lineSize = uintptr(primitives.CacheLineSize)

// slabRef is a bump range [*bump, *end) of a reclaim walk.
type slabRef struct{ bump, end *Offset }

// reclaimSmall gives back to the arena every small chunk whose memory is all
// free: on the free lists (heads[i] is the list of class i) or in the bump
// ranges of slabs. Blocks of those chunks are unlinked from the lists and
// bump ranges in them emptied, so that the memory can serve any size again
// (a huge region, another class). Memory in no list and no slab (live
// blocks, or ranges a goroutine is about to push) keeps its chunk. It
// returns the number of chunks released. The caller must own every list and
// slab (hold their locks) and the arena; it runs only when the arena is
// exhausted, and costs a walk of every free list.
func reclaimSmall(a *arena, heads []*Offset, slabs []slabRef) int {
	t := a.pub.Load() // acquire: the chunk table (the caller holds g)
	link := func(off Offset) *Offset { return (*Offset)(tptr(t, a.shift, off)) }
	free := make(map[Offset]int64)
	for i, h := range heads {
		n := int64(i+1) << a.alignShift
		for off := *h; off != 0; off = *link(off) {
			free[off>>a.shift] += n
		}
	}
	for _, s := range slabs {
		if *s.end > *s.bump {
			free[*s.bump>>a.shift] += int64(*s.end - *s.bump)
		}
	}
	dead := make(map[Offset]bool)
	for ci, f := range free {
		usable := a.chunkSize
		if ci == 0 {
			usable -= a.align
		}
		if f == usable {
			dead[ci] = true
		}
	}
	if len(dead) == 0 {
		return 0
	}
	for _, h := range heads {
		prev := h
		for off := *h; off != 0; {
			next := *link(off)
			if dead[off>>a.shift] {
				*prev = next
			} else {
				prev = link(off)
			}
			off = next
		}
	}
	for _, s := range slabs {
		if *s.end > *s.bump && dead[*s.bump>>a.shift] {
			*s.bump, *s.end = 0, 0
		}
	}
	for ci := range dead {
		a.release(int(ci), 1)
	}
	return len(dead)
}

// growth is the state the Mutex, FixedCapacity and LockFree levels share
// behind their growth mutex g: the arena, the huge-block heap, the source of
// small slabs and the huge-block counters.
type growth struct {
	g          sync.Mutex
	a          arena
	huge       hugeHeap
	src        smallSource
	hugeAllocs uint64
	hugeFrees  uint64
}

// allocHuge allocates a huge block under g.
func (p *growth) allocHuge(cfg *Config, size int) (Offset, error) {
	if err := checkSize(cfg, size); err != nil {
		return 0, err
	}
	p.g.Lock()
	defer p.g.Unlock()
	off, err := p.huge.alloc(size)
	if err == nil {
		p.hugeAllocs++
	}
	return off, err
}

// freeHuge frees a huge block under g.
func (p *growth) freeHuge(cfg *Config, off Offset, size int) error {
	if err := checkSize(cfg, size); err != nil {
		return err
	}
	p.g.Lock()
	defer p.g.Unlock()
	err := p.huge.free(off, size)
	if err == nil {
		p.hugeFrees++
	}
	return err
}

// finishStats completes s, whose small-class counters the caller summed
// (inUse and untouched bytes of the classes), with the growth state, under
// g.
func (p *growth) finishStats(s *Stats, inUse, untouched int64) {
	p.g.Lock()
	defer p.g.Unlock()
	s.Allocs += p.hugeAllocs
	s.Frees += p.hugeFrees
	s.Capacity = p.a.capacity
	s.Chunks = p.a.slots
	s.HugeBytes, s.HugeCount = p.huge.liveBytes, p.huge.liveCount
	untouched += int64(p.src.end - p.src.cur)
	s.InUse = inUse + p.huge.liveBytes
	s.Untouched = untouched + p.a.idleBytes()
	s.Free = smallFree(&p.a, p.src.chunks, inUse, untouched) + p.huge.freeBytes
	s.Fragment = s.Capacity - s.InUse - s.Free - s.Untouched
}
