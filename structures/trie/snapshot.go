package trie

// Point-in-time snapshots of the one-writer form (OneWriteMultiRead; the
// multi-writer form serializes its writers onto this machinery while a
// snapshot is open, snapmw.go): a snapshot is the published root ref and key count at the moment it was
// taken, plus the writer's promise that nothing reachable from that root
// changes or is reused until the snapshot is closed. Taking one copies
// nothing (a few words under the writer role); the writer pays while it is
// open, by path copying instead of writing in place.
//
// Who may call what: Snapshot (taking the role), Writer.Snapshot (the role
// holder), every Snapshot method, and snapState.close from any goroutine;
// everything on snapWriter belongs to the writer-role holder, except the
// atomics (closed, closedN, and the statistics).
//
// Invariants, while at least one snapshot is open (snapWriter.on):
//   - A node or value slot is young when it was built after the newest open
//     snapshot was taken (snapWriter.nodes/vals: generation-stamped
//     bitsets, emptied in O(1) when a snapshot is taken). No snapshot can
//     reach a young node or slot: every snapshot's root was taken before
//     it existed, and old nodes (below) never change.
//   - Old nodes (not young) never change in place. A per-key write first
//     makes every node its in-place write may change young (cowPath: from
//     the root down, each old node on the key's path is copied and the copy
//     stored into its young parent's slot, or the root, with one release
//     store: the copy has the same contents, so live readers see no
//     change), then runs the ordinary in-place write (owinplace.go), whose
//     rules keep young published nodes safe for live readers. Batches are
//     copy-on-write already (owmr.go): they never change a published node.
//   - An old node or value slot unlinked from the live tree is held (not
//     retired) with the id of the newest snapshot at that time: only
//     snapshots with that id or lower can reach it. It is retired (epoch
//     read now) once every such snapshot is closed. Young ones are retired
//     as usual.
//   - Compaction (ocompact.go) does not run while a snapshot is open or a
//     held node remains: it would move or free what a snapshot reaches.
//   - When the last snapshot closes (observed by the writer: sweep), every
//     held item is retired and in-place writes resume.
//
// Readers of a snapshot bracket every read with the trie's epoch guard and
// check closed inside it: Close (any goroutine) stores closed and counts it
// in closedN; the writer sees the count (sweep), then reads the epoch and
// retires what only closed snapshots held: a reader still inside saw closed
// false, so its guard entered before that epoch read and the memory waits
// for it (EpochDomain's argument, with Close's store as the unlink). A read
// after Close sees an empty trie, never freed memory.
//
// Forgetting Close: the snapshot keeps its memory and the writer keeps path
// copying until the garbage collector finds the Snapshot unreachable; a
// cleanup (runtime.AddCleanup) then closes it. Nothing is corrupted.
//
// Rejected: an undo log of in-place writes replayed by snapshot readers
// (every snapshot read would search the log; scans at 0.9× the quiet trie
// would be out of reach); copying the path from the root on every write
// while a snapshot is open (go-immutable-radix's cost: a dense root is 1 KiB
// per write); a per-node birth stamp (a word per node, and the node format
// is shared with the single-owner trie); holding an epoch guard for a
// snapshot's lifetime (Reclaim and WaitReaders would wait for it forever,
// and every retired node would be kept, not only those it reaches).

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Snapshot is a read-only view of a Concurrent trie exactly as it was when
// Snapshot (or Writer.Snapshot) returned it: later writes do not change it.
// Its reads never lock and never block writers; they have the cost of the
// trie's own reads. All methods are safe for concurrent use.
//
// While a snapshot is open the trie keeps every node and value it reaches
// (Stats.SnapshotBytes) and the writer copies the nodes on a write's path
// that snapshots share instead of changing them in place. Close gives both
// back. A Snapshot dropped without Close is closed by the garbage collector
// eventually; until then it costs that memory and those copies. After
// Close, reads see an empty trie (Get reports absent, Len 0, iterators
// yield nothing).
//
// The zero Snapshot is not usable; a Snapshot must not be copied.
type Snapshot[V any] struct {
	st      *snapState[V]
	cleanup runtime.Cleanup
}

// snapState is a snapshot's shared state: what the Snapshot wraps, the
// writer's list of open snapshots names, and its cleanup closes (a
// Snapshot the garbage collector finds unreachable).
type snapState[V any] struct {
	c      *Concurrent[V]
	root   uint32 // the published root when it was taken
	keys   int    // the published key count then
	id     uint64 // snapWriter.seq when it was taken
	closed atomic.Bool
}

// snapWriter is the writer's side of the snapshots: the writer-role
// holder's (one-writer form) or the snapshot-mode writer's, under
// mwSnap.mu (multi-writer form, snapmw.go). Only they touch it, except
// closedN; normal-mode multi-writer writes read on (false) and nothing
// else, never while a snapshot-mode writer runs.
type snapWriter[V any] struct {
	on    bool            // at least one snapshot open (as the writer last swept)
	seq   uint64          // ids handed out
	open  []*snapState[V] // open snapshots, oldest (lowest id) first
	nodes genSet          // young nodes (by freshIdx)
	vals  genSet          // young value slots
	held  []heldItem      // unlinked while snapshots could reach them, oldest first
	seen  uint64          // closedN as of the last sweep
	bytes int64           // memory of held (published in Concurrent.snapBytes)
	// closedN counts Close calls (any goroutine); the writer sweeps when it
	// moved.
	closedN atomic.Uint64
}

// heldItem is a retiree kept for the open snapshots with id <= seq.
type heldItem struct {
	r   retiree
	seq uint64
}

// Snapshot returns a read-only view of c exactly as it is now (see
// Snapshot). At OneWriteMultiRead it takes the writer role for a moment
// (waiting for a writer that holds it, as Insert does: from the goroutine
// that holds the role use Writer.Snapshot instead). At
// MultiWriteMultiRead the first open snapshot waits for the writes in
// flight, and writers then run one at a time until the last snapshot is
// closed. Taking a snapshot copies nothing. The snapshot holds every write
// published before the call and none made after it returns. Close it when
// done. The memory it keeps counts against a MaxBytes cap
// (Config.Pool): with snapshots open, inserts may fail with
// pool.ErrExhausted sooner. The error is always nil today (kept for
// forms that may refuse).
func (c *Concurrent[V]) Snapshot() (*Snapshot[V], error) {
	if c.multi {
		return c.mwSnapshot(), nil
	}
	if err := c.lockWriter(context.Background()); err != nil {
		return nil, err
	}
	s := c.takeSnapshot(int(c.w.keys))
	c.release()
	return s, nil
}

// Snapshot is Concurrent.Snapshot for the holder of the writer role: it
// publishes the writes still pending (as Publish does) and returns a view
// of the trie with them.
func (w *Writer[V]) Snapshot() (*Snapshot[V], error) {
	c := w.live()
	if c.multi {
		return c.mwSnapshot(), nil
	}
	w.Publish()
	return c.takeSnapshot(int(c.w.keys)), nil
}

// takeSnapshot registers a snapshot of the published tree, which holds
// keys keys. Writer-role holder (one-writer) or snapshot-mode writer
// (multi-writer, snapmw.go), nothing pending.
func (c *Concurrent[V]) takeSnapshot(keys int) *Snapshot[V] {
	c.publish()
	sw := &c.snap
	c.sweep()
	sw.seq++
	st := &snapState[V]{c: c, root: c.root.Load(), keys: keys, id: sw.seq}
	sw.open = append(sw.open, st)
	sw.on = true
	sw.nodes.reset() // every node and value slot is old now
	sw.vals.reset()
	c.snapOpen.Add(1) // relaxed: a statistic
	return newSnapshot(st)
}

// newSnapshot wraps st, with a cleanup that closes it when the Snapshot is
// dropped unclosed.
func newSnapshot[V any](st *snapState[V]) *Snapshot[V] {
	s := &Snapshot[V]{st: st}
	s.cleanup = runtime.AddCleanup(s, func(st *snapState[V]) { st.close() }, st)
	return s
}

// Close releases the snapshot: the memory only it kept goes back to the
// trie (at once when no writer holds the role, else at the writer's next
// write or Reclaim), and when it was the last open snapshot the writer
// resumes writing in place. Close is idempotent and never blocks; it
// returns nil.
func (s *Snapshot[V]) Close() error {
	if s.st.close() {
		s.cleanup.Stop()
	}
	return nil
}

// close marks st closed (once) and lets the writer know; at
// OneWriteMultiRead it sweeps at once when the writer role is free.
func (st *snapState[V]) close() bool {
	if !st.closed.CompareAndSwap(false, true) { // release: pairs with readers' loads
		return false
	}
	c := st.c
	c.snapOpen.Add(-1)    // relaxed: a statistic
	c.snap.closedN.Add(1) // release: the writer sweeps after it sees this
	if c.multi {
		c.mwSnapClosed()
	} else if c.tryLockWriter() == nil {
		c.sweep()
		c.release()
	}
	return true
}

// sweep drops closed snapshots from the writer's list and retires what no
// open snapshot can reach any more. Writer-role holder only.
func (c *Concurrent[V]) sweep() {
	sw := &c.snap
	if !sw.on {
		return
	}
	n := sw.closedN.Load() // acquire: the closes to act on
	if n == sw.seen {
		return
	}
	sw.seen = n
	open := sw.open[:0]
	for _, st := range sw.open {
		if !st.closed.Load() {
			open = append(open, st)
		}
	}
	clear(sw.open[len(open):])
	sw.open = open
	minOpen := ^uint64(0)
	if len(open) > 0 {
		minOpen = open[0].id
	} else {
		sw.on = false
	}
	i := 0
	e := c.epoch.Epoch() // read after the closes were seen: see the file comment
	for ; i < len(sw.held) && sw.held[i].seq < minOpen; i++ {
		r := sw.held[i].r
		sw.bytes -= c.heldSize(r)
		c.w.retire(e, r.ref, r.size)
	}
	if i > 0 {
		n := copy(sw.held, sw.held[i:])
		clear(sw.held[n:])
		sw.held = sw.held[:n]
		c.snapBytes.Store(sw.bytes) // relaxed: a statistic
		c.w.reclaim(false)
	}
}

// heldSize is the memory a held item keeps: a node's block or a value slot.
func (c *Concurrent[V]) heldSize(r retiree) int64 {
	if r.size > 0 {
		return int64(r.size)
	}
	var zero V
	return int64(unsafe.Sizeof(zero))
}

// retirePend retires what the publication just made unreachable for live
// readers (read epoch e after the root store); while snapshots are open,
// old nodes and value slots are held for them instead. Writer only.
func (c *Concurrent[V]) retirePend(e uint64) {
	w := &c.w
	sw := &c.snap
	if !sw.on {
		for _, r := range w.pend {
			w.retire(e, r.ref, r.size)
		}
		return
	}
	for _, r := range w.pend {
		if r.size > 0 && sw.nodes.has(freshIdx(r.ref)) || r.size == 0 && sw.vals.has(r.ref) {
			w.retire(e, r.ref, r.size) // young: no snapshot reaches it
			continue
		}
		sw.held = append(sw.held, heldItem{r, sw.seq})
		sw.bytes += c.heldSize(r)
	}
	c.snapBytes.Store(sw.bytes) // relaxed: a statistic
}

// markYoungNode and markYoungValue record a node or value slot built while
// snapshots are open (called for every new one; cheap when none is).
func (c *Concurrent[V]) markYoungNode(ref uint32) {
	if c.snap.on {
		c.snap.nodes.add(freshIdx(ref))
	}
}

func (c *Concurrent[V]) markYoungValue(idx uint32) {
	if c.snap.on {
		c.snap.vals.add(idx)
	}
}

// insertNowOnce is owInsertNowOnce with, while snapshots are open, the
// key's path made young first.
func (c *Concurrent[V]) insertNowOnce(key []byte, v V) (bool, error) {
	if c.snap.on {
		if err := c.cowPath(key); err != nil {
			return false, err
		}
	}
	return c.owInsertNowOnce(key, v)
}

// deleteNowOnce is owDeleteNowOnce with, while snapshots are open, the
// key's path made young first (only when the key is there: a miss changes
// nothing).
func (c *Concurrent[V]) deleteNowOnce(key []byte) (V, bool, error) {
	if c.snap.on {
		if _, ok := c.lookupFrom(c.w.root, key); ok {
			if err := c.cowPath(key); err != nil {
				var zero V
				return zero, false, err
			}
		}
	}
	return c.owDeleteNowOnce(key)
}

// cowPath replaces every old node on key's path in the published tree by a
// young copy, from the root down, so that the in-place write that follows
// changes only young nodes (see the file comment). A node the key leaves
// through its prefix is not copied: the write only reads it (a split) and
// changes its parent's slot. On error the tree has some copies linked (the
// same contents) and is otherwise unchanged. In-place writer only.
//
// The descent is walkPath's (the readers' form on the multi-writer pool,
// as owDeleteNowOnce), with room for every level.
func (c *Concurrent[V]) cowPath(key []byte) error {
	mem := c.w.core.mem
	buf := c.w.core.path[:0]
	if cap(buf) < len(key)+2 {
		buf = make([]step, 0, len(key)+2) // the readers' form keeps cap levels
	}
	// Safety: atomic.Uint32 is a uint32; walkPath only loads it.
	root := (*uint32)(unsafe.Pointer(&c.root))
	var path []step
	var out int
	if mem.lf != nil {
		path, _, _, _, _, out = walkPath[V, atomicLoads](nil, c, root, key, buf)
	} else {
		path, _, _, _, _, out = walkPath[V, plainLoads](mem, nil, root, key, buf)
	}
	c.w.core.path = path
	k := len(path)
	if out == walkSlot || out == walkPrefix {
		k-- // an empty or leaf slot, or a node only read
	}
	for l := range k {
		st := &path[l]
		if c.snap.nodes.has(freshIdx(st.ref)) {
			continue
		}
		n := mem.at(st.ref)
		h := n.hdr()
		nr, err := c.w.build(h, n.prefix(h), n.valueIdx(), n, h, 0, 0)
		if err != nil {
			return err
		}
		// Safety: as root; st.slot is the root or a child slot (slotAt).
		(*atomic.Uint32)(unsafe.Pointer(st.slot)).Store(nr) // release: publishes an identical copy
		c.retireNode(st.ref)
		c.w.dirty = true // the publication retires (holds) ref even if the write fails
		if l+1 < len(path) {
			// Safety: the copy has n's header, hence its layout: the next
			// level's slot lies at the same offset in it as in n.
			path[l+1].slot = (*uint32)(unsafe.Add(mem.at(nr).p, uintptr(unsafe.Pointer(path[l+1].slot))-uintptr(n.p)))
		}
	}
	return nil
}

// snapHeld reports whether compaction must wait: a snapshot is open or
// memory is held for one.
func (c *Concurrent[V]) snapHeld() bool { return c.snap.on || len(c.snap.held) > 0 }

// ---- reads ----

// Get returns the value stored under key in the snapshot and whether it is
// present. It never blocks, locks or allocates.
func (s *Snapshot[V]) Get(key []byte) (V, bool) {
	st := s.st
	c := st.c
	g := c.epoch.Enter()
	c.readerIn()
	var v V
	ok := false
	if !st.closed.Load() { // acquire: see the file comment
		var idx uint32
		if idx, ok = c.lookupFrom(st.root, key); ok {
			v = c.value(idx)
		}
	}
	g.Exit()
	return v, ok
}

// Contains reports whether key is present in the snapshot.
func (s *Snapshot[V]) Contains(key []byte) bool {
	_, ok := s.Get(key)
	return ok
}

// Len returns the number of keys in the snapshot (0 after Close).
func (s *Snapshot[V]) Len() int {
	if s.st.closed.Load() {
		return 0
	}
	return s.st.keys
}

// All returns an iterator over the snapshot's keys and values in ascending
// key order. The yielded key is a reused buffer, valid until the loop body
// returns. The iteration holds the trie's epoch guard from start to end,
// as Concurrent.All does.
func (s *Snapshot[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { s.st.c.eachIn(s.st, nil, boundNone, nil, yield) }
}

// Prefix returns an iterator over the snapshot's keys that start with p,
// ascending (see All).
func (s *Snapshot[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { s.st.c.eachIn(s.st, p, boundPrefix, p, yield) }
}

// Seek returns an iterator over the snapshot's keys >= k, ascending (see
// All).
func (s *Snapshot[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { s.st.c.eachIn(s.st, k, boundNone, nil, yield) }
}

// Range returns an iterator over the snapshot's keys in [from, to),
// ascending; a nil to means no upper bound (see All).
func (s *Snapshot[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { s.st.c.eachIn(s.st, from, rangeArgs(to), to, yield) }
}

// ---- generation-stamped sets ----

// genSet is a set of small integers that empties in O(1): a bit per
// member, valid only while its 64-bit word's stamp equals the set's
// generation. Single owner.
type genSet struct {
	gen   uint32
	bits  []uint64
	stamp []uint32
}

func (s *genSet) has(i uint32) bool {
	b := int(i >> 6)
	return b < len(s.bits) && s.stamp[b] == s.gen && s.bits[b]&(1<<(i&63)) != 0
}

func (s *genSet) add(i uint32) {
	b := int(i >> 6)
	if b >= len(s.bits) {
		n := b + 1 + len(s.bits)/2
		s.bits = append(s.bits, make([]uint64, n-len(s.bits))...)
		s.stamp = append(s.stamp, make([]uint32, n-len(s.stamp))...)
	}
	if s.stamp[b] != s.gen {
		s.stamp[b], s.bits[b] = s.gen, 0
	}
	s.bits[b] |= 1 << (i & 63)
}

// reset empties the set.
func (s *genSet) reset() {
	if s.gen++; s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
}
