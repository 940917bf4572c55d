package trie

// Snapshots of the multi-writer form (MultiWriteMultiRead), layered on the
// one-writer machinery (snapshot.go) without touching the lock-and-replace
// write path (mwmr.go): while a snapshot is open the writers serialize and
// write exactly as the one-writer form does under snapshots.
//
// Who may call what: any goroutine calls mwInsertGated, mwDeleteGated,
// mwSnapshot and mwSnapClosed; the snapshot-mode writer state (c.w, its
// arena over the slots' shared pool, c.snap) is touched only under
// mwSnap.mu.
//
// Invariants:
//   - mode is 0 (normal: writes go to mwInsert/mwDelete, in parallel) or 1
//     (snapshot mode: every write takes mu and runs the one-writer
//     in-place write with cowPath, on c.w). Only a holder of mu changes
//     mode: to 1 when the first snapshot is taken, to 0 when the writer
//     state sees no open snapshot (sweep).
//   - A normal-mode write runs inside a guard of wdom, an epoch domain of
//     writers only, and loads mode inside it. Taking the first snapshot
//     stores mode = 1, then waits (wdom.Synchronize) for every write inside
//     a guard: a write that loaded 0 entered its guard before that store
//     (sequentially consistent atomics), so it is waited for, and a write
//     that loads 1 goes to mu. So once the wait returns no normal-mode
//     write is running, and none starts while mode is 1: the holder of mu
//     is the only writer, as the one-writer form's role holder is. A write
//     that saw mode 1 and then finds it 0 under mu takes the normal path.
//   - The node format is the same in both forms; lock words of nodes built
//     in snapshot mode are zero (the arena zeroes them), and nodes it
//     unlinks are not marked obsolete: no normal-mode writer can hold them
//     (none ran since before they were unlinked, and later ones start from
//     the root). Snapshot mode's writer state keeps its own retire queue,
//     value slots and key-count delta (added to slot 0's share, under that
//     slot's mutex, so Len stays the sum of the slots' shares).
//
// Missed wake-ups: nobody sleeps on mode; a write in snapshot mode blocks
// only on mu, whose holders are bounded (one write, one snapshot, one
// sweep). Taking the first snapshot waits for normal-mode writes in flight,
// which wait for nothing it holds (they never take mu).
//
// Cost: outside snapshots a multi-writer write pays one guard of wdom (two
// atomic adds on a striped counter and two loads); while one is open
// writes are serial (one-writer speed, with path copying of shared nodes).
//
// Rejected: path copying under the per-node locks of mwmr.go (every
// write would also lock and copy from the root, changing the file another
// branch owns, for a mode that is rare); a reader-writer lock around every
// multi-writer write (a shared counter bounced between cores on every
// write; wdom's counters are striped); the trie's reader epoch domain for
// the gate (Snapshot would wait for long iterations, and for ever from
// inside one).

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/primitives"
)

// mwSnap is the multi-writer form's snapshot gate.
type mwSnap struct {
	mode atomic.Uint32 // seq-cst: 0 normal, 1 snapshot mode
	_    [primitives.CacheLineSize - 4]byte
	wdom primitives.EpochDomain // normal-mode writes in flight
	mu   sync.Mutex             // the snapshot-mode writer, snapshots and sweeps
}

// mwInsertGated is mwInsert, or its snapshot-mode form while snapshots are
// open.
func (c *Concurrent[V]) mwInsertGated(key []byte, v V) (bool, error) {
	g := c.msnap.wdom.Enter()
	if c.msnap.mode.Load() == 0 { // seq-cst: after the guard (see the file comment)
		added, err := c.mwInsert(key, v)
		g.Exit()
		return added, err
	}
	g.Exit()
	return c.mwSnapInsert(key, v)
}

// mwDeleteGated is mwDelete, or its snapshot-mode form.
func (c *Concurrent[V]) mwDeleteGated(key []byte) (V, bool, error) {
	g := c.msnap.wdom.Enter()
	if c.msnap.mode.Load() == 0 { // seq-cst: after the guard
		old, found, err := c.mwDelete(key)
		g.Exit()
		return old, found, err
	}
	g.Exit()
	return c.mwSnapDelete(key)
}

func (c *Concurrent[V]) mwSnapInsert(key []byte, v V) (bool, error) {
	if !c.mwSnapBegin() {
		return c.mwInsertGated(key, v)
	}
	added, err := c.owInsertNow(key, v)
	c.mwSnapEnd()
	return added, err
}

func (c *Concurrent[V]) mwSnapDelete(key []byte) (V, bool, error) {
	if !c.mwSnapBegin() {
		return c.mwDeleteGated(key)
	}
	old, found, err := c.owDeleteNow(key)
	c.mwSnapEnd()
	return old, found, err
}

// mwSnapBegin takes mu for a snapshot-mode write; false (mu not held) when
// snapshot mode ended meanwhile.
func (c *Concurrent[V]) mwSnapBegin() bool {
	c.msnap.mu.Lock()
	if c.msnap.mode.Load() == 0 {
		c.msnap.mu.Unlock()
		return false
	}
	c.w.root = c.root.Load() // no normal-mode writer runs: the tree is ours
	c.snapKeys0 = c.w.keys
	return true
}

// mwSnapEnd publishes a snapshot-mode write (retiring or holding what it
// unlinked), adds its key-count change to slot 0's share, leaves snapshot
// mode when no snapshot is open any more, and releases mu.
func (c *Concurrent[V]) mwSnapEnd() {
	c.publish()
	if d := c.w.keys - c.snapKeys0; d != 0 {
		s := &c.slots[0]
		s.mu.Lock()
		s.w.mwKeys.Add(d) // relaxed: a count (Len sums the shares)
		s.mu.Unlock()
	}
	c.mwSnapLeave()
	c.msnap.mu.Unlock()
}

// mwSnapLeave sweeps closed snapshots and returns to normal mode when none
// is open. Under mu.
func (c *Concurrent[V]) mwSnapLeave() {
	c.sweep()
	if !c.snap.on && c.msnap.mode.Load() != 0 {
		c.msnap.mode.Store(0) // seq-cst: normal-mode writes resume
	}
}

// mwSnapshot takes a snapshot of the multi-writer trie: it enters snapshot
// mode if needed (waiting for the normal-mode writes in flight), then
// registers the published root as the one-writer form does.
func (c *Concurrent[V]) mwSnapshot() *Snapshot[V] {
	ms := &c.msnap
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.mode.Load() == 0 {
		if c.w.core.mem == nil { // the snapshot-mode writer's arena, over the slots' pool
			m := c.slots[0].w.core.mem
			c.w.core.mem = &arena{lf: m.lf, align: m.align, pad: m.pad, grew: m.grew}
		}
		ms.mode.Store(1) // seq-cst: before the wait (see the file comment)
		ms.wdom.Synchronize()
	}
	c.w.root = c.root.Load()
	return c.takeSnapshot(c.mwLen())
}

// mwSnapClosed is a multi-writer snapshot's close: the sweep runs at once
// unless a snapshot-mode write holds mu (it sweeps when it ends).
func (c *Concurrent[V]) mwSnapClosed() {
	if c.msnap.mu.TryLock() {
		c.mwSnapLeave()
		c.msnap.mu.Unlock()
	}
}

// mwReclaim is Reclaim at MultiWriteMultiRead (after its first wait for
// readers). It holds mu until nothing moves any more (not across the
// second wait for readers: a reader that writes in snapshot mode, or takes
// a snapshot, inside its iteration would wait for this Reclaim while it
// waits for that reader), so no snapshot is taken and no
// snapshot-mode write runs while mwReclaimAll moves nodes or values or
// releases pool chunks (lock order: mu, then the writer slots, as
// mwSnapEnd). While a snapshot is open or holds retired memory, or while
// the snapshot-mode writer still has retirees readers may reach, nothing
// moves and nothing is released: the slots and the snapshot-mode writer
// only reclaim what their readers left. Otherwise the snapshot-mode
// writer's state is folded into slot 0 first (mwSnapFold: mwReclaimAll
// knows only the slots), so a trie that took snapshots compacts again
// once they are closed (TestSnapshotMultiWriterCompactsAfterClose).
func (c *Concurrent[V]) mwReclaim(ctx context.Context) error {
	ms := &c.msnap
	ms.mu.Lock()
	c.mwSnapLeave()
	if c.w.core.mem != nil {
		c.w.reclaim(true) // retired before the caller's wait for readers: free now
	}
	if c.mwSnapFold() {
		return c.mwReclaimAll(ctx, ms.mu.Unlock)
	}
	defer ms.mu.Unlock()
	c.eachSlot(func(w *wstate[V]) {
		w.reclaim(true)
		w.shareValues(0)
		w.publishStatsNow()
	})
	if c.w.core.mem != nil {
		c.w.reclaim(true)
		c.w.shareValues(0)
		c.w.publishStatsNow()
	}
	return nil
}

// mwSnapFold gives the snapshot-mode writer's state back once no snapshot
// is open, nothing is held for one and its retire queue is empty: its node
// and byte counts and its free value slots (its untaken range counted as
// handed out and free) go to slot 0, and it drops its arena, so that
// mwReclaimAll, which knows only the slots, may move and release memory
// again. It reports whether the snapshot-mode writer has no state left.
// Under mu, no snapshot-mode write running.
func (c *Concurrent[V]) mwSnapFold() bool {
	w := &c.w
	if c.msnap.mode.Load() != 0 || c.snapHeld() {
		return false
	}
	if w.core.mem == nil {
		return true
	}
	if w.rhead != len(w.ret) {
		return false // readers may still reach what it retired
	}
	w.publishStatsNow()
	s := &c.slots[0]
	s.mu.Lock()
	d := &s.w
	d.core.nodes += w.core.nodes // the published sums stay as they are
	d.statNodes += w.statNodes
	d.core.mem.inUse += w.core.mem.inUse
	d.statBytes += w.statBytes
	d.vfree = append(d.vfree, w.vfree...)
	for i := w.vnext; i < w.vend; i++ {
		d.vfree = append(d.vfree, i)
	}
	d.vhanded += w.vhanded + int(w.vend-w.vnext)
	s.mu.Unlock()
	fail := w.core.failAlloc
	*w = wstate[V]{c: c, keys: w.keys, ret: w.ret[:0], vfree: w.vfree[:0]}
	w.core.noValues = true // values live in c.vals
	w.core.failAlloc = fail
	return true
}
