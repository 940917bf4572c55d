package trie

// The multi-writer form (MultiWriteMultiRead): read-optimized write
// exclusion in the spirit of ROWEX (Leis et al., "The ART of Practical
// Synchronization", 2016), on this package's node format.
//
// Who may call what: any goroutine may call mwInsert and mwDelete; readers
// (cread.go) never lock. Only the holder of a writer slot (lockSlot, held
// in mwOp until end) touches that slot's wstate.
//
// Invariants:
//   - Every node has a 64-bit lock word in the 8 bytes in front of it
//     (arena pad): bit 0 locked, bit 1 obsolete; any value with both bits
//     clear is unlocked (a reused block holds the pool's free-list link
//     there; the arena zeroes it on every allocation, before the node can
//     be linked). The root slot's lock word is Concurrent.rootLock.
//   - A published node changes in place only under its own lock, and only
//     as the one-writer form's in-place writes do (owinplace.go): a child
//     slot replaced by one atomic store; the value set or replaced in the
//     header-value word (storeHV); a child appended to a dense node, or to
//     a sparse node with room past its count when its label is above every
//     other (label and slot first, then the larger count with storeHV). The
//     prefix and the first count labels never change, and a sparse node's
//     count never decreases in place; every other change (split, growth
//     past the capacity, a label in the middle, removals, merges) builds a
//     new node that replaces the old one in its parent's slot.
//   - A writer decides from the header-value word it loaded during its
//     descent; after taking a node's lock it checks that the word is
//     unchanged (mwLockNode, mwLockOnly) and restarts otherwise, so a
//     replacement is always built from the node as it is under the lock.
//   - To replace node N in slot s of parent P, a writer holds P's lock and
//     N's lock (and the lock of every other node it absorbs, such as the
//     child of a merge), having checked after locking that s still names N.
//     A lock cannot be taken on an obsolete node, and a locked node's slots
//     cannot change, so what the writer copied is what it replaces. It then
//     stores the new node in s (release), marks N (and the absorbed nodes)
//     obsolete for good, and unlocks P. Writers that loaded N before see the
//     obsolete bit when they try to lock it and restart from the root.
//   - Writers take locks only with try-lock; on failure they release what
//     they hold and restart with bounded backoff, so there is no lock order
//     and no deadlock; livelock is broken by the backoff.
//   - Allocation, value slots and retirement happen in a writer slot
//     (mwSlot: a wstate behind its own sync.Mutex), taken after the node
//     locks with lockSlot: the slot the goroutine's stack address hashes to
//     if TryLock succeeds, else the next free one, else a blocking Lock on
//     the first. There are at least 2×GOMAXPROCS slots, so a writer rarely
//     waits; a slot holder never waits for a node lock or another slot
//     (only gmu, a leaf lock taken to grow the chunk view or the value
//     directory), so waiting for a slot cannot deadlock. Nodes come from
//     one lock-free pool shared by the slots (cmem.go), so a node replaced
//     by one slot is freed by it whatever slot allocated it; refs do not
//     name a slot. The critical section builds the replacement, stores it,
//     reads the epoch (after the store: see EpochDomain) and retires what
//     was unlinked into the slot's own queue. Descent, validation, locking
//     and the critical sections of different slots run in parallel.
//   - The key count is a share per slot (mwKeys, Len sums them): no write
//     touches a counter another slot's writer touches.
//   - Writers descend under an epoch guard like readers, so nodes they look
//     at, lock or copy are never reclaimed under them.
//   - Linearization: an insert or delete takes effect at its slot store; a
//     lookup at its load of the slot that decided it. Racing identical
//     inserts: the second to lock the parent finds the slot changed or the
//     node obsolete, restarts, and finds the key: added once.
//
// Rejected: optimistic lock coupling with reader validation (readers would
// need version checks and retries; here they never retry); copying the node
// for every insert (before issue 12: a copy, a parent lock and a retirement
// per added key where an append in place under the node's lock does); lock coupling
// down the path (writers would serialize at the root); one writer mutex
// around allocation (before issue 12: two writers handed it back and
// forth, 0.32–0.65× of a locked Trie at 2 goroutines); a node arena per
// slot with the slot in the ref (see cmem.go: it costs the ref address
// space or a mask load on every read path); a slot per goroutine by a
// shared round-robin counter (one more bounced cache line per write).

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

const (
	lockBit     = 1
	obsoleteBit = 2
)

// lockWord returns node n's lock word.
//
// Safety: at MultiWriteMultiRead every node block has 8 bytes in front of
// the node (arena pad); the node is 8-aligned, so the word is too.
func lockWord(n node) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Add(n.p, -8)) }

// tryLock takes l unless it is locked or obsolete.
func tryLock(l *atomic.Uint64) bool {
	v := l.Load() // acquire: the last holder's changes
	return v&(lockBit|obsoleteBit) == 0 && l.CompareAndSwap(v, lockBit)
}

// locks is the set of lock words a writer holds.
type locks struct {
	l [4]*atomic.Uint64
	n int
}

func (ls *locks) try(l *atomic.Uint64) bool {
	if !tryLock(l) {
		return false
	}
	ls.l[ls.n] = l
	ls.n++
	return true
}

// obsolete marks the held lock l obsolete (it stays taken for good).
func (ls *locks) obsolete(l *atomic.Uint64) {
	for i := range ls.n {
		if ls.l[i] == l {
			l.Store(obsoleteBit) // release: the node is replaced
			ls.l[i] = ls.l[ls.n-1]
			ls.n--
			return
		}
	}
}

func (ls *locks) release() {
	for i := range ls.n {
		ls.l[i].Store(0) // release: unlock
	}
	ls.n = 0
}

// mwOp is what one write attempt holds: its epoch guard, its node locks,
// and the writer slot it took (nil: none yet).
type mwOp[V any] struct {
	g  primitives.EpochGuard
	ls locks
	s  *mwSlot[V]
}

// end releases, in order, the slot, the node locks and the guard.
func (o *mwOp[V]) end() {
	if o.s != nil {
		o.s.mu.Unlock()
	}
	o.ls.release()
	o.g.Exit()
}

// mwSlot is a writer slot: a wstate (node arena struct over the shared
// lock-free pool, value-slot range and free list, retire queue,
// statistics deltas) behind its own mutex, on its own cache lines.
type mwSlot[V any] struct {
	_  [primitives.CacheLineSize]byte
	mu sync.Mutex
	w  wstate[V]
	_  [primitives.CacheLineSize]byte
}

// lockSlot takes a writer slot for o and returns its state: the slot the
// goroutine's stack address hashes to when free, else the next free one,
// else (every slot busy) it waits for the first. o.end releases it.
func (c *Concurrent[V]) lockSlot(o *mwOp[V]) *wstate[V] {
	var probe byte
	// Safety: the stack address is only hashed to pick a slot.
	h := uint64(uintptr(unsafe.Pointer(&probe))>>11) * 0x9E3779B97F4A7C15 >> 32
	if s := &c.slots[h&c.slotMask]; s.mu.TryLock() {
		o.s = s
		return &s.w
	}
	return c.lockSlotSlow(o, h)
}

// lockSlotSlow is lockSlot when the hashed slot h is busy: the next free
// slot, else a wait for slot h.
func (c *Concurrent[V]) lockSlotSlow(o *mwOp[V], h uint64) *wstate[V] {
	for i := uint64(1); i < uint64(len(c.slots)); i++ {
		if s := &c.slots[(h+i)&c.slotMask]; s.mu.TryLock() {
			o.s = s
			return &s.w
		}
	}
	s := &c.slots[h&c.slotMask]
	s.mu.Lock()
	o.s = s
	return &s.w
}

// setupSlots builds the writer slots over the shared pool lf (at most 64,
// at least twice GOMAXPROCS, a power of two) and returns slot 0's arena.
func (c *Concurrent[V]) setupSlots(lf *pool.LockFree) *arena {
	k := 2
	for k < 2*runtime.GOMAXPROCS(0) && k < 64 {
		k <<= 1
	}
	c.slots = make([]mwSlot[V], k)
	c.slotMask = uint64(k - 1)
	for i := range c.slots {
		w := &c.slots[i].w
		w.c = c
		w.core.mem = c.mwArena(lf, 0)
		w.core.noValues = true // values live in c.vals
	}
	return c.slots[0].w.core.mem
}

// mwGrew is the slots' arena hook after every allocation at off in arena
// a (pool lf): when off
// lies in a chunk the readers' view has no address for (beyond it, never
// allocated from, or released by Reclaim and handed out again), it
// republishes the view with that chunk's address (under gmu: slots grow it
// concurrently) before the caller can link the node. Entries of chunks no
// allocation has landed in since the view was last rebuilt stay nil
// (readers reload the view for them: nodeAtCold).
func (c *Concurrent[V]) mwGrew(a int, lf *pool.LockFree, off pool.Offset) {
	ci := int(uint64(off) >> c.shift)
	if t := c.view.Load().chunks[a]; ci < len(t) && t[ci] != nil { // acquire: the table covering ci, if any
		return
	}
	c.gmu.Lock()
	v := c.view.Load()
	if t := v.chunks[a]; ci < len(t) && t[ci] != nil {
		c.gmu.Unlock()
		return
	}
	nv := *v
	n := max(ci+1, len(v.chunks[a]))
	nv.chunks[a] = make([]unsafe.Pointer, n, max(2*(ci+1), n, 8))
	copy(nv.chunks[a], v.chunks[a])
	// Safety: off was just allocated from chunk ci, which is therefore a
	// live chunk of lf; its first bytes give its base, which stays valid
	// until Reclaim releases the chunk (mwDropReleased), after which this
	// view is no longer published.
	nv.chunks[a][ci] = unsafe.Pointer(unsafe.SliceData(lf.Bytes(pool.Offset(ci)<<c.shift, 8)))
	c.view.Store(nv.withHot(c.cur)) // release: publishes the chunk before any node in it
	c.gmu.Unlock()
	c.storeCapacity()
}

// mwLen sums the slots' shares of the key count. Each share is loaded once,
// so under concurrent writes the sum may briefly miss a write whose share
// was loaded before it (as one shared counter, added to after the
// linearizing store, did); it is exact when no write runs. Never negative.
func (c *Concurrent[V]) mwLen() int {
	var n int64
	for i := range c.slots {
		n += c.slots[i].w.mwKeys.Load() // relaxed: a count
	}
	return int(max(n, 0))
}

// eachSlot runs f on every writer slot's state in turn, holding that
// slot's mutex (Reclaim, relief, statistics, tests).
func (c *Concurrent[V]) eachSlot(f func(w *wstate[V])) {
	for i := range c.slots {
		s := &c.slots[i]
		s.mu.Lock()
		f(&s.w)
		s.mu.Unlock()
	}
}

// backoff waits a little before retry attempt (bounded).
func backoff(attempt int) {
	for range min(attempt, 8) {
		runtime.Gosched()
	}
}

// mwPos is where a descent stands: a slot and its owner's lock word.
type mwPos struct {
	lock *atomic.Uint64
	slot *atomic.Uint32
}

// mwInsert inserts key at MultiWriteMultiRead.
func (c *Concurrent[V]) mwInsert(key []byte, v V) (bool, error) {
	relieved := false
	for attempt := 0; ; attempt++ {
		added, done, err := c.mwInsertOnce(key, v)
		if err != nil && !relieved && c.mwRelieve(err) {
			relieved = true
			continue
		}
		if done || err != nil {
			return added, err
		}
		backoff(attempt)
	}
}

// mwPath is the room of a multi-writer descent's path (walkPath in the
// readers' form keeps the last cap levels; a removal needs three: the
// node, its parent and the parent's owner). Eight levels cover the keys
// of every benchmark without dropping a step: dropping one copies the
// steps (runtime.typedslicecopy: 90 instructions a key at three).
type mwPath [8]step

// mwPosAt returns the position of path level l: its slot and the lock
// word of the slot's owner (the root lock at the first level).
func (c *Concurrent[V]) mwPosAt(path []step, l int) mwPos {
	lock := &c.rootLock
	if path[l].idx >= 0 {
		lock = lockWord(path[l-1].n)
	}
	// Safety: the root or a 4-aligned child slot (slotAt).
	return mwPos{lock, (*atomic.Uint32)(unsafe.Pointer(path[l].slot))}
}

// mwInsertOnce tries once; done is false when it met a conflict and must
// be retried. The descent is walkPath's, in the readers' form; what it decides there
// holds once the locks it takes validate what it loaded.
func (c *Concurrent[V]) mwInsertOnce(key []byte, v V) (added, done bool, err error) {
	op := mwOp[V]{g: c.epoch.Enter()}
	defer op.end()
	ls := &op.ls
	var buf mwPath
	// Safety: atomic.Uint32 is a uint32; walkPath loads it atomically.
	path, n, h, vi, depth, out := walkPath[V, atomicLoads](nil, c, (*uint32)(unsafe.Pointer(&c.root)), key, buf[:0])
	last := len(path) - 1
	ref := path[last].ref
	hv := joinHV(h, vi)
	switch out {
	case walkSlot:
		pos := c.mwPosAt(path, last)
		if !ls.try(pos.lock) || pos.slot.Load() != ref {
			return false, false, nil
		}
		w := c.lockSlot(&op)
		return c.mwSlotInsert(w, pos.slot, ref, key[depth:], v)
	case walkPrefix:
		pos := c.mwPosAt(path, last)
		if !c.mwLockNode(ls, pos, ref, n, hv) {
			return false, false, nil
		}
		w := c.lockSlot(&op)
		nr, err := w.splitFor(n, h, commonPrefix(n.prefix(h), key[depth:]), key[depth:], v)
		if err != nil {
			return false, true, err
		}
		c.mwInstall(w, ls, pos, nr, n, ref, 0, false)
		w.mwKeys.Add(1) // relaxed: the slot's share of the count
		return true, true, nil
	case walkNode:
		// In place, under n's lock alone: the value index and flag
		// change in n's header-value word.
		if !c.mwLockOnly(ls, n, hv) {
			return false, false, nil
		}
		w := c.lockSlot(&op)
		vidx, err := w.newValue(v)
		if err != nil {
			return false, true, err
		}
		storeHV(n, h|flagValue, vidx) // release: publishes the value
		if h.hasValue() {
			w.retireValue(c.epoch.Epoch(), vi) // epoch read after the store
		} else {
			w.mwKeys.Add(1) // relaxed: the slot's share of the count
		}
		w.mwReclaim()
		return !h.hasValue(), true, nil
	}
	// b is absent. Under n's lock, with n's word unchanged since the
	// descent, b is still absent; a dense node, or a sparse one with room
	// whose labels are all below b, takes the child in place.
	b := key[depth]
	if !c.mwLockOnly(ls, n, hv) {
		return false, false, nil
	}
	cnt := h.count()
	if h.dense() || cnt < h.capacity() && (cnt == 0 || n.label(h, cnt-1) < b) {
		w := c.lockSlot(&op)
		leaf, err := w.newValueLeaf(key[depth+1:], v)
		if err != nil {
			return false, true, err
		}
		if h.dense() {
			slotAt(n, h, int(b)).Store(leaf) // release: publishes the leaf
		} else {
			// Safety: as in addChildNow (owinplace.go): past the count,
			// no reader reads them before storeHV publishes the count.
			n.labels(h, cnt+1)[cnt] = b
			*n.childSlot(h, cnt) = leaf
		}
		storeHV(n, h.withCount(cnt+1), vi) // release: publishes label and child
		w.mwKeys.Add(1)                    // relaxed: the slot's share of the count
		w.publishStats()
		return true, true, nil
	}
	pos := c.mwPosAt(path, last)
	if !ls.try(pos.lock) || pos.slot.Load() != ref {
		return false, false, nil
	}
	w := c.lockSlot(&op)
	leaf, err := w.newValueLeaf(key[depth+1:], v)
	if err != nil {
		return false, true, err
	}
	nr, err := w.core.buildNode(grownHeader(h), n.prefix(h), vi, n, h, b, leaf)
	if err != nil {
		w.undoLeaf(leaf)
		return false, true, err
	}
	c.mwInstall(w, ls, pos, nr, n, ref, 0, false)
	w.mwKeys.Add(1) // relaxed: the slot's share of the count
	return true, true, nil
}

// mwSlotInsert inserts the key whose remaining bytes are rest at slot, which
// holds nothing (the root of an empty trie) or an inline leaf; the caller
// holds the slot owner's lock and w's writer slot.
func (c *Concurrent[V]) mwSlotInsert(w *wstate[V], slot *atomic.Uint32, ref uint32, rest []byte, v V) (added, done bool, err error) {
	switch {
	case ref == 0:
		r, err := w.newValueLeaf(rest, v)
		if err != nil {
			return false, true, err
		}
		slot.Store(r) // release: publishes the leaf
	case len(rest) == 0:
		vidx, err := w.newValue(v)
		if err != nil {
			return false, true, err
		}
		slot.Store(leafRef(vidx)) // release: publishes the value
		w.retire(c.epoch.Epoch(), ref>>1, 0)
		w.mwReclaim()
		return false, true, nil
	default:
		leaf, err := w.newValueLeaf(rest[1:], v)
		if err != nil {
			return false, true, err
		}
		nr, err := w.core.buildNode(makeHeader(0, 1, classFor(2), true, false), nil, ref>>1, node{}, 0, rest[0], leaf)
		if err != nil {
			w.undoLeaf(leaf)
			return false, true, err
		}
		slot.Store(nr) // release: publishes the node
	}
	w.mwKeys.Add(1) // relaxed: the slot's share of the count
	w.publishStats()
	return true, true, nil
}

// mwLock takes the locks to replace node n (ref) at pos and validates that
// pos still names it.
func (c *Concurrent[V]) mwLock(ls *locks, pos mwPos, ref uint32, n node) bool {
	return ls.try(pos.lock) && ls.try(lockWord(n)) && pos.slot.Load() == ref
}

// mwLockNode is mwLock that also validates that n's header-value word is
// still hv, the one the descent read (a writer may have appended a child
// or set the value in place since): what the caller decided from hv holds.
func (c *Concurrent[V]) mwLockNode(ls *locks, pos mwPos, ref uint32, n node, hv uint64) bool {
	return c.mwLock(ls, pos, ref, n) && hvWord(n).Load() == hv // under n's lock: validates the descent
}

// mwLockOnly takes n's lock alone (for an in-place change of n) and
// validates n's word as mwLockNode does. A locked node that is not obsolete
// is linked (unlinking marks it obsolete under its lock).
func (c *Concurrent[V]) mwLockOnly(ls *locks, n node, hv uint64) bool {
	return ls.try(lockWord(n)) && hvWord(n).Load() == hv // under n's lock: validates the descent
}

// mwInstall stores nr at pos in place of node n (ref), marks n obsolete and
// retires it, and the value slot oldVal when dropVal. The caller holds the
// locks and w's writer slot.
func (c *Concurrent[V]) mwInstall(w *wstate[V], ls *locks, pos mwPos, nr uint32, n node, ref, oldVal uint32, dropVal bool) {
	pos.slot.Store(nr) // release: publishes the replacement
	ls.obsolete(lockWord(n))
	e := c.epoch.Epoch() // after the store: see EpochDomain
	w.retire(e, ref, uint32(nodeSize(n.hdr())))
	if dropVal && !c.noValues {
		w.retire(e, oldVal, 0)
	}
	w.mwReclaim()
}

// mwRelieve is relieve for the multi-writer form: every slot in turn (a
// slot frees only what it retired), taking each slot's mutex. The caller
// holds no slot.
func (c *Concurrent[V]) mwRelieve(err error) bool {
	freed := false
	c.eachSlot(func(w *wstate[V]) {
		if w.relieve(err) {
			freed = true
		}
		w.publishStatsNow()
	})
	return freed
}

// mwReclaim is reclaim for the multi-writer form (slot holder).
func (w *wstate[V]) mwReclaim() {
	w.reclaim(false)
	w.publishStats()
}

// mwDelete deletes key at MultiWriteMultiRead.
func (c *Concurrent[V]) mwDelete(key []byte) (V, bool, error) {
	relieved := false
	for attempt := 0; ; attempt++ {
		old, found, done, err := c.mwDeleteOnce(key)
		if err != nil && !relieved && c.mwRelieve(err) {
			relieved = true
			continue
		}
		if done || err != nil {
			return old, found, err
		}
		backoff(attempt)
	}
}

// mwDeleteOnce tries once; done is false on a conflict. The descent is
// walkPath's, as the insert's.
func (c *Concurrent[V]) mwDeleteOnce(key []byte) (old V, found, done bool, err error) {
	op := mwOp[V]{g: c.epoch.Enter()}
	defer op.end()
	ls := &op.ls
	var buf mwPath
	// Safety: atomic.Uint32 is a uint32; walkPath loads it atomically.
	path, n, h, vi, depth, out := walkPath[V, atomicLoads](nil, c, (*uint32)(unsafe.Pointer(&c.root)), key, buf[:0])
	if !pathFound(path, h, depth, out, key) {
		return old, false, true, nil
	}
	// pos is the position of ref (the key's leaf or node); p (pref) its
	// parent node at gp, reached through label b (p is nil at the root).
	last := len(path) - 1
	st := path[last]
	ref := st.ref
	// Safety: the root or a 4-aligned child slot (slotAt).
	pos := mwPos{&c.rootLock, (*atomic.Uint32)(unsafe.Pointer(st.slot))}
	var gp mwPos
	var p node
	var pref uint32
	var b byte
	if st.idx >= 0 {
		pref = path[last-1].ref
		p = path[last-1].n
		pos.lock = lockWord(p)
		gp, b = c.mwPosAt(path, last-1), lastLabel(key, h, depth)
	}
	if isLeafRef(ref) {
		old = c.value(ref >> 1)
		if p.p == nil { // the root slot holds the empty key
			if !ls.try(pos.lock) || pos.slot.Load() != ref {
				return old, false, false, nil
			}
			w := c.lockSlot(&op)
			pos.slot.Store(0) // release: unlinks the leaf
			w.retire(c.epoch.Epoch(), ref>>1, 0)
			w.mwDeleted()
			return old, true, true, nil
		}
		ok, err := c.mwRemoveChild(&op, gp, p, pref, b, ref, node{}, 0)
		return old, ok, ok || err != nil, err
	}
	old = c.value(vi)
	ok, err := c.mwDropValue(&op, gp, p, pref, b, pos, ref, n, joinHV(h, vi))
	return old, ok, ok || err != nil, err
}

// mwDeleted records a deletion (slot holder).
func (w *wstate[V]) mwDeleted() {
	w.mwKeys.Add(-1) // relaxed: the slot's share of the count
	w.mwReclaim()
}

// mwDropValue removes the value of node n (ref at pos; p its parent at gp,
// reached through label b) and reports whether it did; false with a nil
// error means a conflict (retry).
func (c *Concurrent[V]) mwDropValue(op *mwOp[V], gp mwPos, p node, pref uint32, b byte, pos mwPos, ref uint32, n node, hv uint64) (bool, error) {
	ls := &op.ls
	h, _ := splitHV(hv)
	cnt := h.count()
	if cnt == 0 {
		// n disappears: it leaves its parent (or the root slot).
		if p.p == nil {
			if !c.mwLockNode(ls, pos, ref, n, hv) {
				return false, nil
			}
			w := c.lockSlot(op)
			pos.slot.Store(0) // release: unlinks n
			ls.obsolete(lockWord(n))
			e := c.epoch.Epoch()
			w.retire(e, ref, uint32(nodeSize(h)))
			w.retireValue(e, n.valueIdx())
			w.mwDeleted()
			return true, nil
		}
		return c.mwRemoveChild(op, gp, p, pref, b, ref, n, hv)
	}
	if !c.mwLockNode(ls, pos, ref, n, hv) {
		return false, nil
	}
	var child uint32
	var label byte
	if cnt == 1 {
		forChildren(n, h, func(l byte, r uint32) { label, child = l, r })
		if !isLeafRef(child) && !ls.try(lockWord(c.mwNode(child))) {
			return false, nil
		}
	}
	w := c.lockSlot(op)
	var nr uint32
	var err error
	if cnt == 1 {
		nr, err = w.mergeChild(n.prefix(h), label, child)
	} else {
		nr, err = w.core.buildNode(h&^flagValue, n.prefix(h), 0, n, h, 0, 0)
	}
	if err != nil {
		return false, err
	}
	pos.slot.Store(nr) // release: publishes the replacement
	ls.obsolete(lockWord(n))
	e := c.epoch.Epoch()
	w.retire(e, ref, uint32(nodeSize(h)))
	w.retireValue(e, n.valueIdx())
	c.mwRetireAbsorbed(w, ls, e, child)
	w.mwDeleted()
	return true, nil
}

// mwRemoveChild removes p's child labelled b — ref, an inline leaf or the
// valueless-to-be childless node n (whose word the descent read as nhv) —
// replacing p at gp. It reports whether it did; false with a nil error
// means a conflict.
func (c *Concurrent[V]) mwRemoveChild(op *mwOp[V], gp mwPos, p node, pref uint32, b byte, ref uint32, n node, nhv uint64) (bool, error) {
	ls := &op.ls
	if !c.mwLock(ls, gp, pref, p) {
		return false, nil
	}
	ph := p.hdr()
	if childOf(p, ph, b) != ref {
		return false, nil // changed before we locked p
	}
	if n.p != nil && !c.mwLockOnly(ls, n, nhv) {
		return false, nil // n gained a child or changed since the descent
	}
	cnt := ph.count() - 1
	var sib uint32
	var sl byte
	if cnt == 1 && !ph.hasValue() {
		sl, sib = sibling(p, ph, b)
		if !isLeafRef(sib) && !ls.try(lockWord(c.mwNode(sib))) {
			return false, nil
		}
	}
	w := c.lockSlot(op)
	nr, err := w.buildRemoval(p, ph, b, sl, sib)
	if err != nil {
		return false, err
	}
	gp.slot.Store(nr) // release: publishes p's replacement
	ls.obsolete(lockWord(p))
	e := c.epoch.Epoch()
	w.retire(e, pref, uint32(nodeSize(ph)))
	if n.p != nil {
		ls.obsolete(lockWord(n))
		nh := n.hdr()
		w.retire(e, ref, uint32(nodeSize(nh)))
		w.retireValue(e, n.valueIdx())
	} else {
		w.retireValue(e, ref>>1)
	}
	c.mwRetireAbsorbed(w, ls, e, sib)
	w.mwDeleted()
	return true, nil
}

// mwRetireAbsorbed retires the node a merge copied (if any), held locked.
func (c *Concurrent[V]) mwRetireAbsorbed(w *wstate[V], ls *locks, e uint64, child uint32) {
	if child == 0 || isLeafRef(child) {
		return
	}
	cn := c.mwNode(child)
	ls.obsolete(lockWord(cn))
	w.retire(e, child, uint32(nodeSize(cn.hdr())))
}

// retireValue retires value slot idx at epoch e (writer state owner).
func (w *wstate[V]) retireValue(e uint64, idx uint32) {
	c := w.c
	if !c.noValues {
		w.retire(e, idx, 0)
	}
}

// mwNode returns node ref for a writer under an epoch guard.
func (c *Concurrent[V]) mwNode(ref uint32) node {
	n, _ := c.nodeAt(c.view.Load(), ref)
	return n
}

// sibling returns the label and ref of p's one child other than the one
// labelled b (p has two children).
func sibling(p node, ph header, b byte) (sl byte, sib uint32) {
	forChildren(p, ph, func(l byte, r uint32) {
		if l != b {
			sl, sib = l, r
		}
	})
	return sl, sib
}

// buildRemoval builds the replacement of node p without its child labelled
// b: a leaf when p keeps only its value, p's prefix merged into sib (labelled
// sl) when that is p's only other child and p has no value, else a copy
// without the child.
func (w *wstate[V]) buildRemoval(p node, ph header, b, sl byte, sib uint32) (uint32, error) {
	switch cnt := ph.count() - 1; {
	case cnt == 0 && ph.hasValue():
		return w.core.newLeaf(p.prefix(ph), p.valueIdx())
	case cnt == 0:
		panic("trie: internal error: a valueless node with one child")
	case sib != 0:
		return w.mergeChild(p.prefix(ph), sl, sib)
	default:
		return w.buildWithout(p, ph, b)
	}
}

// buildWithout builds a copy of node n without its child labelled skip,
// moved to a smaller layout where n would shrink.
func (w *wstate[V]) buildWithout(n node, h header, skip byte) (uint32, error) {
	h1 := h.withCount(h.count() - 1)
	dh, ok := shrunkHeader(h1)
	if !ok {
		dh = h1
	}
	nr, err := w.build(dh, n.prefix(h), n.valueIdx(), node{}, 0, 0, 0)
	if err != nil {
		return 0, err
	}
	dn := w.core.mem.at(nr)
	forChildren(n, h, func(l byte, r uint32) {
		if l == skip {
			return
		}
		dh := dn.hdr()
		if dh.dense() {
			*dn.childSlot(dh, int(l)) = r
			dn.setHdr(dh.withCount(dh.count() + 1))
		} else {
			w.core.insertChildInPlace(dn, dh, l, r)
		}
	})
	return nr, nil
}

// joinHV is the header-value word of header h and value index vi, as
// storeHV stores it and splitHV splits it (the word a lock validates).
func joinHV(h header, vi uint32) uint64 {
	if nativeLE {
		return uint64(h) | uint64(vi)<<32
	}
	return uint64(h)<<32 | uint64(vi)
}
