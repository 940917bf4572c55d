package trie

// Giving memory back in the multi-writer form (MultiWriteMultiRead):
// Concurrent.Reclaim's work once readers have left: node chunks that are
// wholly free go back to the Go heap, and a sparse node pool is compacted
// into a fresh one.
//
// Who may call what: only Concurrent.Reclaim (mwReclaimAll), holding no
// writer slot and no node lock. Its state (c.mwr, c.cur, c.dropPending,
// c.dropEpoch, c.arenas) changes only while every writer slot is held.
//
// Invariants:
//   - Every pool call of the multi-writer form is made by a writer slot's
//     holder (allocation, free) or under gmu (the view's growth), and every
//     store into the published tree is made by a slot holder (a writer
//     takes its slot after its node locks, before its first store).
//     lockSlots takes every slot in index order (a slot holder never waits
//     for another slot, so this cannot deadlock; writers holding node
//     locks may wait for a slot, never the reverse): while they are held
//     no node is allocated, freed or linked, and the tree does not change.
//   - Chunk release: with every slot held and every retiree whose readers
//     have left freed, a node chunk whose blocks are all free holds
//     nothing any reader can reach: the pool releases it
//     (pool.LockFree.TrimHold) and the readers' view is republished, under
//     gmu, without its address (mwDropReleased). A reader still using an
//     older view may hold the old address but no ref into the chunk; the Go
//     memory stays alive while that view is referenced. The released chunk
//     slots stay out of the pool's reuse until the epoch read after that
//     view store has passed (mwRelease: every reader that could have loaded
//     an old address has left); otherwise a slot handed out again with new
//     memory would be read through a stale address. A view entry is nil for
//     a chunk released or not yet allocated from; the allocating slot
//     publishes its address (mwGrew) before linking a node there, and a
//     reader meeting a nil entry reloads the view (nodeAtCold).
//   - Compaction (mwCompact): with every slot held, the compaction also
//     takes the lock of every node of the tree and of the root slot
//     (try-lock; a node locked by a writer waiting for a slot means "not
//     now": everything is unlocked and nothing changes). It copies the
//     tree into a fresh pool (the other arena: bit 31 of every ref names
//     it, as in the one-writer form, ocompact.go), switches every slot's
//     arena to it, publishes the copy with one root store, then marks every
//     old node obsolete: a writer that read an old ref before the switch
//     fails to lock it and restarts from the root, so no write lands in the
//     old tree. Node retirees still queued are in the old pool and are
//     dropped with it; value retirees stay queued (values do not move).
//     The old pool is dropped (view table and arena) once the epoch read
//     after the root store has passed; until then no other compaction
//     starts.
//   - mayRelease is the one place that decides whether memory may be
//     given back or moved now; a snapshot that keeps nodes alive must veto
//     it there.
//
// Rejected: releasing chunks from the writers' free path (a per-chunk
// count on every free, and a view republication racing the allocations of
// other slots); keeping released addresses in the view (the Go heap could
// never take the memory back); moving only the nodes of sparse chunks
// within one pool (the pool hands out free blocks of those same chunks
// first, and it has no way to allocate "anywhere but here"); compaction
// without the node locks (a writer that validated an old node and waits
// for a slot would then change the old tree, and its write would be lost).

import (
	"context"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/structures/pool"
)

// mwReclaimState is the multi-writer Reclaim's state. Every writer slot
// held.
type mwReclaimState struct {
	held      bool   // the current pool holds released chunk slots back (TrimHold)
	heldEpoch uint64 // the epoch read after the view store that dropped their addresses
	force     bool   // tests: compact whatever the fragmentation
	noCompact bool   // tests: never compact (the trim path alone)
}

// lockSlots takes every writer slot in index order; unlockSlots releases
// them.
func (c *Concurrent[V]) lockSlots() {
	for i := range c.slots {
		c.slots[i].mu.Lock()
	}
}

func (c *Concurrent[V]) unlockSlots() {
	for i := range c.slots {
		c.slots[i].mu.Unlock()
	}
}

// mayRelease reports whether Reclaim may give memory back or move nodes
// or values now (both forms: every writer slot held, or the writer role).
func (c *Concurrent[V]) mayRelease() bool { return true }

// passed reports whether every reader that was inside at epoch e has left
// (advancing the epoch when it can).
func (c *Concurrent[V]) passed(e uint64) bool {
	if e < c.epoch.SafeBelow() {
		return true
	}
	c.epoch.TryAdvance()
	return e < c.epoch.SafeBelow()
}

// mwReclaimAll is Concurrent.Reclaim at MultiWriteMultiRead, after its
// first WaitReaders: with every writer slot held, every slot reclaims,
// what earlier calls held back goes, wholly free node chunks are
// released, and with the tree locked a sparse value store has its values
// moved down and a fragmented pool is compacted; then, after a second wait
// for readers, the released chunk slots become reusable, a compaction's
// old pool is dropped and the value store shrinks (if ctx ends first, the
// next Reclaim does it). beforeWait runs once nothing moves any more,
// before the second wait (mwReclaim releases the snapshot gate there).
func (c *Concurrent[V]) mwReclaimAll(ctx context.Context, beforeWait func()) error {
	ws := make([]*wstate[V], len(c.slots))
	for i := range c.slots {
		ws[i] = &c.slots[i].w
	}
	c.lockSlots()
	c.mwReclaimSlots(ws)
	var err error
	if c.mayRelease() {
		// A compaction gives back everything a trim would (the old pool
		// goes whole) and copies only the live nodes, where a trim walks
		// every free block: trim only when no compaction is due or it
		// could not run.
		compactions := c.compactions.Load() // relaxed: changed only with every slot held
		_, vals := c.valWorth(ws, c.mwLen())
		if c.mwCompactWorth(ws) || vals {
			if held, ok := c.mwLockTreeRetry(); ok {
				// Decide again: the slots may have been let go between
				// tries, and another Reclaim may have run meanwhile.
				nodes := c.mwCompactWorth(ws)
				vlimit, vals := c.valWorth(ws, c.mwLen())
				if vals {
					c.valMove(ws, vlimit, c.root.Load(), func(r uint32) { c.root.Store(r) })
					ws[0].shareValues(0)
				}
				if nodes {
					err = c.mwCompact(held)
				} else {
					unlockAll(held)
				}
			}
		}
		if c.compactions.Load() == compactions && c.mwFreeBytes(ws) >= int(c.mask+1) {
			if c.arenas[c.cur].lf.TrimHold() > 0 {
				c.mwDropReleased()
			}
		}
	}
	for _, w := range ws {
		w.publishStatsNow()
	}
	wait := c.mwr.held || c.dropPending || c.vc.limit.Load() != 0
	c.unlockSlots()
	beforeWait()
	if !wait {
		return err
	}
	if werr := c.WaitReaders(ctx); werr != nil {
		return werr
	}
	c.lockSlots()
	c.mwReclaimSlots(ws)
	for _, w := range ws {
		w.publishStatsNow()
	}
	c.unlockSlots()
	return err
}

// mwReclaimSlots reclaims every slot's retirees whose readers have left,
// shares their free value slots, and releases what earlier Reclaims held
// back (mwRelease). Every slot held.
func (c *Concurrent[V]) mwReclaimSlots(ws []*wstate[V]) {
	for _, w := range ws {
		w.reclaim(true)
		w.shareValues(0)
	}
	c.mwRelease()
	c.valShrink(ws)
}

// mwRelease makes chunk slots held back reusable, and drops a compaction's
// old pool, once readers that could use them have left. Every slot held.
func (c *Concurrent[V]) mwRelease() {
	if c.mwr.held && c.passed(c.mwr.heldEpoch) {
		c.arenas[c.cur].lf.ReuseHeld()
		c.mwr.held = false
	}
	if c.dropPending && c.passed(c.dropEpoch) {
		c.dropPending = false
		old := 1 - c.cur
		c.arenas[old] = nil
		c.mwSetView(old, nil) // the Go heap takes the old pool once older views are gone
	}
}

// mwSetView publishes the view with arena a's table replaced by t (under
// gmu), and the capacity. Every writer slot held.
func (c *Concurrent[V]) mwSetView(a int, t []unsafe.Pointer) {
	c.gmu.Lock()
	nv := *c.view.Load()
	nv.chunks[a] = t
	c.view.Store(nv.withHot(c.cur)) // release: the new table
	c.gmu.Unlock()
	c.storeCapacity()
	if c.capacity.Load() < c.insertCap {
		c.capFlushed.Store(false) // below the cap again: the next check at the cap flushes the slots again (checkCapSlow)
	}
}

// mwDropReleased republishes the readers' view without the addresses of
// node chunks the current pool released, and holds their slots back
// until the epoch read after that store has passed. Every writer slot
// held (no allocation can publish an address meanwhile).
func (c *Concurrent[V]) mwDropReleased() {
	lf := c.arenas[c.cur].lf
	t := append([]unsafe.Pointer(nil), c.view.Load().chunks[c.cur]...)
	for i, p := range t {
		// Safety: only compared: a released chunk's slot now has other
		// memory (the pool's sink) at its first byte.
		if p != nil && unsafe.Pointer(unsafe.SliceData(lf.Bytes(pool.Offset(i)<<c.shift, 8))) != p {
			t[i] = nil
		}
	}
	c.mwSetView(c.cur, t)
	c.mwr.held, c.mwr.heldEpoch = true, c.epoch.Epoch() // read after the view store
}

// mwArena returns a writer slot's arena struct over pool lf, arena a.
func (c *Concurrent[V]) mwArena(lf *pool.LockFree, a int) *arena {
	return &arena{lf: lf, align: lf.Config().Alignment, pad: 8, refBit: uint32(a) << 31,
		grew: func(off pool.Offset) { c.mwGrew(a, lf, off) }}
}

// mwCompactTries is how many more times Reclaim lets writers holding node
// locks finish before it gives up locking the tree.
const mwCompactTries = 4

// mwFreeBytes is the node pool's capacity less the live and retired
// nodes' bytes: no chunk is wholly free below one chunk's worth. Every
// slot held.
func (c *Concurrent[V]) mwFreeBytes(ws []*wstate[V]) int {
	inUse := 0
	for _, w := range ws {
		inUse += w.core.mem.bytesInUse()
	}
	return c.arenas[c.cur].capacity() - inUse
}

// mwCompactWorth reports whether the node pool reserves more than twice
// the live nodes' bytes plus four chunks (the one-writer rule,
// compactWorth) and no old pool still waits for readers. Every slot held.
func (c *Concurrent[V]) mwCompactWorth(ws []*wstate[V]) bool {
	if c.dropPending {
		return false
	}
	if c.mwr.noCompact {
		return false
	}
	capacity := c.arenas[c.cur].capacity()
	inUse := capacity - c.mwFreeBytes(ws)
	return c.mwr.force || capacity > 2*inUse+4*int(c.mask+1)
}

// mwLockTreeRetry is mwLockTree that, while a writer holds a node lock
// (and so waits for a slot), unlocks, lets the writers finish and tries
// again, up to mwCompactTries more times. Every slot held (released and
// taken again between tries).
func (c *Concurrent[V]) mwLockTreeRetry() (held []*atomic.Uint64, ok bool) {
	for try := 0; ; try++ {
		if held, ok = c.mwLockTree(); ok {
			return held, true
		}
		unlockAll(held)
		if try == mwCompactTries {
			return nil, false
		}
		c.unlockSlots()
		backoff(try + 1)
		c.lockSlots()
	}
}

// mwCompact copies the tree, whose locks (held) it takes over, into a
// fresh pool, publishes the copy and marks the old nodes obsolete; on an
// allocation failure the trie is unchanged (held unlocked) and the error is
// returned. Every writer slot held, every retiree whose readers left
// reclaimed.
func (c *Concurrent[V]) mwCompact(held []*atomic.Uint64) error {
	lf, err := newSharedArena(c.pcfg)
	if err != nil {
		unlockAll(held)
		return err
	}
	ni := 1 - c.cur
	dst := c.mwArena(lf, ni)
	cp := treeCopy{node: c.mwNode, dst: dst, fail: c.slots[0].w.core.failAlloc}
	root, err := cp.copy(c.root.Load())
	if err != nil {
		unlockAll(held)
		c.mwSetView(ni, nil) // the partial copy's chunks: never published in the tree
		return err
	}
	for i := range c.slots {
		w := &c.slots[i].w
		if i == 0 {
			w.core.mem, w.core.nodes = dst, cp.nodes
		} else {
			w.core.mem, w.core.nodes = c.mwArena(lf, ni), 0
		}
		w.dropNodeRetirees()
	}
	c.arenas[ni] = dst
	c.cur = ni
	c.mwSetView(ni, c.view.Load().chunks[ni]) // hot: the copy's arena
	c.root.Store(root)                        // release: publishes the copy
	for _, l := range held {
		if l != &c.rootLock {
			l.Store(obsoleteBit) // release: the node is replaced by its copy
		}
	}
	c.rootLock.Store(0)                                // release: unlock
	c.dropPending, c.dropEpoch = true, c.epoch.Epoch() // read after the root store
	c.mwr.held = false                                 // held slots were the old pool's
	c.compactions.Add(1)                               // relaxed: a statistic
	c.storeCapacity()
	return nil
}

// mwLockTree takes the root slot's lock and the lock of every node of the
// tree, and returns them; ok is false when one was taken (by a writer that
// waits for a slot). Every writer slot held.
func (c *Concurrent[V]) mwLockTree() (held []*atomic.Uint64, ok bool) {
	if !tryLock(&c.rootLock) {
		return nil, false
	}
	held = append(held, &c.rootLock)
	ok = c.eachNode(c.root.Load(), func(n node, _ header) bool {
		if !tryLock(lockWord(n)) {
			return false
		}
		held = append(held, lockWord(n))
		return true
	})
	return held, ok
}

// eachNode calls f on every node of the tree at root, parents before
// children, until f returns false, and reports whether it went through.
// The tree must not change meanwhile (the caller excludes writers).
func (c *Concurrent[V]) eachNode(root uint32, f func(n node, h header) bool) bool {
	stack := []uint32{root}
	for len(stack) > 0 {
		ref := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if ref == 0 || isLeafRef(ref) {
			continue
		}
		n := c.mwNode(ref)
		h := n.hdr()
		if !f(n, h) {
			return false
		}
		forChildren(n, h, func(_ byte, r uint32) { stack = append(stack, r) })
	}
	return true
}

// unlockAll releases the lock words in held.
func unlockAll(held []*atomic.Uint64) {
	for _, l := range held {
		l.Store(0) // release: unlock
	}
}

// dropNodeRetirees forgets the node retirees of w's queue (they are in a
// pool a compaction replaced, dropped whole) and keeps its value
// retirees. Slot holder.
func (w *wstate[V]) dropNodeRetirees() {
	kept := w.ret[:0]
	for _, r := range w.ret[w.rhead:] {
		if r.size == 0 {
			kept = append(kept, r)
		}
	}
	w.ret, w.rhead = kept, 0
	if p := len(w.ret); p != w.statPending {
		w.c.pending.Add(int64(p - w.statPending)) // relaxed: a statistic
		w.statPending = p
	}
}
