package pool

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// NoLocking is the single-owner level: no synchronization at all. One
// goroutine at a time may use it (hand it over with the usual
// happens-before, a channel or a mutex). It is the fastest level and the one
// a shard owner or the trie uses.
//
// The fast paths (Alloc and Free run them inline; TryAlloc and TryFree are
// the bump and un-bump of the newest block alone, inlinable into the
// caller) pop or push the head of the size class's free list, or bump
// through the current chunk, and set or clear the block's start and end
// bits in the live-block bitmap (which makes every build refuse a double
// free, a free of an offset that starts no live block, and a free with a
// size of another class: see markLive); everything else (growth, huge
// blocks, errors, and the cross entry of a block that crosses out of its
// first bitmap word) is an out-of-line slow path.
//
// The newest bump block is marked lazily: while it is live and still the
// top of the bump range, it starts at bump, topM holds its size less one
// and its bits stay clear; the next bump allocation or any slow path sets
// them and moves bump past it (flushTop). Freeing it clears topM, so an
// alloc/free pair writes topM twice and one counter and nothing else of
// the pool: no bitmap word, no free list, no size class, not even bump.
// The top block's allocation is counted in its class when it is
// marked, and a block freed while it is the top counts as one pair (one
// allocation and one free) in pairs. A Free checks the top before the
// bitmap, so the bitmap plus the top is exactly the set of live small
// blocks.
type NoLocking struct {
	// Copies of the arena's hot fields, refreshed by sync after every call
	// that may change the arena (the fast paths stay short: every
	// selector counts).
	chunks [][]byte
	// belowUnits and rotAlign make one test of "non-zero, aligned, below
	// limit": rotating off right by alignShift moves misaligned bits to the
	// top, so rot(off)-1 < belowUnits holds exactly for the aligned offsets
	// in (0, limit).
	belowUnits uint64 // limit>>alignShift - 1, or 0
	rotAlign   int    // -alignShift
	shift      uint
	alignShift uint
	alignMask  Offset // alignment - 1

	// cls holds each size class at index m>>3, m the class's block size
	// less one (see topM and classOf), so the fast paths reach it from
	// the size with no shift by the alignment (a variable shift costs the
	// pair three instructions and a register); at an alignment above 8
	// the entries between two classes' stay unused (MaxFastBlock/8
	// entries in all).
	cls []nlClass
	// live has two bits per alignment unit below the arena's limit, a
	// start and an end bit (the layout of slotMeta.live, see markLive),
	// set while a small block starts or ends there: every build checks a
	// small Free against it, so a double free, an offset that starts no
	// live block or a size of another class is an error (ErrInvalidFree),
	// never a corrupt free list. Grown by sync with the arena; 1/64 of the
	// arena at the default 16-byte alignment. A block whose units cross
	// out of its first word has no bits: its first word's entry in cross
	// records it (crossEntry; at most one block crosses out of each word),
	// so every free reads one word whatever the size.
	live  []uint64
	cross []uint32
	// bump is the next free byte of the current chunk, or the start of
	// the top block while topM is not 0.
	bump Offset
	end  Offset // end of the current chunk
	// topM is the size less one of the top block, the newest bump block
	// while it is live and unmarked in live (it starts at bump), or 0: a
	// size less one is at least the alignment less one, never 0. Its
	// allocation is in no class's allocs until flushTop marks it; Stats
	// counts it.
	topM Offset
	// pairs counts the top blocks freed while they were the top (TryFree):
	// each is one allocation and one free, in no class's counters.
	pairs uint64

	hugeAllocs, hugeFrees uint64
	smallChunks           int64  // chunks given to small blocks
	reclaimMark           uint64 // frees counted at the last reclaim
	a                     arena
	huge                  hugeHeap
	cfg                   Config
}

// sync refreshes the copies of the arena's fields.
func (p *NoLocking) sync() {
	p.chunks, p.belowUnits = p.a.chunks, max(uint64(p.a.limit>>p.a.alignShift), 1)-1
	p.rotAlign, p.shift, p.alignShift, p.alignMask = -int(p.a.alignShift), p.a.shift, p.a.alignShift, p.a.alignMask
	if n := int(p.a.limit>>p.a.alignShift+unitsPerWord-1) / unitsPerWord; len(p.live) < n {
		p.live = append(p.live, make([]uint64, n-len(p.live))...)
		p.cross = append(p.cross, make([]uint32, n-len(p.cross))...)
	}
}

// liveAt returns the word of live holding the bits of unit u (bits
// u%32*2 and u%32*2+1). u is below the arena's limit in units: a unit of
// a block from a free list or the bump range, or of an offset Free's range
// test passed.
func (p *NoLocking) liveAt(u uint64) *uint64 {
	// Safety: u < limit>>alignShift, and sync keeps live at least that
	// many units (32 a word) long.
	return (*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.live)), u/unitsPerWord*8))
}

// crossAt returns the cross entry of unit u's word (see liveAt).
func (p *NoLocking) crossAt(u uint64) *uint32 {
	// Safety: as in liveAt; sync keeps cross as long as live.
	return (*uint32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.cross)), u/unitsPerWord*4))
}

// mark records the small block at off of size m+1 (a multiple of the
// alignment) live: its start and end bits, or its cross entry. The caller
// counts its allocation.
func (p *NoLocking) mark(off, m Offset) {
	c := uint(m >> (p.alignShift & 63))
	u := uint64(off) >> (p.alignShift & 63)
	if u%unitsPerWord+uint64(c) >= unitsPerWord {
		*p.crossAt(u) = crossEntry(u, uint64(c+1))
		return
	}
	e := u + uint64(c)
	*p.liveAt(u) |= 1<<(u*2&63) | 2<<(e*2&63)
}

// flushTop marks the unmarked top block live, counts its allocation and
// moves bump past it (see NoLocking.topM): before any path that moves the
// bump range or reads the bitmap as the truth.
func (p *NoLocking) flushTop() {
	if m := p.topM; m != 0 {
		p.mark(p.bump, m)
		p.cls[m>>3].allocs++
		p.bump, p.topM = p.bump+m+1, 0
	}
}

// nlClass is one size class: the free-list head (the link to the next free
// block is stored in the first 8 bytes of each free block), counters, and
// the bits a free checks for a block of the class (blockPattern; for a
// class above 32 units a pattern no word matches: the slow path checks).
type nlClass struct {
	head      Offset
	allocs    uint64
	frees     uint64
	mask, pat uint64
}

// classOf returns size class c, of blocks of c+1 alignment units (see
// NoLocking.cls).
func (p *NoLocking) classOf(c uint) *nlClass {
	return &p.cls[(Offset(c+1)<<(p.alignShift&63)-1)>>3]
}

// classes is the number of size classes.
func (p *NoLocking) classes() uint { return uint(p.cfg.MaxFastBlock >> (p.alignShift & 63)) }

// initClasses resets the classes: empty, counters zero, the free checks set.
func (p *NoLocking) initClasses() {
	clear(p.cls)
	for c := range p.classes() {
		h := p.classOf(c)
		h.mask, h.pat = classPattern(uint64(c + 1))
	}
}

var _ Pool = (*NoLocking)(nil)

// NewNoLocking returns a NoLocking pool for cfg.
func NewNoLocking(cfg Config) (*NoLocking, error) {
	return newLevel(cfg, func(p *NoLocking, cfg Config) *arena {
		p.cfg = cfg
		p.a.init(cfg)
		p.huge.init(&p.a)
		p.cls = make([]nlClass, cfg.MaxFastBlock/8)
		p.sync()
		p.initClasses()
		return &p.a
	})
}

// Level returns LevelNoLocking.
func (p *NoLocking) Level() Level { return LevelNoLocking }

// Reset frees every block at once: every offset handed out so far becomes
// invalid, the counters restart from zero, and the arena's memory goes back
// to the Go heap (a FixedCapacity-configured pool reserves a fresh region).
// For owners that drop a whole structure (a trie's Clear).
func (p *NoLocking) Reset() {
	cfg := p.cfg
	held := p.a.held
	releaseBudget(held)
	p.a = arena{held: held}
	p.a.init(cfg)
	p.huge = hugeHeap{}
	p.huge.init(&p.a)
	p.initClasses()
	p.live, p.cross = p.live[:0], p.cross[:0]
	p.bump, p.end, p.topM, p.pairs = 0, 0, 0, 0
	p.hugeAllocs, p.hugeFrees, p.smallChunks, p.reclaimMark = 0, 0, 0, 0
	p.sync()
}

// Config returns the normalized configuration.
func (p *NoLocking) Config() Config { return p.cfg }

// Alloc returns a block of size bytes.
func (p *NoLocking) Alloc(size int) (Offset, error) {
	// The fast paths, inline (a call costs the pair a fifth): a free
	// block of the class, or a bump (see TryAlloc for the cheapest).
	m := Offset(size-1) | p.alignMask // size <= 0 wraps to a huge size
	if i := m >> 3; !invariants && i < Offset(len(p.cls)) {
		if h := &p.cls[i]; h.head != 0 {
			off := h.head
			h.head = *(*Offset)(p.ptr(off))
			h.allocs++
			p.mark(off, m)
			return off, nil
		}
		// The new top of the bump range (counted when it is marked or
		// freed); the previous one is marked first (flushTop, inline:
		// one call fewer).
		if t := p.topM; t != 0 {
			p.mark(p.bump, t)
			p.cls[t>>3].allocs++
			p.bump, p.topM = p.bump+t+1, 0
		}
		if p.end-p.bump > m {
			p.topM = m
			return p.bump, nil
		}
	}
	return p.allocSlow(size)
}

// Free returns the block at off, allocated with size.
func (p *NoLocking) Free(off Offset, size int) error {
	if p.TryFree(off, size) { // the unmarked top: back to the bump range
		return nil
	}
	m := Offset(size-1) | p.alignMask // as in Alloc
	if i := m >> 3; !invariants && i < Offset(len(p.cls)) {
		if u := bits.RotateLeft64(uint64(off), p.rotAlign); u-1 < p.belowUnits { // aligned, in (0, limit)
			// A live block of size m+1 at u whose bits lie in one word:
			// start and end bit set, no end bit between (see markLive).
			h := &p.cls[i]
			if w, sh := p.liveAt(u), u*2&63; *w>>sh&h.mask == h.pat {
				*w &^= h.pat << sh
				p.push(h, off)
				return nil
			}
			return p.freeWide(off, size, u, m)
		}
	}
	return p.freeSlow(off, size)
}

// freeWide is Free's path for a crossing block (its cross entry), and for
// the refusals, through freeSlow: u is off in units, aligned and below the
// limit, m+1 the size of a small class.
//
//go:noinline
func (p *NoLocking) freeWide(off Offset, size int, u uint64, m Offset) error {
	if x := p.crossAt(u); *x == crossEntry(u, uint64(m>>(p.alignShift&63))+1) {
		*x = 0
		p.push(&p.cls[m>>3], off)
		return nil
	}
	return p.freeSlow(off, size) // the top block (not recorded yet), or an error
}

// push puts the block at off on class h's free list.
func (p *NoLocking) push(h *nlClass, off Offset) {
	// Every slot below limit has ChunkSize bytes (see arena.release) and
	// off is aligned to at least 8: the link write stays in the chunk.
	*(*Offset)(p.ptr(off)) = h.head
	h.head = off
	h.frees++
}

// TryAlloc is Alloc's cheapest path alone, small enough for the compiler
// to inline into the caller's loop: when the size class has no free block
// and no block is the unmarked top of the bump range (the previous top was
// freed, or never was), it carves the block from the current chunk's
// untouched range and returns it; otherwise (and for a size that is not
// small, and always in the invariants build) it returns Nil and the caller
// calls Alloc, which takes every other path, or grows the pool, or reports
// the error. A non-Nil result never grew the pool (the concurrent trie
// republishes its chunk view only after Alloc). With TryFree it makes an
// alloc/free pair, or a stack-like pattern, run with no call at all:
//
//	off := p.TryAlloc(n)
//	if off == pool.Nil {
//		if off, err = p.Alloc(n); err != nil { ... }
//	}
//	...
//	if !p.TryFree(off, n) {
//		err = p.Free(off, n)
//	}
func (p *NoLocking) TryAlloc(size int) Offset {
	// m is the block's size less one (see topM): m>>3 indexes cls
	// exactly for a small size (see Alloc); bump+m cannot wrap: bump <=
	// end <= the arena's limit, and m < MaxFastBlock once i passed.
	m := Offset(size-1) | p.alignMask
	if i := m >> 3; !invariants && p.topM == 0 && i < Offset(len(p.cls)) && p.cls[i].head == 0 && p.bump+m < p.end {
		p.topM = m // the new unmarked top, at bump, counted later (see NoLocking)
		return p.bump
	}
	return Nil
}

// TryFree is Free's cheapest path alone, small enough to inline: when off
// is the unmarked top of the bump range and size its class, it gives the
// block back to the bump range and reports true; otherwise (and always in
// the invariants build) it does nothing and reports false, and the caller
// calls Free, which frees the block or reports the error.
func (p *NoLocking) TryFree(off Offset, size int) bool {
	// m is size rounded up to the alignment, less one: the top block's
	// topM exactly when size is of its class. A size that is not small
	// never matches: size <= 0 makes m 1<<63-1 or more, a size above
	// MaxFastBlock makes it MaxFastBlock or more; and m is never 0 (no top).
	if m := Offset(size-1) | p.alignMask; !invariants && m == p.topM && off == p.bump {
		p.topM = 0
		p.pairs++
		return true
	}
	return false
}

// SharedBytes is Bytes for goroutines other than the owner: it reads the
// chunk table the arena publishes atomically on every growth, so it may run
// while the owner allocates, frees and grows the pool. The block's contents
// are the caller's to synchronize (the hand-off that gave it the offset
// orders the owner's writes before its reads), and the block must stay
// allocated while the slice is used. It panics if off and size do not lie
// inside the arena (TrySharedBytes reports that instead).
func (p *NoLocking) SharedBytes(off Offset, size int) []byte {
	b, ok := p.TrySharedBytes(off, size)
	if !ok {
		panic("pool: SharedBytes outside the arena")
	}
	return b
}

// TrySharedBytes is SharedBytes that returns false, and no slice, when off
// and size (> 0) do not lie inside one chunk of the arena, instead of
// panicking: for offsets and sizes that come from outside the program.
func (p *NoLocking) TrySharedBytes(off Offset, size int) ([]byte, bool) {
	t := p.a.pub.Load() // acquire: the chunk table with every chunk below its length
	shift := p.a.shift & 63
	ci := uint64(off) >> shift
	if size <= 0 || ci >= uint64(len(t.chunks)) {
		return nil, false
	}
	c := t.chunks[ci]
	in := uint64(off) & (1<<shift - 1)
	if uint64(size) > uint64(len(c)) || in > uint64(len(c))-uint64(size) {
		return nil, false
	}
	end := in + uint64(size)
	return c[in:end:end], true
}

// Bytes returns the size bytes of the block at off (capacity size). It
// panics if off and size do not lie inside the arena.
func (p *NoLocking) Bytes(off Offset, size int) []byte {
	in := uint64(off) & (1<<(p.shift&63) - 1)
	end := in + uint64(size)
	return p.chunks[off>>(p.shift&63)][in:end:end]
}

// Ptr returns a pointer to the first byte of the block at off, with no check
// at all: off must be a live block of this pool, and the caller must stay
// inside the block's size (for a caller that knows its block layout, such
// as the trie reading a node header). The pointer keeps the chunk alive and
// stays valid until the block is freed; it must not be kept past that.
func (p *NoLocking) Ptr(off Offset) unsafe.Pointer { return p.ptr(off) }

func (p *NoLocking) ptr(off Offset) unsafe.Pointer {
	// Safety: off is a block of this pool (the callers' contract), so its
	// chunk is in chunks and its position below ChunkSize: the pointer
	// stays inside the chunk's allocation, which the slice keeps alive.
	// Callers use it for the 8-byte link word (blocks are aligned to at
	// least 8) or, through Ptr, within the block.
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.chunks[off>>(p.shift&63)])), off&(1<<(p.shift&63)-1))
}

// BlockSize returns the arena bytes a block of size bytes occupies: its size
// class for a small block, size rounded up to the alignment for a huge one.
func (p *NoLocking) BlockSize(size int) int { return blockSize(&p.cfg, size) }

func blockSize(cfg *Config, size int) int {
	return (size + cfg.Alignment - 1) &^ (cfg.Alignment - 1)
}

func checkSize(cfg *Config, size int) error {
	if size <= 0 {
		return fmt.Errorf("%w: %d", ErrInvalidSize, size)
	}
	if int64(size) > cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes is above MaxBytes %d", ErrTooLarge, size, cfg.MaxBytes)
	}
	return nil
}

//go:noinline
func (p *NoLocking) allocSlow(size int) (Offset, error) {
	p.flushTop() // the bump range may move
	if err := checkSize(&p.cfg, size); err != nil {
		return 0, err
	}
	if size > p.cfg.MaxFastBlock {
		off, err := p.huge.alloc(size)
		if err != nil && p.reclaim() {
			off, err = p.huge.alloc(size)
		}
		p.sync()
		if err != nil {
			return 0, err
		}
		p.hugeAllocs++
		return off, nil
	}
	c := uint(size-1) >> p.a.alignShift
	n := Offset(c+1) << p.a.alignShift
	h := p.classOf(c)
	off := h.head
	switch {
	case off != 0:
		h.head = *(*Offset)(p.ptr(off))
	case p.end-p.bump >= n:
		off = p.bump
		p.bump += n
	default:
		var err error
		if off, err = p.refill(c); err != nil {
			return 0, err
		}
	}
	if invariants {
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size) // acquire: the chunk table
	}
	if off+n == p.bump {
		// The top of the bump range: marked and counted lazily, as
		// Alloc's bump does.
		p.bump, p.topM = off, n-1
	} else {
		p.mark(off, n-1)
		h.allocs++
	}
	return off, nil
}

// refill starts a new chunk for class c and carves the block from it; when
// the arena cannot grow, it gives the huge spare back and tries again, then
// gives back chunks whose blocks are all free, then splits a free block of
// a larger class.
func (p *NoLocking) refill(c uint) (Offset, error) {
	n := Offset(c+1) << p.a.alignShift
	first, err := p.a.take(1, true)
	if err != nil && p.huge.spare != nil {
		p.huge.dropSpare()
		first, err = p.a.take(1, true)
	}
	if err != nil && p.reclaim() {
		first, err = p.a.take(1, true)
	}
	p.sync()
	lo, hi := p.a.firstOffset(first), Offset(first+1)<<p.a.shift
	if err != nil {
		// Split the largest free block of a larger class: it becomes the
		// bump range, serving this class and others.
		lo = 0
		for d := p.classes() - 1; d > c && lo == 0; d-- {
			if h := p.classOf(d); h.head != 0 {
				b := h.head
				h.head = *(*Offset)(p.ptr(b))
				lo, hi = b, b+Offset(d+1)<<p.a.alignShift
			}
		}
		if lo == 0 {
			return 0, err
		}
	} else {
		p.smallChunks++
	}
	p.pushRange(p.bump, p.end)
	p.bump, p.end = lo, hi
	off := p.bump
	p.bump += n
	return off, nil
}

// reclaim gives chunks whose blocks are all free back to the arena (see
// reclaimSmall), when some block was freed since the last try.
func (p *NoLocking) reclaim() bool {
	frees := p.hugeFrees + p.pairs
	for i := range p.cls {
		frees += p.cls[i].frees // 0 for an index of no class
	}
	if frees == p.reclaimMark {
		return false
	}
	p.reclaimMark = frees
	heads := make([]*Offset, p.classes())
	for c := range heads {
		heads[c] = &p.classOf(uint(c)).head
	}
	n := reclaimSmall(&p.a, heads, []slabRef{{&p.bump, &p.end}})
	p.smallChunks -= int64(n)
	p.sync()
	return n > 0
}

// pushRange puts the free range [lo, hi) on the free lists, in pieces of at
// most MaxFastBlock bytes.
func (p *NoLocking) pushRange(lo, hi Offset) {
	for lo < hi {
		n := min(hi-lo, Offset(p.cfg.MaxFastBlock))
		h := p.classOf(uint(n>>p.a.alignShift - 1))
		*(*Offset)(p.ptr(lo)) = h.head
		h.head = lo
		lo += n
	}
}

//go:noinline
func (p *NoLocking) freeSlow(off Offset, size int) error {
	p.flushTop() // the bitmap alone is the truth below
	if err := checkSize(&p.cfg, size); err != nil {
		return err
	}
	if size > p.cfg.MaxFastBlock {
		err := p.huge.free(off, size)
		p.sync()
		if err != nil {
			return err
		}
		p.hugeFrees++
		return nil
	}
	if !smallOK(&p.a, p.a.chunks, off, size) {
		return checkSmallOffset(&p.a, p.a.chunks, off, size)
	}
	if invariants {
		if err := trackFree(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size); err != nil { // acquire: the chunk table
			return err
		}
	}
	c := uint(size-1) >> p.a.alignShift
	u := uint64(off) >> p.a.alignShift
	k := uint64(c + 1)
	w, x := p.liveAt(u), p.crossAt(u)
	switch mask, pat := classPattern(k); {
	case u%unitsPerWord+k <= unitsPerWord && *w>>(u*2&63)&mask == pat:
		*w &^= pat << (u * 2 & 63)
	case u%unitsPerWord+k > unitsPerWord && *x == crossEntry(u, k):
		*x = 0
	default:
		return liveErr(*w>>(u*2&63)&1 != 0 || *x != 0 && uint64(*x)%unitsPerWord == u%unitsPerWord, off, size)
	}
	p.push(p.classOf(c), off)
	return nil
}

// smallOK is the inlinable test of checkSmallOffset: a non-zero, aligned
// offset whose block lies inside a chunk. Every build makes it on a small
// free.
func smallOK(a *arena, chunks [][]byte, off Offset, size int) bool {
	ci := uint64(off >> (a.shift & 63))
	return off&a.alignMask == 0 && off != 0 && ci < uint64(len(chunks)) &&
		uint64(off)&uint64(a.chunkSize-1)+uint64(size) <= uint64(len(chunks[ci]))
}

// checkSmallOffset returns the error for an offset smallOK refuses.
func checkSmallOffset(a *arena, chunks [][]byte, off Offset, size int) error {
	if off == 0 {
		return fmt.Errorf("%w: the zero offset", ErrInvalidFree)
	}
	if off&a.alignMask != 0 {
		return fmt.Errorf("%w: offset %#x is not aligned to %d", ErrInvalidFree, uint64(off), a.align)
	}
	ci := uint64(off >> a.shift)
	in := int64(off) & (a.chunkSize - 1)
	if ci >= uint64(len(chunks)) || in+int64(size) > int64(len(chunks[ci])) {
		return fmt.Errorf("%w: offset %#x (size %d) is outside the arena", ErrInvalidFree, uint64(off), size)
	}
	return nil
}

// Stats returns the pool's counters. It walks the size classes (a few
// thousand at most).
func (p *NoLocking) Stats() Stats {
	s := Stats{
		Level:     LevelNoLocking,
		Capacity:  p.a.capacity,
		HugeBytes: p.huge.liveBytes,
		HugeCount: p.huge.liveCount,
		Allocs:    p.hugeAllocs,
		Frees:     p.hugeFrees,
		Chunks:    p.a.slots,
	}
	var inUse int64
	for c := range p.classes() {
		h := p.classOf(c)
		s.Allocs += h.allocs
		s.Frees += h.frees
		inUse += int64(h.allocs-h.frees) * int64(c+1) << p.a.alignShift
	}
	s.Allocs += p.pairs
	s.Frees += p.pairs
	untouched := int64(p.end - p.bump)
	if p.topM != 0 { // allocated, not counted yet
		s.Allocs++
		inUse += int64(p.topM + 1)
		untouched -= int64(p.topM + 1)
	}
	s.InUse = inUse + p.huge.liveBytes
	s.Untouched = untouched + p.a.idleBytes()
	s.Free = p.smallChunks<<p.a.shift - inUse - untouched + p.huge.freeBytes
	if p.a.zeroSmall {
		s.Free -= p.a.align // the nil unit
	}
	s.Fragment = s.Capacity - s.InUse - s.Free - s.Untouched
	return s
}
