package pool

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The free check of ThreadLocal (issue 19 case 7; issue 23's ThreadLocal
// row).
//
// Invariants. Every small block of a ThreadLocal, whoever handed it out,
// is recorded in the arena's live-block record (slotMeta: the bit pairs of
// blocks that lie in one bitmap word, the cross entry of a block that
// crosses out of its first word; see unitsPerWord) from the moment it is
// handed out until the free that clears the record, and only then goes on
// a free list, an inbox or an outbound batch. A record changes by one
// atomic instruction on one word: alloc sets it (Or of the bit pair, or
// Store of the entry, by whoever owns the unrecorded block), a free clears
// it by a CAS from the value it checked (the word as loaded, or the
// claimed entry). So among racing frees of a block exactly one wins, and a
// free wins only when, at its CAS, the claimed block is live with the
// claimed class: the check is exact for the class, in every build, and
// needs nothing else to be stable.
//
// Who may call what. A Cache's Alloc and Free run on one goroutine at a
// time (the Cache's user); the record is shared, so a cache's own pair
// costs two locked instructions (alloc's Or or Store, free's CAS) and
// nothing is walked: a block of any size reads one word on free. A cache
// reaches the record and memory of one of its own spans through its memo
// (Cache.memoSpan), valid while the cache is open: its spans stay its own
// until Close, and a ThreadLocal never releases a small chunk. A free
// through another cache or through the ThreadLocal (a remote free) runs
// the same check on the same words (arena.checkFree, on any goroutine) and
// returns ErrInvalidFree synchronously; only the accepted block travels
// to its owner, in a batch.
//
// Rejected designs.
//   - Bitmap words owned by one cache and written with plain stores, remote
//     frees on a slower synchronized path (what issue 23 asked for: no
//     locked instruction on the owner's pair, or one). It cannot be exact
//     and race-free in Go on amd64: a remote free must tell a block the
//     owner has handed out from one that sits on the owner's free list,
//     and the only thing that differs is what the owner's Alloc wrote; a
//     remote read of a word the owner writes with plain stores is a data
//     race (a bad free racing the block's reuse reads it while the owner
//     writes it), so the owner's write must be atomic, and every atomic
//     write in Go on amd64 (Store included: XCHG) is a locked instruction.
//     The same holds for the owner's Free (a double free racing through
//     another cache must see it). So the owner's pair needs two atomic
//     writes, each its own instant: that is what this design has. Making
//     the remote free wait for the owner instead would hang it on an idle
//     owner (a worker blocked elsewhere), and a deadlock is a bug.
//   - The same with a release store in assembly (a plain MOV on amd64) for
//     the owner's writes and a second, remote-claim bitmap flipped by CAS:
//     one locked instruction per pair, but it leaves the Go memory model
//     (the race detector cannot see the store), and a claim that checks
//     two words cannot be made exact against a block reused with another
//     class between the check and the CAS without a second round of
//     waiting. Not done.
//   - Cookies or generation tags in the block or the offset: user data can
//     forge them (issue 19 wants no probabilistic check).
//   - Walking the bitmap words a long block covers (the former check, about
//     +220 instructions at 4 KiB, and two locked instructions more for a
//     block that straddles two words): the cross entry is exact in one
//     word, because at most one block crosses out of each word.

// ThreadLocal is the level of explicit per-goroutine caches. Go has no
// thread-local storage, so locality is explicit: each goroutine (or worker)
// takes a *Cache with NewCache and allocates and frees through it with no
// synchronization at all. A cache bumps through spans of the arena that it
// owns (Config-derived, 64 KiB to 1 MiB); a block freed through the cache
// that owns it goes back on that cache's free list, and a block freed
// through another cache is returned to its owner: collected per owner and
// pushed onto the owner's inbox (a lock-free list) in batches, which the
// owner takes back when it runs out of blocks.
//
// *ThreadLocal itself is a Pool safe for concurrent use, backed by a central
// LockFree-style pool (its blocks belong to no cache; a free of a
// cache-owned block through it goes to that cache's inbox). Closing a cache
// hands everything it holds to the central pool.
type ThreadLocal struct {
	core      lfCore // the central pool, the arena, the huge heap, g
	spanShift uint
	spanSize  Offset

	// Under core.g:
	scur, send Offset // the rest of the current small chunk, cut into spans
	ccur, cend Offset // the central pool's current span
	chunks     int64  // small chunks taken
	freeIDs    []uint32
	retired    cacheCounters // counters of closed caches

	caches atomic.Pointer[[]*Cache] // by id; index 0 unused (the central pool)
}

var _ Pool = (*ThreadLocal)(nil)

// remoteClassBits is the width of the class index in the link word of a
// block on its way back to its owner: nextUnits<<remoteClassBits | class.
const (
	remoteClassBits = 16
	remoteBatch     = 64         // blocks collected per owner before a push
	inboxClosed     = ^uint64(0) // an inbox that takes nothing more
	maxCaches       = 1<<31 - 1  // ids are uint32
)

// The class index fits in remoteClassBits (a negative length fails to
// compile).
var _ [1<<remoteClassBits - maxClasses]struct{}

// NewThreadLocal returns a ThreadLocal pool for cfg.
func NewThreadLocal(cfg Config) (*ThreadLocal, error) {
	return newLevel(cfg, func(p *ThreadLocal, cfg Config) *arena {
		span := max(64<<10, 4*cfg.MaxFastBlock)
		span = min(1<<bits.Len(uint(span-1)), 1<<20, cfg.ChunkSize)
		p.spanShift = uint(bits.TrailingZeros(uint(span)))
		p.spanSize = Offset(span)
		p.core.a.spanShift = p.spanShift
		a := p.core.init(cfg) // trackLive: the caches keep the live-block bitmap too
		p.core.newSlab = p.centralSlab
		empty := []*Cache{nil}
		p.caches.Store(&empty) // release: before p is returned; nothing reads it yet
		return a
	})
}

// takeSpan cuts the next span from the current small chunk (taking a new
// chunk when it is used up) and records its owner. Under core.g.
func (p *ThreadLocal) takeSpan(owner uint32) (lo, hi Offset, err error) {
	a := &p.core.a
	if p.scur == p.send {
		first, err := a.take(1, true)
		if err != nil && p.core.huge.spare != nil {
			p.core.huge.dropSpare()
			first, err = a.take(1, true)
		}
		if err != nil {
			return 0, 0, err
		}
		p.scur, p.send = a.firstOffset(first), Offset(first+1)<<a.shift
		p.chunks++
	}
	lo = p.scur
	hi = lo&^(p.spanSize-1) + p.spanSize
	p.scur = hi
	if owner != 0 {
		a.pub.Load().meta[lo>>a.shift].owners[(lo&(Offset(a.chunkSize)-1))>>p.spanShift].Store(owner) // release: the span's owner, stored before any block of the span is handed out
	}
	return lo, hi, nil
}

// centralSlab is the central pool's slab source: its own spans (owner 0).
// Under core.g.
func (p *ThreadLocal) centralSlab(n, want Offset) (lo, hi, tlo, thi Offset, err error) {
	if p.cend-p.ccur < n {
		slo, shi, err := p.takeSpan(0)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		tlo, thi = p.ccur, p.cend
		p.ccur, p.cend = slo, shi
	}
	got := min(want, (p.cend-p.ccur)/n*n)
	lo = p.ccur
	p.ccur += got
	return lo, lo + got, tlo, thi, nil
}

// ownerOf returns the id of the cache owning the span of off (0: central).
// off is in a small chunk of t (arena.checkFree accepted it).
func (p *ThreadLocal) ownerOf(t *table, off Offset) uint32 {
	a := &p.core.a
	return t.meta[off>>a.shift].owners[(off&(Offset(a.chunkSize)-1))>>p.spanShift].Load() // acquire: pairs with takeSpan's and Close's stores of the owner
}

// Alloc returns a block of size bytes from the central pool.
func (p *ThreadLocal) Alloc(size int) (Offset, error) { return p.core.alloc(size) }

// Free returns the block at off, allocated with size, through any goroutine:
// a block owned by a cache goes to that cache's inbox, others to the central
// pool.
func (p *ThreadLocal) Free(off Offset, size int) error {
	c := uint(size-1) >> p.core.a.alignShift
	if c >= uint(p.core.nclasses) {
		return p.core.freeHuge(&p.core.cfg, off, size)
	}
	t := p.core.a.pub.Load() // acquire: the chunk table
	if err := p.core.a.checkFree(t, off, size, c); err != nil {
		return err
	}
	if owner := p.ownerOf(t, off); owner == 0 {
		p.core.push(c, off, t)
		p.core.countFree(c)
	} else {
		// One block, sent to its owner as a batch of one; counted as a
		// central free (the central counters are the ones that saw no
		// alloc, which the sum over all counters makes right).
		link := (*uint64)(tptr(t, p.core.a.shift, off))
		*link = uint64(c)
		p.sendChain(owner, off, link, t)
		p.core.countFree(c)
	}
	return nil
}

// sendChain pushes a chain of blocks (remote link format, lastLink the last
// block's link word) onto the inbox of cache id, or to the central pool when
// that cache is closed.
func (p *ThreadLocal) sendChain(id uint32, first Offset, lastLink *uint64, t *table) {
	caches := *p.caches.Load() // acquire: the cache table, published by NewCache and Close
	var q *Cache
	if int(id) < len(caches) {
		q = caches[id]
	}
	if q != nil {
		u := uint64(first) >> p.core.a.alignShift
		class := *lastLink & (1<<remoteClassBits - 1)
		for {
			h := q.inbox.Load() // relaxed: re-read by the CAS
			if h == inboxClosed {
				break
			}
			*lastLink = h<<remoteClassBits | class
			if q.inbox.CompareAndSwap(h, u) { // release: publishes the chain's links to the owner's Swap
				return
			}
		}
		*lastLink = class // end the chain again
	}
	p.chainToCentral(first, t)
}

// chainToCentral pushes every block of a remote-format chain onto the
// central free lists.
func (p *ThreadLocal) chainToCentral(first Offset, t *table) {
	a := &p.core.a
	for off := first; off != 0; {
		w := *(*uint64)(tptr(t, a.shift, off))
		next := Offset(w>>remoteClassBits) << a.alignShift
		p.core.push(uint(w&(1<<remoteClassBits-1)), off, t)
		off = next
	}
}

// Bytes returns the size bytes of the block at off (capacity size).
func (p *ThreadLocal) Bytes(off Offset, size int) []byte {
	return tbytes(p.core.a.pub.Load(), p.core.a.shift, off, size) // acquire: the chunk table
}

// Level returns LevelThreadLocal.
func (p *ThreadLocal) Level() Level { return LevelThreadLocal }

// Config returns the normalized configuration.
func (p *ThreadLocal) Config() Config { return p.core.cfg }

// SpanSize returns the size of the spans caches own.
func (p *ThreadLocal) SpanSize() int { return int(p.spanSize) }

// Stats returns the pool's counters. Caches publish their counters when
// they take their slow path, on Flush and on Close, so the figures can lag
// behind what open caches did since.
func (p *ThreadLocal) Stats() Stats {
	s := Stats{Level: LevelThreadLocal}
	var inUse, untouched int64
	s.Allocs, s.Frees, inUse, untouched = p.core.smallCounts()
	g := &p.core
	g.g.Lock()
	defer g.g.Unlock()
	for _, q := range *p.caches.Load() { // acquire: the cache table
		if q != nil {
			c := q.shared.load()
			s.Allocs += c.allocs
			s.Frees += c.frees
			inUse += c.inUse
			untouched += c.untouched
		}
	}
	s.Allocs += g.hugeAllocs + p.retired.allocs
	s.Frees += g.hugeFrees + p.retired.frees
	inUse += p.retired.inUse
	untouched += int64(p.send-p.scur) + int64(p.cend-p.ccur)
	s.Capacity = g.a.capacity
	s.Chunks = g.a.slots
	s.HugeBytes, s.HugeCount = g.huge.liveBytes, g.huge.liveCount
	s.InUse = inUse + g.huge.liveBytes
	s.Untouched = untouched + g.a.idleBytes()
	s.Free = smallFree(&g.a, p.chunks, inUse, untouched) + g.huge.freeBytes
	s.Fragment = s.Capacity - s.InUse - s.Free - s.Untouched
	return s
}

// cacheCounters are a cache's counters; inUse is what this cache allocated
// less what was freed through it, so it can be negative for one cache and
// only the sum over all caches is the pool's.
type cacheCounters struct {
	allocs, frees    uint64
	inUse, untouched int64
}

// publishedCounters are a cache's counters as last published.
type publishedCounters struct {
	allocs, frees    atomic.Uint64
	inUse, untouched atomic.Int64
}

func (c *publishedCounters) load() cacheCounters {
	return cacheCounters{c.allocs.Load(), c.frees.Load(), c.inUse.Load(), c.untouched.Load()} // relaxed: counters (Stats is not atomic across fields)
}

// Cache is one goroutine's handle on a ThreadLocal pool: a Pool with its own
// free lists and span, used with no synchronization. Only one goroutine at a
// time may use a Cache (hand it over with the usual happens-before). Close it
// when done: what it holds goes back to the central pool.
//
// Blocks may be freed through any cache or through the ThreadLocal: a block
// is returned to the cache that owns its span. Blocks freed for another
// cache wait in this cache (up to 64 per owner) until a batch is full, the
// cache's slow path runs, or Flush or Close is called; call Flush from a
// goroutine that goes idle holding such frees.
type Cache struct {
	p          *ThreadLocal
	cls        []cacheClass
	bump, end  Offset                 // the current span
	tab        *atomic.Pointer[table] // the arena's published table
	id         uint32
	closed     bool
	shift      uint
	alignShift uint
	spanShift  uint
	alignMask  Offset
	chunkMask  Offset
	cnt        cacheCounters

	out   []outBatch // by owner id
	dirty []uint32   // owner ids with a non-empty batch
	spans []Offset   // the spans this cache owns

	// The memo of one span of this cache (the one it last took, or the
	// last one a free found it owns): its index (offset >> spanShift; ^0:
	// none), its chunk's meta and the chunk's memory. The span stays this cache's while the cache is
	// open, and ThreadLocal never releases or replaces a small chunk
	// (its meta and memory are fixed for the pool's life), so the fast
	// paths skip the table and the owner check for its blocks.
	memoSpan uint64
	memoMeta *slotMeta
	memoBase unsafe.Pointer

	_      [lineSize]byte
	inbox  atomic.Uint64 // blocks returned by other goroutines (remote format), or inboxClosed
	_      [lineSize]byte
	shared publishedCounters
}

// cacheClass is a cache's size class: its free list, its classPattern and
// its block size.
type cacheClass struct {
	head      Offset
	mask, pat uint64
	n         int64 // the block size
}

// outBatch is a chain of blocks waiting to go back to one owner.
type outBatch struct {
	first    Offset
	lastLink *uint64
	n        int
}

var _ Pool = (*Cache)(nil)

// NewCache returns a new cache of p for one goroutine.
func (p *ThreadLocal) NewCache() *Cache {
	a := &p.core.a
	q := &Cache{
		p:          p,
		cls:        make([]cacheClass, p.core.nclasses),
		tab:        &a.pub,
		shift:      a.shift,
		alignShift: a.alignShift,
		spanShift:  p.spanShift,
		alignMask:  a.alignMask,
		chunkMask:  Offset(a.chunkSize) - 1,
		memoSpan:   ^uint64(0),
	}
	for c := range q.cls {
		q.cls[c].mask, q.cls[c].pat = classPattern(uint64(c + 1))
		q.cls[c].n = int64(c+1) << a.alignShift
	}
	p.core.g.Lock()
	defer p.core.g.Unlock()
	caches := *p.caches.Load() // acquire: the cache table (under g)
	if n := len(p.freeIDs); n > 0 {
		q.id = p.freeIDs[n-1]
		p.freeIDs = p.freeIDs[:n-1]
	} else {
		q.id = uint32(len(caches))
		if q.id == 0 || int(q.id) > maxCaches {
			panic("pool: too many ThreadLocal caches")
		}
	}
	next := append([]*Cache(nil), caches...)
	for len(next) <= int(q.id) {
		next = append(next, nil)
	}
	next[q.id] = q
	p.caches.Store(&next) // release: publishes the cache table with the new cache
	return q
}

// Level returns LevelThreadLocal.
func (q *Cache) Level() Level { return LevelThreadLocal }

// Pool returns the ThreadLocal the cache belongs to.
func (q *Cache) Pool() *ThreadLocal { return q.p }

// Alloc returns a block of size bytes.
func (q *Cache) Alloc(size int) (Offset, error) {
	c := uint(size-1) >> (q.alignShift & 63)
	if !invariants && c < uint(len(q.cls)) {
		h := &q.cls[c]
		var m *slotMeta
		off := h.head
		if off != 0 {
			var p unsafe.Pointer
			m, p = q.locate(off)
			h.head = *(*Offset)(p)
		} else if n := Offset(c+1) << (q.alignShift & 63); q.end-q.bump >= n {
			off = q.bump
			q.bump += n
			m, _ = q.locate(off)
		}
		if off != 0 {
			q.cnt.allocs++
			q.cnt.inUse += h.n
			if u := uint64(off&q.chunkMask) >> (q.alignShift & 63); !m.markOne(u, uint64(c+1)) {
				m.markCross(u, uint64(c+1))
			}
			return off, nil
		}
	}
	return q.allocSlow(size)
}

// locate returns the meta of off's chunk and a pointer to off's memory:
// from the memo when off lies in the cache's current span, else through
// the published table.
func (q *Cache) locate(off Offset) (*slotMeta, unsafe.Pointer) {
	if uint64(off)>>(q.spanShift&63) == q.memoSpan {
		return q.memoMeta, unsafe.Add(q.memoBase, off&q.chunkMask) // Safety: off lies in the memo's chunk (see memoBase)
	}
	t := q.tab.Load() // acquire: the table with every chunk this cache's blocks lie in
	return t.meta[off>>(q.shift&63)], tptr(t, q.shift, off)
}

// Free returns the block at off, allocated with size (through any cache or
// the ThreadLocal).
func (q *Cache) Free(off Offset, size int) error {
	c := uint(size-1) >> (q.alignShift & 63)
	if !invariants && c < uint(len(q.cls)) && off&q.alignMask == 0 && off != 0 {
		var m *slotMeta
		var p unsafe.Pointer
		if uint64(off)>>(q.spanShift&63) == q.memoSpan {
			m, p = q.memoMeta, unsafe.Add(q.memoBase, off&q.chunkMask) // Safety: off lies in the memo's chunk (see memoBase)
		} else {
			m, p = q.ownMeta(off)
		}
		// m != nil: the block lies in a span of this cache. Anything
		// but a clean free (a refusal, a CAS that lost to a neighbour's
		// change) goes to freeSlow, which checks again from the start: a
		// failed try changed nothing.
		if m != nil {
			h := &q.cls[c]
			u, k := uint64(off&q.chunkMask)>>(q.alignShift&63), uint64(c+1)
			if m.unmarkOne(u, h.mask, h.pat) || u%unitsPerWord+k > unitsPerWord && m.unmarkCross(u, k) {
				*(*Offset)(p) = h.head
				h.head = off
				q.cnt.frees++
				q.cnt.inUse -= h.n
				return nil
			}
		}
	}
	return q.freeSlow(off, size)
}

// ownMeta returns the meta of off's chunk and a pointer to off's memory
// when off lies in a span this cache owns, and makes that span the memo;
// else nil.
func (q *Cache) ownMeta(off Offset) (*slotMeta, unsafe.Pointer) {
	t := q.tab.Load() // acquire: the chunk table (tab is the arena's pub)
	if ci := uint64(off >> (q.shift & 63)); ci < uint64(len(t.meta)) {
		if m := t.meta[ci]; m != nil && m.owners[(off&q.chunkMask)>>(q.spanShift&63)].Load() == q.id { // relaxed: only this cache stores its own id
			// The block lies in the chunk: the span is ours, and only
			// blocks inside spans have an owner.
			q.memoize(t, off)
			return m, tptr(t, q.shift, off)
		}
	}
	return nil, nil
}

// memoize makes the span of off, one of this cache's, the memo.
func (q *Cache) memoize(t *table, off Offset) {
	ci := off >> q.shift
	q.memoSpan, q.memoMeta = uint64(off)>>q.spanShift, t.meta[ci]
	q.memoBase = unsafe.Pointer(unsafe.SliceData(t.chunks[ci])) // Safety: the chunk never moves and is never released (ThreadLocal); the pointer keeps it alive
}

// Bytes returns the size bytes of the block at off (capacity size).
func (q *Cache) Bytes(off Offset, size int) []byte {
	return tbytes(q.tab.Load(), q.shift, off, size) // acquire: the chunk table
}

// Stats publishes the cache's counters and returns the pool's.
func (q *Cache) Stats() Stats {
	if !q.closed {
		q.publish()
	}
	return q.p.Stats()
}

func (q *Cache) publish() {
	q.shared.allocs.Store(q.cnt.allocs)             // relaxed: counters, read by Stats
	q.shared.frees.Store(q.cnt.frees)               // relaxed, as above
	q.shared.inUse.Store(q.cnt.inUse)               // relaxed, as above
	q.shared.untouched.Store(int64(q.end - q.bump)) // relaxed, as above
}

//go:noinline
func (q *Cache) allocSlow(size int) (Offset, error) {
	p := q.p
	if q.closed {
		return 0, ErrCacheClosed
	}
	defer q.publish()
	if err := checkSize(&p.core.cfg, size); err != nil {
		return 0, err
	}
	if size > p.core.cfg.MaxFastBlock {
		off, err := p.core.allocHuge(&p.core.cfg, size)
		return off, err
	}
	c := uint(size-1) >> q.alignShift
	n := Offset(c+1) << q.alignShift
	q.flushAll()
	q.drainInbox()
	off, err := q.takeSmall(c, n)
	if err != nil {
		return 0, err
	}
	if invariants {
		trackAlloc(q.tab.Load(), q.shift, q.alignShift, off, size) // acquire: the chunk table
	}
	markLive(q.tab.Load(), q.shift, q.alignShift, off, uint64(c+1)) // acquire: the chunk table
	q.cnt.allocs++
	q.cnt.inUse += int64(n)
	return off, nil
}

// takeSmall finds a block of class c: the local free list (refilled from the
// inbox), the span, the central pool, a new span, then (when the arena
// cannot grow) a larger block split from the local or central free lists.
func (q *Cache) takeSmall(c uint, n Offset) (Offset, error) {
	p := q.p
	if off := q.pop(c); off != 0 {
		return off, nil
	}
	if q.end-q.bump >= n {
		off := q.bump
		q.bump += n
		return off, nil
	}
	if off := p.core.popOther(c, nil); off != 0 {
		return off, nil // a central block: freed, it goes back there
	}
	p.core.g.Lock()
	lo, hi, err := p.takeSpan(q.id)
	p.core.g.Unlock()
	if err == nil {
		q.pushLocalRange(q.bump, q.end)
		q.spans = append(q.spans, lo)
		q.bump, q.end = lo+n, hi
		q.memoize(q.tab.Load(), lo) // acquire: the table with the span's chunk
		return lo, nil
	}
	// Split the largest free block of a larger class (local first, then
	// central): it becomes the bump range.
	for d := uint(len(q.cls)) - 1; d > c; d-- {
		b := q.pop(d)
		if b == 0 {
			b = p.core.popOther(d, nil)
		}
		if b != 0 {
			q.pushLocalRange(q.bump, q.end)
			q.bump, q.end = b+n, b+Offset(d+1)<<q.alignShift
			return b, nil
		}
	}
	return 0, err
}

func (q *Cache) pop(c uint) Offset {
	h := &q.cls[c]
	off := h.head
	if off != 0 {
		h.head = *(*Offset)(tptr(q.tab.Load(), q.shift, off)) // acquire: the chunk table
	}
	return off
}

func (q *Cache) pushLocal(off Offset, c uint) {
	h := &q.cls[c]
	*(*Offset)(tptr(q.tab.Load(), q.shift, off)) = h.head // acquire: the chunk table
	h.head = off
}

// pushLocalRange puts [lo, hi) on the local free lists in pieces of at most
// MaxFastBlock bytes.
func (q *Cache) pushLocalRange(lo, hi Offset) {
	for lo < hi {
		n := min(hi-lo, Offset(q.p.core.cfg.MaxFastBlock))
		q.pushLocal(lo, uint(n>>q.alignShift-1))
		lo += n
	}
}

// drainInbox takes every block other goroutines returned to this cache onto
// the local free lists.
func (q *Cache) drainInbox() {
	if q.inbox.Load() == 0 { // relaxed: a hint; the Swap below acquires
		return
	}
	for u := q.inbox.Swap(0); u != 0; { // acquire: takes the chain and the links its senders wrote
		off := Offset(u) << q.alignShift
		w := *(*uint64)(tptr(q.tab.Load(), q.shift, off)) // acquire: the chunk table
		u = w >> remoteClassBits
		q.pushLocal(off, uint(w&(1<<remoteClassBits-1)))
	}
}

//go:noinline
func (q *Cache) freeSlow(off Offset, size int) error {
	p := q.p
	if q.closed {
		return ErrCacheClosed
	}
	c := uint(size-1) >> q.alignShift
	if c >= uint(len(q.cls)) {
		err := p.core.freeHuge(&p.core.cfg, off, size)
		return err
	}
	t := p.core.a.pub.Load() // acquire: the chunk table
	if err := p.core.a.checkFree(t, off, size, c); err != nil {
		return err
	}
	owner := p.ownerOf(t, off)
	q.cnt.frees++
	q.cnt.inUse -= int64(c+1) << q.alignShift
	switch owner {
	case q.id:
		q.pushLocal(off, c)
	case 0:
		p.core.push(c, off, t)
	default:
		q.sendRemote(owner, off, c)
	}
	return nil
}

// sendRemote adds a block to the batch for its owner, pushing the batch when
// it is full.
func (q *Cache) sendRemote(owner uint32, off Offset, c uint) {
	for len(q.out) <= int(owner) {
		q.out = append(q.out, outBatch{})
	}
	b := &q.out[owner]
	link := (*uint64)(tptr(q.tab.Load(), q.shift, off)) // acquire: the chunk table
	*link = uint64(b.first)>>q.alignShift<<remoteClassBits | uint64(c)
	if b.n == 0 {
		b.lastLink = link
		q.dirty = append(q.dirty, owner)
	}
	b.first = off
	b.n++
	if b.n >= remoteBatch {
		q.flush(owner)
	}
}

// flush pushes the batch for owner.
func (q *Cache) flush(owner uint32) {
	b := &q.out[owner]
	if b.n == 0 {
		return
	}
	q.p.sendChain(owner, b.first, b.lastLink, q.tab.Load()) // acquire: the chunk table
	*b = outBatch{}
	for i, id := range q.dirty {
		if id == owner {
			q.dirty[i] = q.dirty[len(q.dirty)-1]
			q.dirty = q.dirty[:len(q.dirty)-1]
			break
		}
	}
}

func (q *Cache) flushAll() {
	for len(q.dirty) > 0 {
		q.flush(q.dirty[len(q.dirty)-1])
	}
}

// Flush pushes the blocks freed for other caches to their owners, takes in
// the blocks others returned to this one, and publishes the cache's
// counters.
func (q *Cache) Flush() {
	if q.closed {
		return
	}
	q.flushAll()
	q.drainInbox()
	q.publish()
}

// Close flushes the cache and hands everything it holds to the central
// pool: its free blocks, the rest of its span, and its spans (blocks in them
// freed later go to the central pool). Blocks allocated through the cache
// stay valid and may be freed through any cache or the ThreadLocal. A
// closed cache returns ErrCacheClosed from Alloc and Free. Close is
// idempotent.
func (q *Cache) Close() {
	if q.closed {
		return
	}
	p := q.p
	q.flushAll()
	a := &p.core.a
	t := a.pub.Load() // acquire: the chunk table
	// Mark the spans central first, then close the inbox: a free that saw
	// this cache as the owner before the marks either reached the inbox
	// before it closed (drained below) or finds it closed (and goes to the
	// central pool).
	for _, lo := range q.spans {
		t.meta[lo>>a.shift].owners[(lo&q.chunkMask)>>q.spanShift].Store(0) // release: later frees of the span go to the central pool (see the comment above)
	}
	if u := q.inbox.Swap(inboxClosed); u != 0 { // acq-rel: closes the inbox and takes what was in it
		p.chainToCentral(Offset(u)<<q.alignShift, t)
	}
	for c := range q.cls {
		for off := q.pop(uint(c)); off != 0; off = q.pop(uint(c)) {
			p.core.push(uint(c), off, t)
		}
	}
	p.core.pushRange(q.bump, q.end)
	q.bump, q.end = 0, 0
	q.memoSpan, q.memoMeta, q.memoBase = ^uint64(0), nil, nil
	q.closed = true
	p.core.g.Lock()
	defer p.core.g.Unlock()
	p.retired.allocs += q.cnt.allocs
	p.retired.frees += q.cnt.frees
	p.retired.inUse += q.cnt.inUse
	next := append([]*Cache(nil), *p.caches.Load()...) // acquire: the cache table (under g)
	next[q.id] = nil
	p.caches.Store(&next) // release: publishes the cache table without this cache
	p.freeIDs = append(p.freeIDs, q.id)
	q.cls, q.out, q.dirty, q.spans = nil, nil, nil, nil
}
