package pool

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// arena is the chunk table and the source of chunk memory shared by every
// level. It is not synchronized: the concurrent levels call its mutating
// methods under their growth mutex and read the published table (pub)
// lock-free; NoLocking reads chunks directly.
//
// A chunk is ChunkSize bytes, one pointer-free Go allocation, and never
// moves. A region of n > 1 consecutive chunk slots (a huge region) is one
// allocation of n*ChunkSize bytes; slot first+i holds the slice of it that
// starts at chunk i and runs to the region's end, so Bytes can address a
// block that crosses chunk boundaries inside its region with one lookup.
//
// Publication: pub points to an immutable view (slice headers) of the table.
// Entries below the published length are never written in place: a change
// to one (a released or reused slot) first copies the table. Appending
// writes slots at or above the published length (which no published view can
// index) and then publishes a longer view.
type arena struct {
	shift      uint  // log2(ChunkSize)
	alignShift uint  // log2(Alignment)
	chunkSize  int64 // ChunkSize
	align      int64 // Alignment
	maxBytes   int64
	maxSlots   int           // the chunk index space: offsets stay below 2^(unitBits+alignShift)
	fixed      bool          // FixedCapacity: all memory reserved at construction
	shared     bool          // draws on the process budget (limit.go)
	held       *atomic.Int64 // seq-cst: bytes taken from the process budget; outlives the arena across Reset
	alignMask  Offset
	limit      Offset // len(chunks) << shift: every offset below it has a chunk

	chunks    [][]byte
	meta      []*slotMeta // per small chunk: live-block tracking, span owners (when used)
	spanShift uint        // log2 of the ThreadLocal span size; 0: no span owners
	trackLive bool        // keep slotMeta.live: Mutex, FixedCapacity and LockFree check frees in every build
	capacity  int64       // bytes of chunk memory held
	slots     int         // slots with memory in use (small chunks and huge regions)
	zeroSmall bool        // slot 0 is a small chunk (its first unit is the nil unit)
	holes     []slotRange // slot ranges free for reuse (fixed: memory held; growable: none)
	kept      []slotRange // released slots kept out of reuse until reuseHeld (LockFree.TrimHold)
	sink      []byte      // what released slots of a growable arena point to
	pub       atomic.Pointer[table]
}

// table is a published, immutable view of the chunk table.
type table struct {
	chunks [][]byte
	meta   []*slotMeta
}

type slotRange struct{ first, n int }

func (a *arena) init(cfg Config) {
	a.shift = uint(bits.TrailingZeros(uint(cfg.ChunkSize)))
	a.alignShift = uint(bits.TrailingZeros(uint(cfg.Alignment)))
	a.chunkSize = int64(cfg.ChunkSize)
	a.align = int64(cfg.Alignment)
	a.alignMask = Offset(cfg.Alignment - 1)
	a.maxBytes = cfg.MaxBytes
	a.shared = cfg.sharedBudget && cfg.FixedCapacity == 0
	if a.held == nil {
		a.held = new(atomic.Int64)
	}
	a.maxSlots = 1 << (unitBits + a.alignShift - a.shift)
	if cfg.FixedCapacity > 0 {
		a.fixed = true
		n := int(cfg.FixedCapacity >> a.shift)
		mem := a.allocMem(cfg.FixedCapacity)
		a.chunks = make([][]byte, n)
		for i := range a.chunks {
			a.chunks[i] = mem[int64(i)<<a.shift:]
		}
		a.meta = make([]*slotMeta, n)
		a.capacity = cfg.FixedCapacity
		a.holes = []slotRange{{0, n}}
	}
	a.publish()
}

func (a *arena) publish() {
	a.limit = Offset(len(a.chunks)) << a.shift
	a.pub.Store(&table{chunks: a.chunks, meta: a.meta}) // release: publishes the table; its chunks and metas were written before
}

// allocMem returns n bytes of zeroed, pointer-free memory aligned to the
// pool's alignment (Go aligns large allocations to pages; the fallback
// over-allocates in case it ever does not).
func (a *arena) allocMem(n int64) []byte {
	// Safety: the []uint64 is reinterpreted as bytes over the same
	// backing array (n and n+align are multiples of 8, so its length
	// covers them); the slice keeps the allocation alive, and it holds no
	// pointers, so the GC never scans the bytes the pool writes. The
	// alignment test and skip only read the address.
	u := make([]uint64, n/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(u))), n)
	if uintptr(unsafe.Pointer(&b[0]))&uintptr(a.align-1) == 0 {
		return b
	}
	u = make([]uint64, (n+a.align)/8)
	b = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(u))), n+a.align)
	skip := (a.align - int64(uintptr(unsafe.Pointer(&b[0]))&uintptr(a.align-1))) & (a.align - 1)
	return b[skip : skip+n : skip+n]
}

// take reserves n consecutive chunk slots (for a small chunk when small is
// set, else a huge region) and returns the first slot. It fails with
// ErrExhausted past MaxBytes, when a fixed pool has no such range, or when
// the slot index space is used up.
func (a *arena) take(n int, small bool) (int, error) {
	bytes := int64(n) << a.shift
	first := -1
	for i, h := range a.holes {
		if h.n >= n {
			first = h.first
			if h.n == n {
				a.holes = append(a.holes[:i], a.holes[i+1:]...)
			} else {
				a.holes[i] = slotRange{h.first + n, h.n - n}
			}
			break
		}
	}
	if a.fixed {
		if first < 0 {
			return 0, fmt.Errorf("%w: fixed capacity %d bytes has no %d free bytes in one range", ErrExhausted, a.capacity, bytes)
		}
		a.zeroSmall = a.zeroSmall || small && first == 0
		if small && (invariants || a.spanShift > 0 || a.trackLive) {
			a.copyTable()
			a.meta[first] = a.newSlotMeta()
			a.publish()
		}
		a.slots += n
		return first, nil
	}
	if a.capacity+bytes > a.maxBytes {
		if first >= 0 {
			a.releaseHole(first, n)
		}
		return 0, fmt.Errorf("%w: growing by %d bytes would pass MaxBytes %d (capacity %d)", ErrExhausted, bytes, a.maxBytes, a.capacity)
	}
	if first < 0 && len(a.chunks)+n > a.maxSlots {
		return 0, fmt.Errorf("%w: chunk index space used up", ErrExhausted)
	}
	if err := a.budgetReserve(bytes); err != nil {
		if first >= 0 {
			a.releaseHole(first, n)
		}
		return 0, err
	}
	mem := a.allocMem(bytes)
	if first >= 0 {
		a.copyTable() // the slots are below the published length
	} else {
		first = len(a.chunks)
		for range n {
			a.chunks = append(a.chunks, nil)
			a.meta = append(a.meta, nil)
		}
	}
	for i := range n {
		a.chunks[first+i] = mem[int64(i)<<a.shift:]
	}
	if small && (invariants || a.spanShift > 0 || a.trackLive) {
		a.meta[first] = a.newSlotMeta()
	}
	a.zeroSmall = a.zeroSmall || small && first == 0
	a.capacity += bytes
	a.slots += n
	a.publish()
	return first, nil
}

// release gives back the n slots from first (a huge region, or a small
// chunk whose blocks are all free): a growable arena drops the memory, a
// fixed one keeps it for reuse.
func (a *arena) release(first, n int) { a.releaseSlots(first, n, false) }

// releaseSlots is release; hold keeps the slots out of reuse (a.kept)
// until reuseHeld.
func (a *arena) releaseSlots(first, n int, hold bool) {
	a.slots -= n
	a.copyTable()
	for i := first; i < first+n; i++ {
		a.meta[i] = nil
	}
	if first == 0 {
		a.zeroSmall = false
	}
	if !a.fixed {
		// The slots point to one shared chunk-sized sink instead of nil, so
		// that every slot below limit has ChunkSize bytes behind it and the
		// fast paths need no nil check: a (bad) free of a small block there
		// writes its link into the sink, never outside Go memory.
		if a.sink == nil {
			a.sink = make([]byte, a.chunkSize)
		}
		for i := first; i < first+n; i++ {
			a.chunks[i] = a.sink
		}
		a.capacity -= int64(n) << a.shift
		a.budgetRelease(int64(n) << a.shift)
	}
	a.publish()
	if hold {
		a.kept = append(a.kept, slotRange{first, n})
		return
	}
	a.releaseHole(first, n)
}

// reuseHeld returns the held slots to the holes and their number.
func (a *arena) reuseHeld() int {
	n := 0
	for _, h := range a.kept {
		a.releaseHole(h.first, h.n)
		n += h.n
	}
	a.kept = a.kept[:0]
	return n
}

// releaseHole adds [first, first+n) to the holes, merging neighbours.
func (a *arena) releaseHole(first, n int) {
	i := 0
	for i < len(a.holes) && a.holes[i].first < first {
		i++
	}
	a.holes = append(a.holes, slotRange{})
	copy(a.holes[i+1:], a.holes[i:])
	a.holes[i] = slotRange{first, n}
	if i+1 < len(a.holes) && a.holes[i].first+a.holes[i].n == a.holes[i+1].first {
		a.holes[i].n += a.holes[i+1].n
		a.holes = append(a.holes[:i+1], a.holes[i+2:]...)
	}
	if i > 0 && a.holes[i-1].first+a.holes[i-1].n == a.holes[i].first {
		a.holes[i-1].n += a.holes[i].n
		a.holes = append(a.holes[:i], a.holes[i+1:]...)
	}
}

// copyTable gives the arena private copies of its slices, so that slots
// below the published length can be written without touching a published
// view.
func (a *arena) copyTable() {
	a.chunks = append([][]byte(nil), a.chunks...)
	a.meta = append([]*slotMeta(nil), a.meta...)
}

// firstOffset is the first usable offset of slot first: slot 0 reserves its
// first alignment unit so that the zero Offset is never a block.
func (a *arena) firstOffset(first int) Offset {
	off := Offset(first) << a.shift
	if first == 0 {
		off += Offset(a.align)
	}
	return off
}

// untouchedFixed is the memory of a fixed arena no chunk or region uses.
func (a *arena) idleBytes() int64 {
	if !a.fixed {
		return 0
	}
	var n int64
	for _, h := range a.holes {
		n += int64(h.n) << a.shift
	}
	for _, h := range a.kept {
		n += int64(h.n) << a.shift
	}
	return n
}

// slotMeta is the metadata of one small chunk, kept only where used.
type slotMeta struct {
	// track is the invariants build's record of the live small blocks: one
	// word per alignment unit, holding the size a live block starting there
	// was allocated with, 0 otherwise.
	track []atomic.Uint32
	// owners holds, for ThreadLocal, the id of the cache owning each span of
	// the chunk (0: the central pool).
	owners []atomic.Uint32
	// live has two bits per alignment unit, a start and an end bit (see
	// markLive), set while a small block that lies inside one word starts
	// or ends there (arena.trackLive: every build of every concurrent
	// level): a double free, a free of an offset that starts no live block,
	// and a free with a size of another class are refused. Bits of
	// different blocks share words, so they change by atomic Or and CAS.
	live []atomic.Uint64
	// cross has one entry per word of live: the live block whose units
	// cross out of that word's 32 units (at most one starts in each word),
	// as crossEntry(start unit, units), 0 for none. Such a block has no
	// bits in live.
	cross []atomic.Uint32
}

func (a *arena) newSlotMeta() *slotMeta {
	m := &slotMeta{}
	if invariants {
		m.track = make([]atomic.Uint32, a.chunkSize>>a.alignShift)
	}
	if a.spanShift > 0 {
		m.owners = make([]atomic.Uint32, 1<<(a.shift-a.spanShift))
	}
	if a.trackLive {
		m.live = make([]atomic.Uint64, (a.chunkSize>>a.alignShift+unitsPerWord-1)/unitsPerWord)
		m.cross = make([]atomic.Uint32, len(m.live))
	}
	return m
}

// The live-block bitmap (slotMeta.live, NoLocking.live) keeps two bits per
// alignment unit, interleaved: bit 2i of a word is the start bit of unit i
// (a live block starts there), bit 2i+1 its end bit (a live block ends
// there: its last unit). A word covers 32 units. Live blocks are disjoint,
// so the bits of a live block's units are exactly its start bit and its
// end bit. A Free of k units at unit u is accepted when the bits of units
// [u, u+k-1] are exactly the start bit of u and the end bit of u+k-1: a
// smaller claimed size finds no end bit at its claimed end (the block's
// end lies beyond it), and a larger one finds the block's true end bit
// inside its range. The bitmap is thus exact for the size class: a double
// free, an offset that starts no live block and a size of another class
// are all refused. (Shift counts are masked to 63 throughout: it spares
// the compiler's over-wide-shift fix-ups on these paths.)
//
// The bits are kept only for blocks that lie inside one word; a block
// whose units cross out of its first word (any block of more than 32
// units, and a smaller one that straddles a word
// boundary) is recorded instead in its first word's cross entry, as its
// start unit and its exact size in units: at most one block crosses out of
// each word, because such a block covers the rest of the word it starts in.
// The check stays exact: a claimed block that lies in one word is checked
// by the bits (a crossing block has none, so an offset where one starts, or
// a range inside one, finds no start bit); a claimed block that crosses is
// accepted exactly when its first word's entry names its start and size.
// Every state change is one atomic instruction on one word, alloc (Or, or
// the entry's Store) and free (a CAS of the word as checked, or of the
// entry from the claimed value to 0) alike, so racing frees of a block have
// exactly one winner, and a free wins only against the state it checked:
// when its CAS succeeds, the claimed block is live at that instant with the
// claimed class. Nothing is walked: a free of any size reads one word.
// NoLocking's single-owner bitmap has the same layout, with plain words.
const unitsPerWord = 32

// crossEntry is the cross entry of a live block of k > 1 units starting at
// unit u (never 0: k is in the high bits).
func crossEntry(u, k uint64) uint32 { return uint32(u%unitsPerWord | k<<5) }

// blockPattern returns, for a block of k units (1 <= k <= 32) whose start
// bit is bit 0, the bits of its units (mask) and the value they have while
// it is live (pat: its start bit and its last unit's end bit). A block
// that crosses a word boundary, its start shifted to bit sh with
// sh+2k > 64, loses its end bit in x>>sh, so (x>>sh)&mask == pat fails for
// it: the caller takes the crossing path.
func blockPattern(k uint64) (mask, pat uint64) {
	return ^uint64(0) >> ((64 - 2*k) & 63), 1 | 1<<((2*k-1)&63)
}

// classPattern is blockPattern for a class of k units, any k: for k above
// 32 a pattern no word matches (its bits always span words).
func classPattern(k uint64) (mask, pat uint64) {
	if k > unitsPerWord {
		return 1, 2
	}
	return blockPattern(k)
}

// liveErr is the error for a small free the bitmap refuses: the block was
// not live (its start bit is clear), or it was allocated with a size of
// another class.
func liveErr(startSet bool, off Offset, size int) error {
	if startSet {
		return fmt.Errorf("%w: block %#x was not allocated with size %d (a size of another class)", ErrInvalidFree, uint64(off), size)
	}
	return fmt.Errorf("%w: offset %#x is not a live block (double free, or never allocated)", ErrInvalidFree, uint64(off))
}

// markLive records a small block of k units handed out (every level but
// NoLocking, which keeps its own bitmap; every build): its start and end
// bits with one atomic Or, or its cross entry. The caller owns the block:
// nobody else changes its bits or its entry.
func markLive(t *table, shift, alignShift uint, off Offset, k uint64) {
	m := t.meta[off>>(shift&63)] // a small chunk: its meta has live
	if u := uint64(off&(1<<(shift&63)-1)) >> (alignShift & 63); !m.markOne(u, k) {
		m.markCross(u, k)
	}
}

// markOne sets the bits of the block of k units at unit u when they share
// a word (one atomic Or), and reports whether they did.
func (m *slotMeta) markOne(u, k uint64) bool {
	e := u + k - 1
	if u/unitsPerWord != e/unitsPerWord {
		return false
	}
	m.live[u/unitsPerWord].Or(1<<(u*2&63) | 2<<(e*2&63)) // relaxed: the bits are the caller's; the free list's own ordering hands the block over
	return true
}

// markCross records a block of k units at unit u that crosses out of its
// first word: its first word's entry (0 until now: no other block crosses
// out of that word while this one is live).
func (m *slotMeta) markCross(u, k uint64) {
	m.cross[u/unitsPerWord].Store(crossEntry(u, k)) // relaxed: the entry is the caller's, as in markOne
}

// unmarkLive checks and records the free of a small block of k units
// (size is the caller's, for the error): an offset that starts no live
// block (a double free, or never handed out) or a size of another class is
// refused before any state changes.
func unmarkLive(t *table, shift, alignShift uint, off Offset, k uint64, size int) error {
	m := t.meta[off>>(shift&63)] // off passed smallOK: its chunk exists
	if m == nil || m.live == nil {
		return fmt.Errorf("%w: offset %#x is not in a small-block chunk", ErrInvalidFree, uint64(off))
	}
	u := uint64(off&(1<<(shift&63)-1)) >> (alignShift & 63)
	if mask, pat := classPattern(k); m.unmarkOne(u, mask, pat) || u%unitsPerWord+k > unitsPerWord && m.unmarkCross(u, k) {
		return nil
	}
	return m.unmarkSlow(u, k, off, size)
}

// unmarkOne checks and clears the bits of a live block at unit u that lies
// in one word, given its class's classPattern (one load, one CAS of the
// word as loaded), and reports whether it did. A crossing block has no
// bits, so its check fails here (the pattern needs a start bit at u), and
// a class above 32 units has a pattern no word matches.
func (m *slotMeta) unmarkOne(u, mask, pat uint64) bool {
	w, sh := &m.live[u/unitsPerWord], u*2&63
	old := w.Load()                                                     // relaxed: the CAS below checks it
	return old>>sh&mask == pat && w.CompareAndSwap(old, old&^(pat<<sh)) // acq-rel: the word as checked, so the claimed block is live with the claimed class when the CAS lands; one winner among racing frees
}

// unmarkCross checks and clears the entry of a live crossing block of k
// units at unit u (one CAS from the claimed entry to 0), and reports
// whether it did.
func (m *slotMeta) unmarkCross(u, k uint64) bool {
	return m.cross[u/unitsPerWord].CompareAndSwap(crossEntry(u, k), 0) // acq-rel: the entry names the claimed start and size exactly; one winner among racing frees
}

// unmarkSlow is the decision after unmarkOne or unmarkCross did not clear
// the block: a block inside one word retries the CAS while the word
// changed only in other blocks' bits; a crossing block whose entry did not
// match, and everything else, is refused (the failed CAS is the refusal's
// instant).
func (m *slotMeta) unmarkSlow(u, k uint64, off Offset, size int) error {
	ws, sh := u/unitsPerWord, u*2&63
	if u%unitsPerWord+k <= unitsPerWord {
		w := &m.live[ws]
		mask, pat := blockPattern(k)
		for {
			old := w.Load() // relaxed: the CAS below checks it
			if old>>sh&mask != pat {
				return liveErr(old>>sh&1 != 0 || m.crossStartsAt(u), off, size)
			}
			if w.CompareAndSwap(old, old&^(pat<<sh)) { // acq-rel, as in unmarkOne
				return nil
			}
		}
	}
	return liveErr(m.live[ws].Load()>>sh&1 != 0 || m.crossStartsAt(u), off, size) // relaxed: only the error's wording
}

// crossStartsAt reports whether a crossing block starts at unit u (for the
// wording of a refusal).
func (m *slotMeta) crossStartsAt(u uint64) bool {
	x := m.cross[u/unitsPerWord].Load() // relaxed: only the error's wording
	return x != 0 && uint64(x)%unitsPerWord == u%unitsPerWord
}

// checkFree is the check every build makes on the free of a small block of
// class c through the table t: a non-zero, aligned offset whose block lies
// inside a chunk, the invariants build's exact record, and the live-block
// bitmap (which it updates). Nothing changes when it returns an error.
func (a *arena) checkFree(t *table, off Offset, size int, c uint) error {
	if !smallOK(a, t.chunks, off, size) {
		return checkSmallOffset(a, t.chunks, off, size)
	}
	if invariants {
		if err := trackFree(t, a.shift, a.alignShift, off, size); err != nil {
			return err
		}
	}
	return unmarkLive(t, a.shift, a.alignShift, off, uint64(c+1), size)
}

// trackAlloc records a small block handed out (invariants build only). A
// block that is already live means the pool is corrupt: it panics.
func trackAlloc(t *table, shift, alignShift uint, off Offset, size int) {
	m := t.meta[off>>shift]
	u := (off & (Offset(1)<<shift - 1)) >> alignShift
	if !m.track[u].CompareAndSwap(0, uint32(size)) { // relaxed: the invariants record; a word is one block's, changed by its owner
		panic(fmt.Sprintf("pool: internal error: block %#x handed out while live", uint64(off)))
	}
}

// trackFree checks and records the free of a small block (invariants build
// only).
func trackFree(t *table, shift, alignShift uint, off Offset, size int) error {
	ci := uint64(off >> shift)
	if ci >= uint64(len(t.meta)) || t.meta[ci] == nil {
		return fmt.Errorf("%w: offset %#x is not in a small-block chunk", ErrInvalidFree, uint64(off))
	}
	m := t.meta[ci]
	u := (off & (Offset(1)<<shift - 1)) >> alignShift
	if m.track[u].CompareAndSwap(uint32(size), 0) { // relaxed, as in trackAlloc
		return nil
	}
	if was := m.track[u].Load(); was != 0 { // relaxed, as in trackAlloc
		return fmt.Errorf("%w: block %#x was allocated with size %d, freed with %d", ErrInvalidFree, uint64(off), was, size)
	}
	return fmt.Errorf("%w: offset %#x is not a live block (double free, or never allocated)", ErrInvalidFree, uint64(off))
}
