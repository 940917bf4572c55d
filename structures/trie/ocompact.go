package trie

// Compaction of the one-writer form (OneWriteMultiRead): the live tree is
// copied into the second arena and published with one root store; the old
// arena goes back to the Go heap once no reader can be in it.
//
// Who may call what: only the holder of the writer role, with no batch
// pending and no retired node waiting for readers (Writer.Reclaim calls it
// after a forced reclaim). Readers never call it.
//
// Invariants:
//   - Refs carry their arena in bit 31 (arena.refBit); the readers' view
//     has one chunk table per arena, so refs of both arenas resolve while a
//     compaction is in flight.
//   - The copy is built entirely before the root store (release) that
//     publishes it, into chunks the view already covers (grew publishes
//     them before any node in them is linked).
//   - The old arena is reset only once the reader domain's SafeBelow has
//     passed the epoch read after the root store (tryDrop, from every
//     publication and Writer.Reclaim): every reader that could still hold
//     one of its refs has left. Nobody waits for that under the writer
//     role (a reader that writes would wait for the role: a deadlock).
//     Until then no other compaction starts (compactWorth). Its chunk
//     table is then dropped from the view, so the Go heap can take the
//     chunks back once the readers' older views are gone.
//   - Value slots do not move (they are Go memory, indexed by the nodes).
//
// Rejected: releasing single free chunks of the pool (the pool cannot give
// one chunk back and keep its offsets, and readers index chunks by offset;
// a pool API for it would be the next step: no copy, no pause); copying
// node by node under readers with per-node forwarding (every reader would
// pay for a check that matters once per compaction).

import "github.com/zipora-go/zipora/structures/pool"

// setupArena installs mem as arena i.
func (c *Concurrent[V]) setupArena(i int, mem *arena) {
	if c.multi || poisonCheck {
		mem.pad = 8
	}
	if i == 1 {
		mem.refBit = refArenaBit
	}
	mem.grew = func(off pool.Offset) { c.grew(i, off) }
	c.arenas[i] = mem
}

// compactWorth reports whether the arena reserves more than twice the live
// nodes' bytes plus four chunks (4 MiB with the default 1 MiB chunks): then
// a compaction pays.
func (c *Concurrent[V]) compactWorth() bool {
	if c.dropPending || c.snapHeld() {
		return false // the other arena is not free yet, or snapshots reach this one
	}
	mem := c.w.core.mem
	return mem.capacity() > 2*mem.bytesInUse()+4*int(c.mask+1)
}

// compact moves every node into the other arena and publishes the copy;
// the old arena is reset once readers have left it. On an allocation error
// the trie is unchanged. It does nothing while a retired node or the last
// compaction's old arena still waits for readers. Writer-role holder only,
// no batch pending.
func (c *Concurrent[V]) compact() error {
	if c.dropPending || c.snapHeld() {
		return nil // the other arena still has readers, or snapshots reach this one: not now
	}
	for _, r := range c.w.ret[c.w.rhead:] {
		if r.size > 0 {
			// A node still waits for readers (its free would go to the
			// wrong arena after the switch): not now.
			return nil
		}
	}
	src := c.w.core.mem
	ni := 1 - c.cur
	dst := c.arenas[ni]
	if dst == nil {
		mem, err := newArena(c.pcfg)
		if err != nil {
			return err
		}
		c.setupArena(ni, mem)
		dst = mem
	}
	cp := treeCopy{node: src.ptr, dst: dst, fail: c.w.core.failAlloc}
	root, err := cp.copy(c.w.root)
	if err != nil {
		c.dropArena(ni)
		return err
	}
	c.w.clearFresh()
	c.w.core.mem = dst
	c.cur = ni
	c.view.Store(c.view.Load().withHot(ni)) // release: readers' fast path moves to dst
	c.w.root = root
	c.root.Store(root)                                 // release: publishes the copy
	c.dropPending, c.dropEpoch = true, c.epoch.Epoch() // read after the root store, as a retirement's
	c.compactions.Add(1)                               // relaxed: a statistic
	c.tryDrop()
	c.w.publishStats()
	return nil
}

// tryDrop resets the old arena of the last compaction once no reader can
// be in it, advancing the epoch when it can. Writer-role holder only.
func (c *Concurrent[V]) tryDrop() {
	if !c.dropPending {
		return
	}
	if c.dropEpoch >= c.epoch.SafeBelow() {
		c.epoch.TryAdvance()
		if c.dropEpoch >= c.epoch.SafeBelow() {
			return
		}
	}
	c.dropPending = false
	c.dropArena(1 - c.cur)
}

// dropArena resets arena i (no reader can reach it) and drops its chunk
// table from the view.
func (c *Concurrent[V]) dropArena(i int) {
	a := c.arenas[i]
	a.reset()
	nv := *c.view.Load() // the writer's own last store
	nv.chunks[i] = nil
	c.view.Store(nv.withHot(c.cur)) // release: a later growth of arena i starts a new table
	c.storeCapacity()
}
