package trie

// In-place writes of the one-writer form (OneWriteMultiRead): what
// Concurrent.Insert, Concurrent.Delete, Writer.InsertNow and
// Writer.DeleteNow use. Each write changes the published tree directly and
// takes effect at one atomic store; nothing above the changed node is
// copied.
//
// Who may call what: only the holder of the writer role, and only when no
// copy-on-write batch is pending (c.w.root == c.root, nothing fresh:
// callers publish a pending batch first). Readers (cread.go) never call
// these.
//
// Invariants (with cmem.go's and cread.go's):
//   - A published node's prefix never changes, nor do its first count
//     labels. A write changes a published node in place only by
//     (a) storing its header-value word (storeHV, release): a value set,
//     replaced or cleared, or a larger count;
//     (b) appending a child to a sparse node with room whose labels are all
//     below the new one: the label byte and child slot past the count are
//     written first (no reader reads past the count it loaded), then the
//     larger count is stored (release), so a reader that sees the count
//     sees the label and child;
//     (c) storing a child slot (release): a dense node's slot, or a slot
//     whose subtree is replaced.
//     Every other change (a label in the middle, a full node, a split, a
//     child removed from a sparse node, a merge, a shrink) builds the
//     replacement node off to the side and stores its ref into the parent's
//     slot (or the root) with one release store; the replaced node is
//     retired, never written again.
//   - A sparse node's count never decreases in place (a removal copies the
//     node), so the bytes past the count that (b) writes are never read
//     concurrently: readers only read below counts they loaded, and every
//     count ever stored for this block is at most the current one.
//   - The key path of a node (its ancestors' prefixes and labels) never
//     changes while it is linked: a node whose path would change (split,
//     merge) is replaced, not edited.
//   - Unlinked nodes and value slots go to w.pend; publish (after the
//     write's last store) reads the epoch and retires them (EpochDomain's
//     argument: a reader that enters later cannot reach them). The insert
//     paths, with no snapshot open, retire a node they unlink at once at
//     the epoch read right after the unlinking store (unlinked): the same
//     argument, and the retire queue stays in epoch order. When the writer
//     is quiet (below) and no reader entered since, unlinked frees the node
//     at once instead.
//
// Quiet frees (one-writer form only; c.rdIn, w.quiet, w.quietFrom). Every
// reader, right after its epoch guard's Enter and before it loads the root
// or a snapshot's closed flag, loads rdIn and stores 1 if it was 0
// (readerIn, seq-cst). Only the writer stores 0, in reclaimScan
// (watchReaders): it clears rdIn (C), reads the epoch E0 right after, and
// becomes quiet once it observed SafeBelow > E0 (Q, after C) with rdIn
// still 0; a reader's 1 makes the next scan clear it again and leave quiet.
// A new Concurrent is quiet with rdIn 0 (no reader existed). Claim: if the
// writer, after the store S that unlinked node X, loads rdIn == 0 (F) while
// quiet, no reader can read X after F, so X is freed at once. Proof: take C
// the last clear before F. A reader R that reaches X loaded its path
// before S (a reader whose first tree load follows S cannot reach X:
// EpochDomain's premise, as for any retirement), so R's rdIn access A_R,
// which precedes its first load, precedes F. If A_R follows C, R stored 1
// or saw a 1 some reader stored after C, before F: F would see 1 (no clear
// lies between C and F). If A_R precedes C, R's epoch load in Enter
// precedes C and E0, so R entered at an epoch <= E0, and SafeBelow > E0 at
// Q means R had left before Q < F. Either way R reads X only before F.
// The reader's cost is one load of a read-mostly word (rdIn sits on the
// line with root); it stores only after a clear, at most once per scan.
// Rejected: testing the domain's 48 counters at each unlink (about 480
// instructions per node: more than the retirement it saves).
//
// Reader validation argument (why readers need no versions or retries):
// every node a reader reaches was linked at some moment inside the
// reader's interval (by induction from the root it loaded); a retired node
// is frozen at its retirement, when its content was the truth, and a
// linked node's words are the truth when loaded. The reader's answer
// depends on one word of its last node (the header-value word, or one child
// slot, or the immutable prefix and labels below the loaded count), so it
// is the truth at one moment inside its interval: point operations are
// linearizable, at that load.
//
// Iterators (scan) under concurrent in-place writes: keys are yielded in
// strictly ascending order (positions inside a node never move: appends go
// past the count and carry larger labels; a child's keys are above its
// label); a key present for the whole scan is yielded exactly once (every
// node on its path, linked or retired, holds it); a key yielded was
// present at the moment its value word or leaf slot was loaded. Keys
// inserted or deleted during the scan may or may not appear: there is no
// snapshot.
//
// Rejected: optimistic per-node versions (seqlock) with in-place shifting
// of sorted labels: readers would retry on every overlapping write, Go's
// race detector forbids the plain-load-then-validate pattern on node bytes
// (every label and prefix byte would need an atomic load), and the cost
// saved (copying one node on a middle insert or a removal) is small next
// to the path copying this replaces; unsorted appended labels (the node
// format and the builders shared with the single-owner trie keep labels
// sorted).

import (
	"sync/atomic"
	"unsafe"
)

// retireNode queues published node ref (unlinked by the write) for
// retirement at the next publication.
func (c *Concurrent[V]) retireNode(ref uint32) {
	if ref == 0 || isLeafRef(ref) {
		return
	}
	c.retireHdr(ref, c.w.core.mem.at(ref).hdr())
}

// retireHdr is retireNode for node ref with header h (the caller read it).
func (c *Concurrent[V]) retireHdr(ref uint32, h header) {
	c.w.pend = append(c.w.pend, retiree{ref: ref, size: uint32(nodeSize(h))})
}

// unlinked retires published node ref of size bytes (its nodeSize), which
// the write has just unlinked with an atomic store: at the epoch read now,
// after that store, as publish would read it (EpochDomain's argument),
// without the trip through w.pend, unless snapshots are open (publish's
// retirePend decides what they hold).
func (c *Concurrent[V]) unlinked(ref uint32, size int) {
	if c.snap.on {
		c.w.pend = append(c.w.pend, retiree{ref: ref, size: uint32(size)})
		return
	}
	if c.w.quiet && c.rdIn.Load() == 0 { // seq-cst: read after the unlink
		c.w.freeRetired(ref, size) // no reader can reach it: see "Quiet frees"
		return
	}
	c.w.retire(c.epoch.Epoch(), ref, uint32(size)) // read after the unlink
}

// watchReaders keeps the one writer's quiet state (owinplace.go, "Quiet
// frees"), given SafeBelow read after this scan's advance: a reader
// entered since the last clear (rdIn set) clears the flag again and ends
// quiet; otherwise the writer turns quiet once SafeBelow passed the
// epoch read after that clear.
func (w *wstate[V]) watchReaders(safe uint64) {
	c := w.c
	if c.rdIn.Load() != 0 { // seq-cst
		c.rdIn.Store(0)               // seq-cst: C, before the epoch read
		w.quietFrom = c.epoch.Epoch() // E0
		w.quiet = false
	} else if !w.quiet && safe > w.quietFrom {
		w.quiet = true // Q: every reader of an epoch <= E0 has left
	}
}

// beginInPlace starts an in-place write: a pending batch is published
// first, and freshness tracking is off (nothing it builds stays
// unpublished). endInPlace ends it: the writer's root follows the
// published one.
func (c *Concurrent[V]) beginInPlace() {
	if c.w.root != c.root.Load() { // the writer's own last store
		// A pending copy-on-write batch (it copied the root, or emptied the
		// tree) goes out first. Pending in-place writes need no publication
		// before this one.
		c.publish()
	}
	c.w.track = false
}

func (c *Concurrent[V]) endInPlace() {
	c.w.track = true
	c.w.root = c.root.Load() // the writer's own last store
}

// owInsertNow inserts in place; on arena exhaustion it reclaims what
// readers no longer hold and tries once more.
func (c *Concurrent[V]) owInsertNow(key []byte, v V) (bool, error) {
	c.beginInPlace()
	added, err := c.insertNowOnce(key, v)
	if err != nil && c.w.relieve(err) {
		added, err = c.insertNowOnce(key, v)
	}
	c.endInPlace()
	return added, err
}

// owInsertNowOnce inserts key into the published tree. The descent is
// walk's (also on the snapshot-mode writer's shared arena, snapmw.go): the
// writer's plain loads of words only it stores race with nothing.
func (c *Concurrent[V]) owInsertNowOnce(key []byte, v V) (bool, error) {
	// Safety: atomic.Uint32 is a uint32; walk only loads it.
	ps, n, h, depth, out := walk(c.w.core.mem, (*uint32)(unsafe.Pointer(&c.root)), key, 0)
	slot := (*atomic.Uint32)(unsafe.Pointer(ps))
	switch out {
	case walkSlot:
		return c.slotInsertNow(slot, slot.Load(), key[depth:], v) // writer's own store
	case walkPrefix:
		m := commonPrefix(n.prefix(h), key[depth:])
		nr, err := c.w.splitNow(n, h, m, key[depth:], v)
		if err != nil {
			return false, err
		}
		ref := slot.Load() // writer's own store
		slot.Store(nr)     // release: publishes the split
		c.unlinked(ref, nodeSize(h))
		return c.inserted(true), nil
	case walkNode:
		vidx, err := c.w.newValue(v)
		if err != nil {
			return false, err
		}
		oldIdx := n.valueIdx()
		storeHV(n, h|flagValue, vidx) // release: publishes the value slot
		if h.hasValue() {
			c.dropValue(oldIdx)
		}
		return c.inserted(!h.hasValue()), nil
	}
	b := key[depth]
	if h.dense() {
		leaf, err := c.w.newValueLeaf(key[depth+1:], v)
		if err != nil {
			return false, err
		}
		slotAt(n, h, int(b)).Store(leaf) // release: publishes the leaf
		storeHV(n, h.withCount(h.count()+1), n.valueIdx())
		return c.inserted(true), nil
	}
	return c.addChildNow(slot, slot.Load(), n, h, b, key[depth+1:], v)
}

// splitNow is splitFor (owmr.go) for the in-place writes: the same
// replacement of n, with the builders called directly (splitNode's,
// withPrefix's and build's calls cost about 35 instructions each per split
// on a path that runs for about every other word key: issue 23). n is not
// freed; on error nothing is left allocated.
func (w *wstate[V]) splitNow(n node, h header, m int, rest []byte, v V) (uint32, error) {
	vidx, leaf, err := w.newKeyParts(m, rest, v)
	if err != nil {
		return 0, err
	}
	pre := n.prefix(h)
	end := m == len(rest)
	old, err := w.core.withPrefix(n, h, pre[m+1:])
	if err == nil {
		w.markFresh(old)
		var nr uint32
		if nr, err = w.core.buildNode(makeHeader(m, 1, classFor(2), end, false), pre[:m], vidx, node{}, 0, pre[m], old); err == nil {
			w.markFresh(nr)
			if !end {
				nn := w.core.mem.at(nr)
				w.core.insertChildInPlace(nn, nn.hdr(), rest[m], leaf)
			}
			return nr, nil
		}
		if !isLeafRef(old) {
			w.freeNode(old)
		}
	}
	w.undoKeyParts(m, rest, vidx, leaf)
	return 0, err
}

// slotInsertNow inserts the key whose remaining bytes are rest at slot,
// which holds nothing (an empty trie) or an inline leaf.
func (c *Concurrent[V]) slotInsertNow(slot *atomic.Uint32, ref uint32, rest []byte, v V) (bool, error) {
	switch {
	case ref == 0:
		r, err := c.w.newValueLeaf(rest, v)
		if err != nil {
			return false, err
		}
		slot.Store(r) // release: publishes the leaf
		return c.inserted(true), nil
	case len(rest) == 0:
		vidx, err := c.w.newValue(v)
		if err != nil {
			return false, err
		}
		slot.Store(leafRef(vidx)) // release: publishes the value
		c.dropValue(ref >> 1)
		return c.inserted(false), nil
	}
	leaf, err := c.w.newValueLeaf(rest[1:], v)
	if err != nil {
		return false, err
	}
	nr, err := c.w.core.buildNode(makeHeader(0, 1, classFor(2), true, false), nil, ref>>1, node{}, 0, rest[0], leaf)
	if err != nil {
		c.w.undoLeaf(leaf)
		return false, err
	}
	c.w.markFresh(nr) // w.build's step, without its call
	slot.Store(nr)    // release: publishes the node
	return c.inserted(true), nil
}

// addChildNow adds the child labelled b for the key suffix to sparse node
// n (ref at slot): appended in place when it has room and b is above every
// label, else by replacing n with a copy.
func (c *Concurrent[V]) addChildNow(slot *atomic.Uint32, ref uint32, n node, h header, b byte, suffix []byte, v V) (bool, error) {
	leaf, err := c.w.newValueLeaf(suffix, v)
	if err != nil {
		return false, err
	}
	cnt := h.count()
	if cnt < h.capacity() && (cnt == 0 || n.label(h, cnt-1) < b) {
		// Safety: cnt < capacity: label and child slot cnt lie inside the
		// node; no reader reads them before the count below covers them
		// (plain stores: no reader loads past a count it loaded, and this
		// node's count never decreased), and storeHV publishes them.
		n.labels(h, cnt+1)[cnt] = b
		*n.childSlot(h, cnt) = leaf
		storeHV(n, h.withCount(cnt+1), n.valueIdx()) // release: publishes label and child
		return c.inserted(true), nil
	}
	size := nodeSize(h)
	var nr uint32
	if cnt < h.capacity() {
		nr, err = c.w.copyWithChild(n, h, size, b, leaf)
	} else {
		// Full (or exactly sized): the next class, or dense past maxSparse
		// (grownHeader's growth case, without its call).
		dh := makeHeader(h.prefixLen(), cnt+1, 0, h.hasValue(), true)
		if cnt < maxSparse {
			dh = makeHeader(h.prefixLen(), cnt+1, classFor(cnt+1), h.hasValue(), false)
		}
		// w.build without its call (issue 23: the wrapper cost about 35
		// instructions per growth)
		if nr, err = c.w.core.buildNode(dh, n.prefix(h), n.valueIdx(), n, h, b, leaf); err == nil {
			c.w.markFresh(nr)
		}
	}
	if err != nil {
		c.w.undoLeaf(leaf)
		return false, err
	}
	slot.Store(nr) // release: publishes the copy
	c.unlinked(ref, size)
	return c.inserted(true), nil
}

// copyWithChild returns a fresh copy of sparse node n (header h, size
// bytes, with room for one more child) holding child r labelled b too: the
// block copied
// whole, then the labels and children above b shifted as Trie.Insert
// shifts them in place (a label in the middle: on shuffled keys most
// inserts, issue 23; build's general copy cost twice the instructions).
// No reader sees the copy before its ref is published.
func (w *wstate[V]) copyWithChild(n node, h header, size int, b byte, r uint32) (uint32, error) {
	if w.core.failAlloc != nil && w.core.failAlloc() {
		return 0, errInjected
	}
	off, dst, err := w.core.mem.alloc(size) // allocNode, with the size known
	if err != nil {
		return 0, err
	}
	w.core.nodes++
	// Safety: both blocks are size bytes; only this writer stores into n,
	// and not meanwhile.
	copy(unsafe.Slice((*byte)(dst.p), size), unsafe.Slice((*byte)(n.p), size))
	w.core.insertChildInPlace(dst, h, b, r)
	w.markFresh(off)
	return off, nil
}

// owDeleteNow deletes in place, retrying once after reclamation on arena
// exhaustion (a removal copies a node).
func (c *Concurrent[V]) owDeleteNow(key []byte) (V, bool, error) {
	c.beginInPlace()
	old, found, err := c.deleteNowOnce(key)
	if err != nil && c.w.relieve(err) {
		old, found, err = c.deleteNowOnce(key)
	}
	c.endInPlace()
	return old, found, err
}

// owParent is where a delete's descent stands above the current slot: the
// parent node p (ref pref, at pslot) and the label b leading down.
type owParent struct {
	pslot *atomic.Uint32
	pref  uint32
	p     node
	b     byte
}

// owDeleteNowOnce deletes key from the published tree. The descent is
// walkPath's: plain loads on the writer's own arena, the readers' loads on
// the multi-writer pool (the snapshot-mode writer, snapmw.go), whose nodes
// only that form resolves. On error the tree is unchanged.
func (c *Concurrent[V]) owDeleteNowOnce(key []byte) (old V, found bool, err error) {
	w := &c.w
	// Safety: atomic.Uint32 is a uint32; walkPath only loads it.
	root := (*uint32)(unsafe.Pointer(&c.root))
	var path []step
	var n node
	var h header
	var depth, out int
	if w.core.mem.lf != nil {
		var buf mwPath // on the stack: path is never stored (an allocation a delete if it were)
		path, n, h, _, depth, out = walkPath[V, atomicLoads](nil, c, root, key, buf[:0])
	} else {
		var own []step
		own, n, h, _, depth, out = walkPath[V, plainLoads](w.core.mem, nil, root, key, w.core.path[:0])
		w.core.path, path = own, own
	}
	if !pathFound(path, h, depth, out, key) {
		return old, false, nil
	}
	last := len(path) - 1
	st := path[last]
	var up owParent
	if st.idx >= 0 {
		ps := path[last-1]
		up = owParent{(*atomic.Uint32)(unsafe.Pointer(ps.slot)), ps.ref, w.core.mem.at(ps.ref), lastLabel(key, h, depth)}
	}
	if isLeafRef(st.ref) {
		old = c.value(st.ref >> 1)
		if up.p.p == nil {
			c.root.Store(0) // release: unlinks the leaf
		} else if err := c.removeChildNow(up); err != nil {
			return old, false, err
		}
		return old, c.deletedNow(st.ref >> 1), nil
	}
	vidx := n.valueIdx()
	old = c.value(vidx)
	// Safety: as root.
	if err := c.dropValueNow(up, (*atomic.Uint32)(unsafe.Pointer(st.slot)), st.ref, n, h); err != nil {
		return old, false, err
	}
	return old, c.deletedNow(vidx), nil
}

// deletedNow records a deletion whose value slot was idx.
func (c *Concurrent[V]) deletedNow(idx uint32) bool {
	c.dropValue(idx)
	c.w.keys--
	c.w.dirty = true
	return true
}

// dropValueNow removes the value of node n (ref at slot, below up): in
// place when n keeps two or more children, else by replacing n (merged
// with its only child) or removing it from its parent.
func (c *Concurrent[V]) dropValueNow(up owParent, slot *atomic.Uint32, ref uint32, n node, h header) error {
	switch h.count() {
	case 0:
		if up.p.p == nil {
			slot.Store(0) // release: unlinks n
		} else if err := c.removeChildNow(up); err != nil {
			return err
		}
		c.retireNode(ref)
	case 1:
		nr, child, err := c.w.mergeNode(n, h)
		if err != nil {
			return err
		}
		slot.Store(nr) // release: publishes the merged node
		c.retireNode(ref)
		c.retireNode(child)
	default:
		storeHV(n, h&^flagValue, n.valueIdx()) // release: the key is gone
	}
	return nil
}

// removeChildNow removes up.p's child labelled up.b (its caller retires
// what the child held): in place for a dense node that stays dense, else by
// replacing up.p with a copy without it (merged with the remaining child
// when that leaves no value and one child).
func (c *Concurrent[V]) removeChildNow(up owParent) error {
	p := up.p
	ph := p.hdr()
	cnt := ph.count() - 1
	if ph.dense() && cnt > denseShrink {
		slotAt(p, ph, int(up.b)).Store(0)           // release: unlinks the child
		storeHV(p, ph.withCount(cnt), p.valueIdx()) // the count follows
		return nil
	}
	var sl byte
	var sib uint32
	if cnt == 1 && !ph.hasValue() {
		sl, sib = sibling(p, ph, up.b)
	}
	nr, err := c.w.buildRemoval(p, ph, up.b, sl, sib)
	if err != nil {
		return err
	}
	up.pslot.Store(nr) // release: publishes p's replacement
	c.retireNode(up.pref)
	c.retireNode(sib)
	return nil
}
