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
	a.pub.Store(&table{chunks: a.chunks, meta: a.meta})
}

// allocMem returns n bytes of zeroed, pointer-free memory aligned to the
// pool's alignment (Go aligns large allocations to pages; the fallback
// over-allocates in case it ever does not).
func (a *arena) allocMem(n int64) []byte {
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
	// live has one bit per alignment unit, set while a small block starting
	// there is allocated (arena.trackLive: every build of Mutex,
	// FixedCapacity and LockFree): a double free, or a free of an offset
	// that starts no live block, is refused. Bits of blocks of different
	// classes share words, so they change by atomic Or and And.
	live []atomic.Uint64
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
		m.live = make([]atomic.Uint64, (a.chunkSize>>a.alignShift+63)/64)
	}
	return m
}

// markLive records a small block handed out (arena.trackLive levels, every
// build). The caller owns the block: nobody else changes its bit.
func markLive(t *table, shift, alignShift uint, off Offset) {
	if m := t.meta[off>>shift]; m != nil && m.live != nil {
		u := (off & (Offset(1)<<shift - 1)) >> alignShift
		m.live[u/64].Or(1 << (u % 64)) // relaxed use: the bit is the caller's; the free list's own ordering hands the block over
	}
}

// unmarkLive checks and records the free of a small block: an offset that
// starts no live block (a double free, or never handed out) is refused
// before any state changes.
func unmarkLive(t *table, shift, alignShift uint, off Offset) error {
	m := t.meta[off>>shift] // off passed smallOK: its chunk exists
	if m == nil || m.live == nil {
		return fmt.Errorf("%w: offset %#x is not in a small-block chunk", ErrInvalidFree, uint64(off))
	}
	u := (off & (Offset(1)<<shift - 1)) >> alignShift
	if bit := uint64(1) << (u % 64); m.live[u/64].And(^bit)&bit == 0 {
		return fmt.Errorf("%w: offset %#x is not a live block (double free, or never allocated)", ErrInvalidFree, uint64(off))
	}
	return nil
}

// trackAlloc records a small block handed out (invariants build only). A
// block that is already live means the pool is corrupt: it panics.
func trackAlloc(t *table, shift, alignShift uint, off Offset, size int) {
	m := t.meta[off>>shift]
	u := (off & (Offset(1)<<shift - 1)) >> alignShift
	if !m.track[u].CompareAndSwap(0, uint32(size)) {
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
	if m.track[u].CompareAndSwap(uint32(size), 0) {
		return nil
	}
	if was := m.track[u].Load(); was != 0 {
		return fmt.Errorf("%w: block %#x was allocated with size %d, freed with %d", ErrInvalidFree, uint64(off), was, size)
	}
	return fmt.Errorf("%w: offset %#x is not a live block (double free, or never allocated)", ErrInvalidFree, uint64(off))
}
