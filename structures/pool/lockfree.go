package pool

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Tagged words. A free-list head is generation<<unitBits | units, where units
// is the block's offset in alignment units (0: empty list); every successful
// push or pop adds one to the generation, so a head that was popped and
// pushed back between a pop's load and its CAS no longer compares equal (the
// ABA problem). A slab word is units<<slabCountBits | count: the next block
// of the class's slab and how many blocks are left in it (at most
// MaxFastBlock/Alignment <= 2^16, far below 2^24).
const (
	unitMask      = 1<<unitBits - 1
	genOne        = 1 << unitBits
	slabCountBits = 24
	slabCountMask = 1<<slabCountBits - 1
	maxStripes    = 16
)

// lfCore is the lock-free small-block machinery shared by LockFree and the
// central pool of ThreadLocal.
//
// Each size class has a slab bumped with CAS (shared by all goroutines) and
// one Treiber stack of free blocks per stripe. A goroutine frees to, and
// first allocates from, the stripe its stack address hashes to (Go has no
// goroutine or processor id; a goroutine's stack stays in one place, so its
// stripe is stable, and different goroutines mostly get different
// stripes): goroutines running in parallel then touch different cache lines
// instead of one contended head per class. When its stripe is empty and the
// slab is used up it takes a block from the other stripes, then splits a
// free block of a larger class, before growing, so freed memory is found
// whichever stripe and class it went to. Stripes are allocated
// on first use; there is one stripe with GOMAXPROCS 1.
//
// Only a slab refill (a new slab from the shared chunk, or a new chunk) and
// huge blocks take the growth mutex g.
type lfCore struct {
	cls         []lfClass
	stripes     []atomic.Pointer[lfStripe]
	stripeShift uint // 64 - log2(len(stripes)): a shift by 64 gives stripe 0
	nclasses    int
	cfg         Config

	growth // g guards a, huge, src, the huge counters, refills and new stripes

	// topFree is one more than the largest class a block was ever put on a
	// free list of: splitLarger scans only the classes below it (the
	// multi-writer trie has thousands of classes, up to its largest
	// possible node, and uses a few hundred).
	topFree atomic.Uint32 // relaxed: a hint (a missed block is found later)

	// newSlab, when set, replaces src.carve as the source of slabs (the
	// ThreadLocal central pool carves from spans it owns).
	newSlab func(n, want Offset) (lo, hi, tlo, thi Offset, err error)
}

// lfClass is a size class's slab word, alone on its cache line.
type lfClass struct {
	slab atomic.Uint64 // units<<slabCountBits | blocks left
	_    [lineSize - 8]byte
}

// lfStripe is one stripe: per class a tagged stack head and the counters of
// the allocations and frees made by goroutines on this stripe.
type lfStripe struct {
	_     [lineSize]byte
	heads []lfHead
	_     [lineSize]byte
}

type lfHead struct {
	head   atomic.Uint64
	allocs atomic.Uint64
	frees  atomic.Uint64
}

func (p *lfCore) init(cfg Config) *arena {
	p.cfg = cfg
	p.a.init(cfg)
	p.a.trackLive = true
	p.huge.init(&p.a)
	p.nclasses = cfg.MaxFastBlock / cfg.Alignment
	p.cls = make([]lfClass, p.nclasses)
	stripeBits := 0
	if procs := runtime.GOMAXPROCS(0); procs > 1 {
		stripeBits = bits.Len(uint(min(4*procs, maxStripes) - 1))
	}
	p.stripeShift = uint(64 - stripeBits)
	p.stripes = make([]atomic.Pointer[lfStripe], 1<<stripeBits)
	return &p.a
}

// stripe returns the calling goroutine's stripe, allocating it on first use.
func (p *lfCore) stripe() *lfStripe {
	var here byte
	// The address of a local identifies the goroutine's stack; 2 KiB
	// granules (the shift by 11) keep one goroutine's frames (at a similar
	// depth in Alloc and Free) in one granule.
	// Safety: the address is only hashed, never turned back into a
	// pointer; a stack move (growth) changes the stripe, not correctness.
	i := uint64(uintptr(unsafe.Pointer(&here))>>11) * 0x9E3779B97F4A7C15 >> p.stripeShift
	if s := p.stripes[i].Load(); s != nil { // acquire: a stripe and its heads, published by newStripe
		return s
	}
	return p.newStripe(i)
}

func (p *lfCore) newStripe(i uint64) *lfStripe {
	p.g.Lock()
	defer p.g.Unlock()
	if s := p.stripes[i].Load(); s != nil { // acquire: as in stripe (under g)
		return s
	}
	s := &lfStripe{heads: make([]lfHead, p.nclasses)}
	p.stripes[i].Store(s) // release: publishes the stripe and its heads
	return s
}

// pop takes the top block of the stack h, or returns 0.
func (p *lfCore) pop(h *atomic.Uint64) Offset {
	for {
		w := h.Load() // acquire: the head, and the link its push wrote
		u := w & unitMask
		if u == 0 {
			return 0
		}
		off := Offset(u) << p.a.alignShift
		// The table is loaded after the head: the block's chunk was
		// published before the block was first handed out, hence before
		// the push this head shows.
		next := loadLinkRacy(tptr(p.a.pub.Load(), p.a.shift, off))   // acquire: the chunk table
		if h.CompareAndSwap(w, (w&^unitMask+genOne)|next&unitMask) { // acq-rel: takes the block; the generation rules out ABA
			return off
		}
	}
}

// popOther takes a free block of class c from any stripe but own, or
// returns 0.
func (p *lfCore) popOther(c uint, own *lfStripe) Offset {
	for i := range p.stripes {
		if s := p.stripes[i].Load(); s != nil && s != own { // acquire: as in stripe
			if off := p.pop(&s.heads[c].head); off != 0 {
				return off
			}
		}
	}
	return 0
}

// pushChain pushes the chain first..last, already linked from first to last
// through the link words, onto the stack h. lastLink is last's link word.
func (p *lfCore) pushChain(h *atomic.Uint64, first Offset, lastLink *uint64) {
	u := uint64(first) >> p.a.alignShift
	for {
		w := h.Load() // relaxed: re-read by the CAS
		*lastLink = w & unitMask
		if h.CompareAndSwap(w, (w&^unitMask+genOne)|u) { // release: publishes the chain's links with the head
			return
		}
	}
}

// push puts the free block off of class c on the calling goroutine's stripe.
func (p *lfCore) push(c uint, off Offset, t *table) {
	p.noteFree(c)
	p.pushChain(&p.stripe().heads[c].head, off, (*uint64)(tptr(t, p.a.shift, off)))
}

// noteFree raises topFree to cover class c (before a block of c is pushed).
func (p *lfCore) noteFree(c uint) {
	if uint32(c) >= p.topFree.Load() { // relaxed: a hint (a missed block is found later)
		p.raiseTopFree(c)
	}
}

func (p *lfCore) raiseTopFree(c uint) {
	for {
		t := p.topFree.Load()                                          // relaxed: re-read by the CAS
		if uint32(c) < t || p.topFree.CompareAndSwap(t, uint32(c)+1) { // relaxed: a hint
			return
		}
	}
}

// bump takes the next block of cl's slab, or returns 0.
func (p *lfCore) bump(cl *lfClass, n Offset) Offset {
	for {
		s := cl.slab.Load() // acquire: the slab word a refill stored
		if s&slabCountMask == 0 {
			return 0
		}
		if cl.slab.CompareAndSwap(s, s+uint64(n>>p.a.alignShift)<<slabCountBits-1) { // acq-rel: takes the block
			return Offset(s>>slabCountBits) << p.a.alignShift
		}
	}
}

func (p *lfCore) alloc(size int) (Offset, error) {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(p.nclasses) {
		return p.allocHuge(&p.cfg, size)
	}
	st := p.stripe()
	off, err := p.takeSmall(c, st)
	if err != nil {
		return 0, err
	}
	st.heads[c].allocs.Add(1) // relaxed: a counter
	if invariants {
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size) // acquire: the chunk table
	}
	markLive(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, uint64(c+1)) // acquire: the chunk table
	return off, nil
}

// takeSmall finds a block of class c: the own stripe, the slab, the other
// stripes, a refill.
func (p *lfCore) takeSmall(c uint, st *lfStripe) (Offset, error) {
	if off := p.pop(&st.heads[c].head); off != 0 {
		return off, nil
	}
	cl := &p.cls[c]
	n := Offset(c+1) << p.a.alignShift
	if off := p.bump(cl, n); off != 0 {
		return off, nil
	}
	if off := p.popOther(c, st); off != 0 {
		return off, nil
	}
	return p.refill(cl, c, st)
}

// refill gives class c a new slab under g and returns its first block. If
// another goroutine refilled first, it takes a block the usual way. The slab
// is the rest of the shared chunk; when that is used up (or the arena
// cannot grow), the largest free block of a larger class, and only when
// there is none a new chunk.
func (p *lfCore) refill(cl *lfClass, c uint, st *lfStripe) (Offset, error) {
	n := Offset(c+1) << p.a.alignShift
	for {
		p.g.Lock()
		if cl.slab.Load()&slabCountMask != 0 || st.heads[c].head.Load()&unitMask != 0 { // relaxed: a re-check under g; the pops and bumps below synchronize
			p.g.Unlock()
			if off := p.pop(&st.heads[c].head); off != 0 {
				return off, nil
			}
			if off := p.bump(cl, n); off != 0 {
				return off, nil
			}
			continue
		}
		var lo, hi, tlo, thi Offset
		var err error
		// When the shared chunk is used up, split a free block of a larger
		// class before the arena grows by a chunk, so that churn whose
		// size mix shifts reuses freed memory instead of ratcheting the
		// arena up (issue 19 case 8); when the arena cannot grow, split
		// one anyway.
		splitFirst := p.newSlab == nil && p.src.end-p.src.cur < n
		if splitFirst {
			lo, hi, tlo, thi, err = p.splitLarger(c, st)
		}
		if !splitFirst || err != nil {
			if p.newSlab != nil {
				lo, hi, tlo, thi, err = p.newSlab(n, slabBytes(&p.a, n))
			} else {
				lo, hi, tlo, thi, err = p.src.carve(&p.a, &p.huge, n, slabBytes(&p.a, n))
			}
			if err != nil && !splitFirst {
				if l, h, tl, th, e := p.splitLarger(c, st); e == nil {
					lo, hi, tlo, thi, err = l, h, tl, th, nil
				}
			}
		}
		if err == nil && hi-lo > n {
			// Only a refill (under g, with the count at 0) stores a
			// slab; bumpers CAS only a non-zero count.
			cl.slab.Store(uint64(lo+n)>>p.a.alignShift<<slabCountBits | uint64((hi-lo)/n-1)) // release: publishes the slab (under g, count 0 before)
		}
		p.g.Unlock()
		if err != nil {
			return 0, err
		}
		p.pushRange(tlo, thi)
		return lo, nil
	}
}

// splitLarger turns the largest free block of a class above c into a slab
// of class c (lo, hi) and a tail to push (tlo, thi), or returns
// ErrExhausted when there is none. Under g.
func (p *lfCore) splitLarger(c uint, st *lfStripe) (lo, hi, tlo, thi Offset, err error) {
	n := Offset(c+1) << p.a.alignShift
	for d := min(uint(p.topFree.Load()), uint(p.nclasses)) - 1; d > c && d < uint(p.nclasses); d-- { // relaxed: a hint
		b := p.pop(&st.heads[d].head)
		if b == 0 {
			b = p.popOther(d, st)
		}
		if b != 0 {
			size := Offset(d+1) << p.a.alignShift
			return b, b + size/n*n, b + size/n*n, b + size, nil
		}
	}
	return 0, 0, 0, 0, ErrExhausted
}

// pushRange puts [lo, hi) on the free lists in pieces of at most
// MaxFastBlock bytes.
func (p *lfCore) pushRange(lo, hi Offset) {
	if lo >= hi {
		return
	}
	t := p.a.pub.Load() // acquire: the chunk table
	for lo < hi {
		n := min(hi-lo, Offset(p.cfg.MaxFastBlock))
		p.push(uint(n>>p.a.alignShift-1), lo, t)
		lo += n
	}
}

func (p *lfCore) free(off Offset, size int) error {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(p.nclasses) {
		return p.freeHuge(&p.cfg, off, size)
	}
	t := p.a.pub.Load() // acquire: the chunk table
	if err := p.a.checkFree(t, off, size, c); err != nil {
		return err
	}
	st := p.stripe()
	h := &st.heads[c]
	p.noteFree(c)
	p.pushChain(&h.head, off, (*uint64)(tptr(t, p.a.shift, off)))
	h.frees.Add(1) // relaxed: a counter
	return nil
}

// countFree counts a free of class c made by the calling goroutine.
func (p *lfCore) countFree(c uint) { p.stripe().heads[c].frees.Add(1) } // relaxed: a counter

// smallCounts sums the class counters: allocs, frees, bytes in use and the
// untouched bytes of the class slabs.
func (p *lfCore) smallCounts() (allocs, frees uint64, inUse, untouched int64) {
	for i := range p.stripes {
		s := p.stripes[i].Load() // acquire: a stripe and its heads
		if s == nil {
			continue
		}
		for c := range s.heads {
			h := &s.heads[c]
			a, f := h.allocs.Load(), h.frees.Load() // relaxed: counters (Stats is not atomic across fields)
			allocs += a
			frees += f
			inUse += int64(a-f) * int64(c+1) << p.a.alignShift
		}
	}
	for c := range p.cls {
		untouched += int64(p.cls[c].slab.Load()&slabCountMask) * int64(c+1) << p.a.alignShift // relaxed: a counter
	}
	return
}

func (p *lfCore) stats(l Level) Stats {
	s := Stats{Level: l}
	var inUse, untouched int64
	s.Allocs, s.Frees, inUse, untouched = p.smallCounts()
	p.finishStats(&s, inUse, untouched)
	return s
}

// LockFree is the level whose small-block paths take no mutex: each size
// class has a slab bumped with CAS and Treiber stacks with tagged
// (generation + offset) heads, one per stripe (see lfCore: goroutines
// running in parallel mostly use different stripes). Taking a new slab from
// the arena (once per slab, at least 16 blocks) and huge blocks take the
// growth mutex. Safe for concurrent use.
type LockFree struct{ core lfCore }

var _ Pool = (*LockFree)(nil)

// NewLockFree returns a LockFree pool for cfg. The number of stripes is
// fixed at construction from GOMAXPROCS (up to 16).
func NewLockFree(cfg Config) (*LockFree, error) {
	return newLevel(cfg, func(p *LockFree, cfg Config) *arena { return p.core.init(cfg) })
}

// Alloc returns a block of size bytes.
func (p *LockFree) Alloc(size int) (Offset, error) { return p.core.alloc(size) }

// Free returns the block at off, allocated with size.
func (p *LockFree) Free(off Offset, size int) error { return p.core.free(off, size) }

// Bytes returns the size bytes of the block at off (capacity size).
func (p *LockFree) Bytes(off Offset, size int) []byte {
	return tbytes(p.core.a.pub.Load(), p.core.a.shift, off, size) // acquire: the chunk table
}

// Stats returns the pool's counters.
func (p *LockFree) Stats() Stats { return p.core.stats(LevelLockFree) }

// Level returns LevelLockFree.
func (p *LockFree) Level() Level { return LevelLockFree }

// Config returns the normalized configuration.
func (p *LockFree) Config() Config { return p.core.cfg }
