package pool

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Tagged words. A free-list head is generation<<unitBits | units, where units
// is the block's offset in alignment units (0: empty list); every successful
// push or pop adds one to the generation, so a head that was popped and
// pushed back between a pop's load and its CAS no longer compares equal (the
// ABA problem). A slab word is units<<slabCountBits | count: the next block
// of the class's slab and how many blocks are left in it.
const (
	unitMask      = 1<<unitBits - 1
	genOne        = 1 << unitBits
	slabCountBits = 24
	slabCountMask = 1<<slabCountBits - 1
)

// lfCore is the lock-free small-block machinery shared by LockFree and the
// central pool of ThreadLocal: per class, a Treiber stack of free blocks with
// a tagged head and a slab bumped with CAS. Only a slab refill (a new slab
// from the shared chunk, or a new chunk) and huge blocks take the growth
// mutex g.
type lfCore struct {
	cls []lfClass
	cfg Config

	g          sync.Mutex // growth: a, huge, src, huge counters, refills
	a          arena
	huge       hugeHeap
	src        smallSource
	hugeAllocs uint64
	hugeFrees  uint64

	// newSlab, when set, replaces src.carve as the source of slabs (the
	// ThreadLocal central pool carves from spans it owns).
	newSlab func(n, want Offset) (lo, hi, tlo, thi Offset, err error)
}

type lfClassData struct {
	head   atomic.Uint64 // tagged Treiber-stack head
	slab   atomic.Uint64 // units<<slabCountBits | blocks left
	allocs atomic.Uint64
	frees  atomic.Uint64
}

type lfClass struct {
	lfClassData
	_ [(lineSize - unsafe.Sizeof(lfClassData{})%lineSize) % lineSize]byte
}

func (p *lfCore) init(cfg Config) {
	p.cfg = cfg
	p.a.init(cfg)
	p.huge.init(&p.a)
	p.cls = make([]lfClass, cfg.MaxFastBlock/cfg.Alignment)
}

// pop takes the top block of cl's stack, or returns 0.
func (p *lfCore) pop(cl *lfClass) Offset {
	for {
		h := cl.head.Load()
		u := h & unitMask
		if u == 0 {
			return 0
		}
		off := Offset(u) << p.a.alignShift
		// The table is loaded after the head: the block's chunk was
		// published before the block was first handed out, hence before
		// the push this head shows.
		next := loadLinkRacy(tptr(p.a.pub.Load(), p.a.shift, off))
		if cl.head.CompareAndSwap(h, (h&^unitMask+genOne)|next&unitMask) {
			return off
		}
	}
}

// pushChain pushes the chain first..last, already linked from first to last
// through the link words, onto cl's stack. lastLink is last's link word.
func (p *lfCore) pushChain(cl *lfClass, first Offset, lastLink *uint64) {
	u := uint64(first) >> p.a.alignShift
	for {
		h := cl.head.Load()
		*lastLink = h & unitMask
		if cl.head.CompareAndSwap(h, (h&^unitMask+genOne)|u) {
			return
		}
	}
}

func (p *lfCore) push(cl *lfClass, off Offset, t *table) {
	p.pushChain(cl, off, (*uint64)(tptr(t, p.a.shift, off)))
}

// bump takes the next block of cl's slab, or returns 0.
func (p *lfCore) bump(cl *lfClass, n Offset) Offset {
	for {
		s := cl.slab.Load()
		if s&slabCountMask == 0 {
			return 0
		}
		if cl.slab.CompareAndSwap(s, s+uint64(n>>p.a.alignShift)<<slabCountBits-1) {
			return Offset(s>>slabCountBits) << p.a.alignShift
		}
	}
}

func (p *lfCore) alloc(size int) (Offset, error) {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(len(p.cls)) {
		return p.allocHuge(size)
	}
	cl := &p.cls[c]
	off := p.pop(cl)
	if off == 0 {
		n := Offset(c+1) << p.a.alignShift
		if off = p.bump(cl, n); off == 0 {
			var err error
			if off, err = p.refill(cl, c); err != nil {
				return 0, err
			}
		}
	}
	cl.allocs.Add(1)
	if invariants {
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size)
	}
	return off, nil
}

// refill gives class c a new slab under g and returns its first block. If
// another goroutine refilled first, it takes a block the usual way. When the
// arena cannot grow the slab is the largest free block of a larger class.
func (p *lfCore) refill(cl *lfClass, c uint) (Offset, error) {
	n := Offset(c+1) << p.a.alignShift
	for {
		p.g.Lock()
		if cl.slab.Load()&slabCountMask != 0 || cl.head.Load()&unitMask != 0 {
			p.g.Unlock()
			if off := p.pop(cl); off != 0 {
				return off, nil
			}
			if off := p.bump(cl, n); off != 0 {
				return off, nil
			}
			continue
		}
		var lo, hi, tlo, thi Offset
		var err error
		if p.newSlab != nil {
			lo, hi, tlo, thi, err = p.newSlab(n, slabBytes(&p.a, n))
		} else {
			lo, hi, tlo, thi, err = p.src.carve(&p.a, &p.huge, n, slabBytes(&p.a, n))
		}
		if err != nil {
			// Split the largest free block of a larger class into a slab.
			for d := uint(len(p.cls)) - 1; d > c; d-- {
				if b := p.pop(&p.cls[d]); b != 0 {
					size := Offset(d+1) << p.a.alignShift
					lo, hi, tlo, thi, err = b, b+size/n*n, b+size/n*n, b+size, nil
					break
				}
			}
		}
		if err == nil && hi-lo > n {
			// Only a refill (under g, with the count at 0) stores a
			// slab; bumpers CAS only a non-zero count.
			cl.slab.Store(uint64(lo+n)>>p.a.alignShift<<slabCountBits | uint64((hi-lo)/n-1))
		}
		p.g.Unlock()
		if err != nil {
			return 0, err
		}
		p.pushRange(tlo, thi)
		return lo, nil
	}
}

// pushRange puts [lo, hi) on the free lists in pieces of at most
// MaxFastBlock bytes.
func (p *lfCore) pushRange(lo, hi Offset) {
	if lo >= hi {
		return
	}
	t := p.a.pub.Load()
	for lo < hi {
		n := min(hi-lo, Offset(p.cfg.MaxFastBlock))
		p.push(&p.cls[n>>p.a.alignShift-1], lo, t)
		lo += n
	}
}

func (p *lfCore) allocHuge(size int) (Offset, error) {
	if err := checkSize(&p.cfg, size); err != nil {
		return 0, err
	}
	p.g.Lock()
	off, err := p.huge.alloc(size)
	if err == nil {
		p.hugeAllocs++
	}
	p.g.Unlock()
	return off, err
}

func (p *lfCore) freeHuge(off Offset, size int) error {
	if err := checkSize(&p.cfg, size); err != nil {
		return err
	}
	p.g.Lock()
	err := p.huge.free(off, size)
	if err == nil {
		p.hugeFrees++
	}
	p.g.Unlock()
	return err
}

func (p *lfCore) free(off Offset, size int) error {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(len(p.cls)) {
		return p.freeHuge(off, size)
	}
	t := p.a.pub.Load()
	if !smallOK(&p.a, t.chunks, off, size) {
		return checkSmallOffset(&p.a, t.chunks, off, size)
	}
	if invariants {
		if err := trackFree(t, p.a.shift, p.a.alignShift, off, size); err != nil {
			return err
		}
	}
	cl := &p.cls[c]
	p.push(cl, off, t)
	cl.frees.Add(1)
	return nil
}

// smallCounts sums the class counters: allocs, frees, bytes in use and the
// untouched bytes of the class slabs.
func (p *lfCore) smallCounts() (allocs, frees uint64, inUse, untouched int64) {
	for i := range p.cls {
		cl := &p.cls[i]
		a, f := cl.allocs.Load(), cl.frees.Load()
		allocs += a
		frees += f
		n := int64(i+1) << p.a.alignShift
		inUse += int64(a-f) * n
		untouched += int64(cl.slab.Load()&slabCountMask) * n
	}
	return
}

func (p *lfCore) stats(l Level) Stats {
	s := Stats{Level: l}
	var inUse, untouched int64
	s.Allocs, s.Frees, inUse, untouched = p.smallCounts()
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
	return s
}

// LockFree is the level whose small-block paths take no mutex: each size
// class is a Treiber stack with a tagged (generation + offset) head and a
// slab bumped with CAS. Taking a new slab from the arena (once per slab, at
// least 16 blocks) and huge blocks take the growth mutex. Safe for
// concurrent use.
type LockFree struct{ core lfCore }

var _ Pool = (*LockFree)(nil)

// NewLockFree returns a LockFree pool for cfg.
func NewLockFree(cfg Config) (*LockFree, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := &LockFree{}
	p.core.init(cfg)
	return p, nil
}

// Alloc returns a block of size bytes.
func (p *LockFree) Alloc(size int) (Offset, error) { return p.core.alloc(size) }

// Free returns the block at off, allocated with size.
func (p *LockFree) Free(off Offset, size int) error { return p.core.free(off, size) }

// Bytes returns the size bytes of the block at off (capacity size).
func (p *LockFree) Bytes(off Offset, size int) []byte {
	return tbytes(p.core.a.pub.Load(), p.core.a.shift, off, size)
}

// Stats returns the pool's counters.
func (p *LockFree) Stats() Stats { return p.core.stats(LevelLockFree) }

// Level returns LevelLockFree.
func (p *LockFree) Level() Level { return LevelLockFree }

// Config returns the normalized configuration.
func (p *LockFree) Config() Config { return p.core.cfg }
