package trie

// Memory of the concurrent forms (Concurrent at OneWriteMultiRead and
// MultiWriteMultiRead): the readers' view of the arena chunks, the value
// slots, the writer state and the retire queue.
//
// Who may call what: readers (Get, Contains, iterators, a writer's
// descent) call nodeAt, nodeAtCold and value only; everything on wstate
// belongs to one writer state's owner: the writer-role holder at
// OneWriteMultiRead (c.w), the holder of a writer slot's mutex at
// MultiWriteMultiRead (c.slots[i].w, mwmr.go).
//
// Invariants:
//   - One-writer nodes live in a structures/pool NoLocking pool that only
//     the writer touches. Multi-writer nodes live in one pool.LockFree
//     shared by every writer slot (each slot has its own arena struct over
//     it, for its own byte count): any slot allocates, and any slot frees a
//     node whatever slot allocated it, with no common lock. Readers never
//     call a pool (NoLocking keeps its chunk table in a plain slice that
//     growth rewrites). They read chunks
//     through view, an immutable table republished (release) whenever an
//     allocation lands in a chunk the view lacks, before any node in that
//     chunk is published: by the writer (grew) at OneWriteMultiRead, by the
//     allocating slot under gmu (mwGrew, checked after every allocation) at
//     MultiWriteMultiRead.
//   - The node pool has no huge blocks (MaxFastBlock covers the largest
//     node, see concurrentPoolConfig). In the one-writer form, while an
//     arena lives its chunk slots are only ever appended and never change:
//     an older view's table for it is a correct prefix of a newer one. In
//     the multi-writer form Reclaim releases fully free chunks
//     (mwcompact.go): their entries become nil, and a released slot is
//     reused only after every reader that could hold a view with its old
//     address has left; entries are filled when an allocation lands in
//     their chunk (mwGrew). A reader that meets a ref beyond its view, or
//     in a chunk whose entry is nil, reloads it (the ref was published
//     after the chunk's view). The view has a table per arena (bit 31 of a ref); an arena is
//     reset only after a compaction moved every node out of it and every
//     reader that could hold one of its refs has left (ocompact.go).
//   - A published node changes only as owinplace.go (one-writer) and
//     mwmr.go (multi-writer, under the node's lock) allow: its header-value
//     word (loaded and stored as one atomic word), a child appended past its
//     count, its child slots (atomic), and its lock word (in front of it,
//     multi-writer). Its prefix and first count labels never change.
//   - Value slots are written once before the node or leaf ref naming them
//     is published, and only cleared when reclaimed: a replaced value gets a
//     new slot. A writer state hands out slots from its free list, then
//     from a range of one whole value chunk it took (takeValues: the
//     directory grows by that chunk under gmu, release-published before any
//     slot in it is named), so writer slots share no counter; a slot freed
//     by reclamation goes to the reclaiming state's free list, and a
//     multi-writer slot holding more than one batch (valBatch) beyond one
//     hands whole batches to c.vshared (under gmu), which takeValues
//     drains before it grows the directory.
//   - Each writer state retires into its own queue and reclaims it against
//     the one epoch domain; statistics are published as deltas (sums over
//     the slots), by a multi-writer slot only once its share moved 16 KiB
//     or when flushed (Reclaim, relief). The one writer, the only writer
//     of its figures, stores its node count and arena bytes whole, in one
//     word (owStats, packStats), at every publication that moved them.
//   - Reclamation: an unlinked node or value slot is retired at the domain's
//     epoch read after the unlink was published, and handed back only once
//     EpochDomain.SafeBelow passes that epoch, when no reader (Get,
//     Contains, a writer's descent at MultiWriteMultiRead, an iterator) that
//     could have reached it is still inside. Exception: the one writer frees
//     a node it unlinks at once while it is quiet and no reader entered
//     since it cleared c.rdIn (owinplace.go, "Quiet frees").
//
// Rejected: letting readers use the pool's Ptr (a data race with growth:
// the pool's slice header is rewritten); reading the view once per node
// (an atomic load per level for a case, slot reuse, the no-huge-blocks
// configuration rules out); Go pointers for values written in place (a
// torn read for multi-word V); for the multi-writer form, a NoLocking pool
// per writer slot with the slot in the ref's top bits (bit 31 already names
// the one-writer compaction arena; more bits would cut every arena's
// address space, single-owner Trie included, or cost a mask load on its
// read path) or chunks interleaved between slots (needs chunk placement
// the pool does not offer); one shared value counter (an atomic per write
// that both cores' writers would bounce).

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/structures/pool"
)

// view is an immutable table of chunk base addresses, indexed by arena
// (bit 31 of a ref: the one-writer form's compaction target is the second)
// and chunk; hot repeats the table of the arena in use (hotBit: its ref
// bit) for nodeAt's fast path.
type view struct {
	hot    []unsafe.Pointer
	hotBit uint32
	chunks [2][]unsafe.Pointer
}

// withHot returns v with hot set to arena a's table.
func (v view) withHot(a int) *view {
	v.hot, v.hotBit = v.chunks[a], uint32(a)<<31
	return &v
}

// valChunkBits sizes the value store's chunks (1024 slots).
const valChunkBits = 10

type valChunk[V any] [1 << valChunkBits]V

// valDir is an immutable directory of value chunks.
type valDir[V any] struct {
	chunks []*valChunk[V]
}

// retiree is a node (size > 0: its nodeSize) or a value slot (size == 0)
// unlinked at epoch.
type retiree struct {
	epoch uint64
	ref   uint32
	size  uint32
}

// wstate is the writer side: the arena and its builders, value slot
// allocation, the freshness of nodes not yet published (one-writer form) and
// the retire queue. Only its owner (the writer-role holder for c.w, a
// writer slot's mutex holder for that slot's) touches it, except mwKeys
// (loaded by Len).
type wstate[V any] struct {
	c    *Concurrent[V]
	core core[V] // the arena and the builders; core's own value slots are unused

	vnext, vend uint32   // the value-slot range taken (takeValues) and not yet handed out
	vhanded     int      // value slots handed out from taken ranges (checkConcurrent)
	vfree       []uint32 // reclaimed value slots

	// keys is this multi-writer slot's share of the key count (adds minus
	// deletes made through it; Len sums the slots): written by the slot
	// holder only, so writers on different slots share no counter.
	mwKeys atomic.Int64

	root    uint32    // one-writer: the root being built, published by publish
	keys    int64     // one-writer: the key count of root
	pubs    uint64    // one-writer: publications + 1
	pub     uint64    // one-writer: pubFields of the last publication (cwriter.go)
	dirty   bool      // one-writer: root or keys changed since publication
	fresh   []uint64  // one-writer: bitmap (bit = ref>>1) of unpublished nodes
	freshed []uint32  // refs whose fresh bit was set
	track   bool      // one-writer: freshness is tracked
	pend    []retiree // one-writer: unlinked since publication (epoch set at publish)

	// One-writer quiet frees (owinplace.go): quiet once SafeBelow passed
	// quietFrom, the epoch read right after the writer last cleared c.rdIn.
	quiet     bool
	quietFrom uint64

	ret      []retiree // retired, oldest first, from rhead
	rhead    int
	sinceAdv int // retirements since the last TryAdvance

	// The statistics last published (publishStats, reclaim): a publication
	// stores only those that changed.
	statNodes, statBytes, statPending int
}

// ---- readers' view of the chunks ----

// nodeAt returns the node at ref, reloading the view if ref lies beyond it.
//
// Safety: ref names a node published to the caller (loaded from the root or
// a child slot with acquire, under an epoch guard), so its chunk is in any
// view loaded after that load, and its bytes stay valid until reclaimed.
func (c *Concurrent[V]) nodeAt(v *view, ref uint32) (node, *view) {
	if ref&refArenaBit != v.hotBit {
		return c.nodeAtCold(v, ref)
	}
	off := uint64(ref^v.hotBit) << refShift
	ci := off >> c.shift
	if ci >= uint64(len(v.hot)) || v.hot[ci] == nil {
		return c.nodeAtCold(c.view.Load(), ref) // acquire: the chunk was published before ref
	}
	n := node{unsafe.Add(v.hot[ci], off&c.mask)}
	if h, _ := loadHV(n); poisonCheck && h == poisonHdr {
		panic("trie: reader reached a reclaimed node (use after reclamation)")
	}
	return n, v
}

// nodeAtCold is nodeAt for a ref of the arena that is not v's hot one (in
// flight during a compaction), beyond v's hot table, or in a chunk v has
// no address for (multi-writer: a chunk released by Reclaim, or not
// allocated from when v was published, that an allocation has used
// since); out of line so that nodeAt's common case stays small.
//
// Safety: as nodeAt.
func (c *Concurrent[V]) nodeAtCold(v *view, ref uint32) (node, *view) {
	a := ref >> 31
	off := uint64(ref&^refArenaBit) << refShift
	ci := off >> c.shift
	if ci >= uint64(len(v.chunks[a])) || v.chunks[a][ci] == nil {
		v = c.view.Load() // acquire: the chunk was published before ref
	}
	if v.chunks[a][ci] == nil {
		panic("trie: internal error: a ref into a chunk the readers' view lacks")
	}
	n := node{unsafe.Add(v.chunks[a][ci], off&c.mask)}
	if h, _ := loadHV(n); poisonCheck && h == poisonHdr {
		panic("trie: reader reached a reclaimed node (use after reclamation)")
	}
	return n, v
}

// grew is arena a's hook after a slow-path allocation at off: it
// republishes the view when the pool gained chunks. Writer only.
func (c *Concurrent[V]) grew(a int, off pool.Offset) {
	v := c.view.Load()
	ci := int(uint64(off) >> c.shift)
	if ci < len(v.chunks[a]) {
		c.arenas[a].seen = pool.Offset(len(v.chunks[a])) << c.shift
		return
	}
	p := c.arenas[a].p
	old := v.chunks[a]
	var nt view
	nt.chunks = v.chunks
	nt.chunks[a] = make([]unsafe.Pointer, ci+1, max(2*(ci+1), 8))
	nv := &nt
	copy(nv.chunks[a], old)
	for i := len(old); i <= ci; i++ {
		// Safety: every chunk index up to the one just allocated from exists
		// (chunks are appended in order, never released while the arena
		// lives: no huge blocks); Ptr at the chunk's first byte is its base.
		nv.chunks[a][i] = p.Ptr(pool.Offset(i) << c.shift)
	}
	nv = nv.withHot(c.cur)
	c.view.Store(nv) // release: publishes the chunk before any node in it
	c.arenas[a].seen = pool.Offset(ci+1) << c.shift
	c.storeCapacity()
}

// storeCapacity publishes the capacity of both arenas. Writer only.
func (c *Concurrent[V]) storeCapacity() {
	n := 0
	for _, a := range c.arenas {
		if a != nil {
			n += a.capacity()
		}
	}
	c.capacity.Store(int64(n)) // relaxed: a statistic
}

// publishStats publishes the node count and arena bytes in use where they
// changed, as deltas (each multi-writer slot publishes its own share; the
// figures are sums). At MultiWriteMultiRead a slot publishes only once its
// share moved by mwStatBytes or more (or when flushed: Reclaim, relief),
// so that writers on other cores do not share a statistics cache line
// per write. The one writer publishes every change: users (the sharded
// trie's stats page) read exact figures after a few writes; applying the
// threshold there too saved two atomic adds per write but showed a small
// trie as 0 bytes (issue 23). Writer (slot holder) only.
func (w *wstate[V]) publishStats() {
	if w.c.multi && !w.c.atCap() {
		if d := w.core.mem.bytesInUse() - w.statBytes; d < mwStatBytes && d > -mwStatBytes {
			return
		}
	}
	w.publishStatsNow()
}

// storeOwStats publishes the one writer's node count n and arena bytes b
// (one store; publish calls it directly on a per-key write). One-writer
// form only.
func (w *wstate[V]) storeOwStats(n, b int) {
	w.c.owStats.Store(packStats(n, b)) // relaxed: a statistic (one word keeps its two figures consistent)
	w.statNodes, w.statBytes = n, b
}

// packStats packs the one writer's node count and arena bytes into one
// word: nodes in the upper 32 bits, bytes/8 in the lower (a node arena's
// blocks are multiples of the pool's Alignment, at least 8, and an arena
// addresses at most maxArenaBytes = 2^33 bytes, so both fit).
func packStats(nodes, bytes int) uint64 {
	return uint64(nodes)<<32 | uint64(bytes)>>3
}

// statFigures returns the published node count and arena bytes: the
// one writer's packed word, or the multi-writer slots' sums.
func (c *Concurrent[V]) statFigures() (nodes, bytes int64) {
	if !c.multi {
		x := c.owStats.Load() // relaxed: a statistic
		return int64(x >> 32), int64(x&(1<<32-1)) << 3
	}
	return c.nodes.Load(), c.arenaBytes.Load() // relaxed: statistics
}

// mwStatBytes is how far a multi-writer slot's arena bytes may drift before
// the slot publishes them (publishStats), while the arena is below its
// insert cap (at the cap every change is published: checkCap).
const mwStatBytes = 16 << 10

// publishStatsNow is publishStats without the multi-writer threshold.
func (w *wstate[V]) publishStatsNow() {
	c := w.c
	if !c.multi {
		// The one writer is the only writer of its figures: both go out in
		// one word (one locked instruction per per-key write whose
		// figures moved, where two adds were two).
		if n, b := w.core.nodes, w.core.mem.bytesInUse(); n != w.statNodes || b != w.statBytes {
			w.storeOwStats(n, b)
		}
		return
	}
	if n := w.core.nodes; n != w.statNodes {
		c.nodes.Add(int64(n - w.statNodes)) // relaxed: a statistic
		w.statNodes = n
	}
	if b := w.core.mem.bytesInUse(); b != w.statBytes {
		c.arenaBytes.Add(int64(b - w.statBytes)) // relaxed: a statistic
		w.statBytes = b
	}
}

// treeCopy copies a tree into arena dst: what both forms' compactions do
// (ocompact.go, mwcompact.go). Nothing may write the source meanwhile (the
// one writer holds its role; the multi-writer Reclaim holds every writer
// slot and every node's lock).
type treeCopy struct {
	node  func(ref uint32) node // resolves a source ref
	dst   *arena
	fail  func() bool // tests: failAlloc (nil: never fail)
	nodes int         // nodes copied
}

// copy copies the subtree at ref and returns the copy's ref; inline leaves
// and value slots are kept. On error the partial copy is left in dst (the
// caller drops it).
func (cp *treeCopy) copy(ref uint32) (uint32, error) {
	if ref == 0 || isLeafRef(ref) {
		return ref, nil
	}
	if cp.fail != nil && cp.fail() {
		return 0, errInjected
	}
	n := cp.node(ref)
	h := n.hdr()
	size := nodeSize(h)
	nr, dn, err := cp.dst.alloc(size)
	if err != nil {
		return 0, err
	}
	cp.nodes++
	// Safety: both blocks are size bytes (nodeSize of the same header);
	// nothing writes the source (see treeCopy).
	copy(unsafe.Slice((*byte)(dn.p), size), unsafe.Slice((*byte)(n.p), size))
	slots := h.count()
	if h.dense() {
		slots = denseSlots
	}
	for i := range slots {
		s := dn.childSlot(h, i)
		if *s == 0 {
			continue
		}
		cr, err := cp.copy(*s)
		if err != nil {
			return 0, err
		}
		*s = cr
	}
	return nr, nil
}

// ---- value slots ----

// value returns the value in slot idx (published to the caller).
func (c *Concurrent[V]) value(idx uint32) V {
	if c.noValues {
		var zero V
		return zero
	}
	d := c.vals.Load() // acquire: the directory covering idx
	return d.chunks[idx>>valChunkBits][idx&(1<<valChunkBits-1)]
}

// newValue stores v in a free slot and returns its index. Slot holder
// only: the slot's free list first, then its taken range.
func (w *wstate[V]) newValue(v V) (uint32, error) {
	c := w.c
	if c.noValues {
		return 0, nil
	}
	if len(w.vfree) == 0 && w.vnext == w.vend {
		if err := w.takeValues(); err != nil {
			return 0, err
		}
	}
	var idx uint32
	if k := len(w.vfree); k > 0 {
		idx = w.vfree[k-1]
		w.vfree = w.vfree[:k-1]
	} else {
		idx = w.vnext
		w.vnext++
		w.vhanded++
	}
	d := c.vals.Load() // acquire: covers idx (its chunk was added before idx was handed out)
	d.chunks[idx>>valChunkBits][idx&(1<<valChunkBits-1)] = v
	c.markYoungValue(idx) // snapshot.go
	return idx, nil
}

// takeValues gives w value slots: a batch of free slots another writer
// slot shared (shareValues), else a fresh chunk (the directory grows by
// one chunk) — under the growth mutex (writer slots take whole chunks or
// batches, so their slots never share a counter).
func (w *wstate[V]) takeValues() error {
	c := w.c
	c.gmu.Lock()
	defer c.gmu.Unlock()
	if k := len(c.vshared); k > 0 {
		w.vfree = append(w.vfree, c.vshared[k-1]...)
		c.vshared[k-1] = nil
		c.vshared = c.vshared[:k-1]
		return nil
	}
	if c.vc.limit.Load() != 0 {
		// A value shrink is pending (valcompact.go): take the parked slots
		// back (cancelling it) before the directory grows above them.
		w.unparkValues()
		if len(w.vfree) > 0 {
			return nil
		}
	}
	d := c.vals.Load()
	ci := len(d.chunks)
	if uint64(ci+1)<<valChunkBits-1 > maxValueIndex {
		return errTooManyValues
	}
	nd := &valDir[V]{chunks: append(append(make([]*valChunk[V], 0, 2*ci+2), d.chunks...), new(valChunk[V]))}
	c.vals.Store(nd)                                                                // release: the new chunk before any slot in it is named
	c.valueBytes.Store(int64(len(nd.chunks)) * int64(unsafe.Sizeof(valChunk[V]{}))) // relaxed: a statistic
	w.vnext, w.vend = uint32(ci)<<valChunkBits, uint32(ci+1)<<valChunkBits
	return nil
}

// freeValue clears slot idx (for the garbage collector) and makes it
// reusable. Writer only; idx must be unreachable by readers.
func (w *wstate[V]) freeValue(idx uint32) {
	c := w.c
	if c.noValues {
		return
	}
	var zero V
	d := c.vals.Load()
	d.chunks[idx>>valChunkBits][idx&(1<<valChunkBits-1)] = zero
	if l := c.vc.limit.Load(); l != 0 && idx >= l {
		c.parkValue(idx) // a shrink is pending: keep it out of use (valcompact.go)
		return
	}
	w.vfree = append(w.vfree, idx)
}

// valBatch is how many free value slots a multi-writer slot shares with
// the others at a time (shareValues, takeValues).
const valBatch = 1 << valChunkBits

// shareValues moves w's free value slots beyond keep, in batches of
// valBatch, to the batches every multi-writer slot takes from before the
// value directory grows: a slot that deletes more than it inserts would
// otherwise keep its freed slots while the others grew the directory
// (issue 19 case 8). Slot holder only; takes gmu (a leaf lock).
func (w *wstate[V]) shareValues(keep int) {
	c := w.c
	if !c.multi || len(w.vfree) < keep+valBatch {
		return
	}
	c.gmu.Lock()
	for len(w.vfree) >= keep+valBatch {
		k := len(w.vfree) - valBatch
		c.vshared = append(c.vshared, slices.Clone(w.vfree[k:]))
		w.vfree = w.vfree[:k]
	}
	c.gmu.Unlock()
}

// newValueLeaf stores v and builds the leaf for suffix. Writer only.
func (w *wstate[V]) newValueLeaf(suffix []byte, v V) (uint32, error) {
	vidx, err := w.newValue(v)
	if err != nil {
		return 0, err
	}
	r, err := w.core.newLeaf(suffix, vidx)
	if err != nil {
		w.freeValue(vidx)
		return 0, err
	}
	w.markFresh(r)
	return r, nil
}

// undoLeaf releases a leaf built by newValueLeaf that was never published.
func (w *wstate[V]) undoLeaf(r uint32) {
	if isLeafRef(r) {
		w.freeValue(r >> 1)
		return
	}
	w.freeValue(w.core.mem.at(r).valueIdx())
	w.freeNode(r)
}

// ---- freshness (one-writer form) ----

func (w *wstate[V]) markFresh(ref uint32) {
	if w.track || w.c.snap.on { // in-place writes with no snapshot open: nothing to mark
		w.markFreshSlow(ref)
	}
}

// markFreshSlow is markFresh's work, out of line so that markFresh
// inlines into the per-key writes.
func (w *wstate[V]) markFreshSlow(ref uint32) {
	if ref == 0 || isLeafRef(ref) {
		return
	}
	w.c.markYoungNode(ref) // snapshot.go
	if !w.track {
		return
	}
	i := freshIdx(ref)
	if int(i>>6) >= len(w.fresh) {
		w.fresh = append(w.fresh, make([]uint64, int(i>>6)+1-len(w.fresh)+len(w.fresh)/2)...)
	}
	w.fresh[i>>6] |= 1 << (i & 63)
	w.freshed = append(w.freshed, ref)
}

// isFresh reports whether node ref was built since the last publication
// (so no reader can see it and it may be changed in place).
func (w *wstate[V]) isFresh(ref uint32) bool {
	i := freshIdx(ref)
	return int(i>>6) < len(w.fresh) && w.fresh[i>>6]&(1<<(i&63)) != 0
}

// freshIdx is node ref's bit in the freshness bitmap (refs of both arenas
// share it: only the current arena's nodes are ever fresh).
func freshIdx(ref uint32) uint32 { return (ref &^ refArenaBit) >> 1 }

func (w *wstate[V]) unmark(ref uint32) {
	i := freshIdx(ref)
	if int(i>>6) < len(w.fresh) {
		w.fresh[i>>6] &^= 1 << (i & 63)
	}
}

// clearFresh forgets every fresh node: they are published now.
func (w *wstate[V]) clearFresh() {
	for _, r := range w.freshed {
		w.unmark(r)
	}
	w.freshed = w.freshed[:0]
}

// ---- node memory ----

// freeNode frees a node no reader can reach (never published, or
// reclaimed), poisoning it first in the invariants build.
func (w *wstate[V]) freeNode(ref uint32) {
	w.freeSized(ref, nodeSize(w.core.mem.at(ref).hdr()))
}

// freeSized is freeNode for a node whose nodeSize the caller knows (a
// retiree's size).
func (w *wstate[V]) freeSized(ref uint32, size int) {
	w.unmark(ref)
	w.freeRetired(ref, size)
}

// freeRetired is freeSized for a node unlinked after its publication,
// which is never fresh (publication cleared its bit, and in-place writes
// mark nothing), so its bitmap word is left alone.
func (w *wstate[V]) freeRetired(ref uint32, size int) {
	if poisonCheck {
		if w.isFresh(ref) {
			panic("trie: internal error: a retired node is marked fresh")
		}
		w.core.mem.at(ref).setHdr(poisonHdr)
	}
	w.core.mem.release(ref, size)
	w.core.nodes--
}

// retire records a node or value slot (size 0) unlinked from the tree that
// readers may still reach, at epoch e.
func (w *wstate[V]) retire(e uint64, ref uint32, size uint32) {
	w.ret = append(w.ret, retiree{e, ref, size})
	w.sinceAdv++
}

// advanceEvery is how many retirements a writer makes between two attempts
// to advance the epoch (each scans the domain's counters).
const advanceEvery = 64

// reclaim hands back what no reader can reach any more: every retiree whose
// epoch is below the domain's SafeBelow. Writer only.
//
// Unless forced it scans only every advanceEvery retirements: SafeBelow
// moves only when the epoch advances, and this writer advances it at each
// scan, so a scan per publication (and its Pending update, an atomic add)
// found nothing new (issue 23). The test inlines into publish.
func (w *wstate[V]) reclaim(force bool) {
	if w.rhead != len(w.ret) && (force || w.sinceAdv >= advanceEvery) {
		w.reclaimScan()
	}
}

// reclaimScan is reclaim's scan: it advances the epoch if readers allow
// and frees the retirees below SafeBelow.
func (w *wstate[V]) reclaimScan() {
	c := w.c
	w.sinceAdv = 0
	c.epoch.TryAdvance()
	safe := c.epoch.SafeBelow()
	if !c.multi {
		w.watchReaders(safe)
	}
	i := w.rhead
	for i < len(w.ret) && w.ret[i].epoch < safe {
		r := w.ret[i]
		if r.size == 0 {
			w.freeValue(r.ref)
		} else {
			w.freeRetired(r.ref, int(r.size))
		}
		i++
	}
	w.rhead = i
	w.shareValues(valBatch)
	if i == len(w.ret) {
		w.ret, w.rhead = w.ret[:0], 0
	} else if i > 1024 && i > len(w.ret)/2 {
		n := copy(w.ret, w.ret[i:])
		w.ret, w.rhead = w.ret[:n], 0
	}
	if p := len(w.ret) - w.rhead; p != w.statPending {
		c.pending.Add(int64(p - w.statPending)) // relaxed: a statistic (a sum over multi-writer slots)
		w.statPending = p
	}
}

// relieve reacts to a write that failed with err: on arena exhaustion it
// advances the epoch as far as readers allow (without waiting) and
// reclaims, and reports whether anything was freed (worth one more try).
// Writer only.
func (w *wstate[V]) relieve(err error) bool {
	c := w.c
	if !errors.Is(err, pool.ErrExhausted) {
		return false
	}
	before := len(w.ret) - w.rhead
	c.epoch.TryAdvance()
	w.reclaim(true)
	return len(w.ret)-w.rhead < before
}

// ---- helpers ----

// hvWord returns node n's header and value index (its first 8 bytes) as one
// atomic word: readers load both at once, and the one-writer form's
// in-place writes change both with one store.
//
// Safety: every node is 8-aligned and at least 8 bytes long (the header at
// +0 and the value index at +4 are always present).
func hvWord(n node) *atomic.Uint64 { return (*atomic.Uint64)(n.p) }

// nativeLE reports whether the header is the word's low half.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// loadHV loads node n's header and value index together (acquire: every
// label and child written before the store that set this header).
func loadHV(n node) (header, uint32) {
	return splitHV(hvWord(n).Load()) // acquire: pairs with storeHV
}

// splitHV splits a header-value word into the header and the value index.
func splitHV(x uint64) (header, uint32) {
	if nativeLE {
		return header(x), uint32(x >> 32)
	}
	return header(x >> 32), uint32(x)
}

// storeHV stores node n's header and value index together. Writer only.
func storeHV(n node, h header, vidx uint32) {
	x := uint64(h) | uint64(vidx)<<32
	if !nativeLE {
		x = uint64(h)<<32 | uint64(vidx)
	}
	hvWord(n).Store(x) // release: publishes the labels, children and value slot written before
}

// slotAt returns child slot i of n as an atomic word.
//
// Safety: childSlot is 4-aligned inside the node; at MultiWriteMultiRead the
// word is shared between writers (under the node's lock) and readers, and
// every access to a published slot goes through this atomic view.
func slotAt(n node, h header, i int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(n.childSlot(h, i)))
}

// findLabel returns the index of label b among the cnt sorted labels of
// sparse node n, or -1. Unlike node.findSparse it never loads bytes past the
// label area (child slots may be written concurrently).
func findLabel(n node, h header, cnt int, b byte) int {
	ls := n.labels(h, cnt)
	i := 0
	if cnt >= 8 {
		pat := uint64(b) * 0x0101010101010101
		for ; i+8 <= cnt; i += 8 {
			w := binary.LittleEndian.Uint64(ls[i:i+8]) ^ pat
			if z := (w - 0x0101010101010101) &^ w & 0x8080808080808080; z != 0 {
				return i + bits.TrailingZeros64(z)>>3
			}
		}
	}
	for ; i < cnt; i++ {
		if ls[i] == b {
			return i
		}
	}
	return -1
}
