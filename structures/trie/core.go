package trie

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/structures/pool"
)

// core is the arena, the root ref and the value slots shared by Trie and
// Frozen. Only the owner of the enclosing Trie may call its mutating methods.
type core[V any] struct {
	mem      *arena
	root     uint32
	vals     values[V] // value slots; empty when noValues
	freeVals []uint32  // free value slots
	noValues bool
	keys     int
	nodes    int
	mod      uint64 // bumped by every structural change (iterators resume)
	path     []step // the path of a delete (of a batch insert in Concurrent.w): walkPath's, reused
	// batch is set in the one writer's state (Concurrent.w) only: its
	// deletes' fix-up drops and marks through it (see unlinked).
	batch   *Concurrent[V]
	scratch []byte // merge prefix buffer, reused
	// failAlloc, set only by tests, makes node allocations fail when it
	// returns true (to test that failed inserts leave the trie unchanged
	// and that deletes tolerate failed merges).
	failAlloc func() bool
}

// step is one level of a recorded descent (walkPath): the slot holding
// the level's ref, the ref the descent loaded from it, and the level's
// place in its parent: the child index (sparse index or dense label; -1
// at the first level). In the readers' form n is the node ref names (nil
// for 0 or an inline leaf), which the multi-writer ops lock; the writer's
// own form leaves it nil (its owner resolves a ref with one add).
type step struct {
	slot *uint32
	ref  uint32
	idx  int32
	n    node
}

// lastLabel is the label through which a walkPath that stopped at depth
// with header h (unset at a slot) entered its last level, below the first:
// the key byte before the last node's prefix.
func lastLabel(key []byte, h header, depth int) byte { return key[depth-1-h.prefixLen()] }

var errTooManyValues = errors.New("trie: too many values")

// walk outcomes: where a descent along a key stopped.
const (
	walkSlot   = iota // *slot is 0 or an inline leaf (n and h are unset)
	walkPrefix        // the key diverges from n's prefix or ends inside it
	walkNode          // the key ends at n, after n's prefix
	walkChild         // n has no child for key[depth] (a dense node: its slot holds 0)
)

// walk descends from the node or leaf at *slot along key[depth:], through
// every child the key continues into, and stops where the key leaves the
// tree or ends: it returns the last slot, the node it holds (unless
// walkSlot), its header, the key position at the node (walkPrefix: before
// its prefix; walkNode, walkChild: after it) and the outcome. It never
// writes. It is the one descent of the read path (lookup) and of both
// insert paths (core.insert, Concurrent.owInsertNowOnce).
//
// The node access and the label search are written out in one loop:
// slotFor and arena.at are too large to inline, and a call per level
// spilled the loop's registers; on shuffled keys the descent waits on a
// node header per level, so the instructions between two header loads are
// the latency that matters (issue 23).
//
// Callers other than the owner: Concurrent's writer on its own published
// tree (plain loads of words only it stores race with nothing).
func walk(m *arena, slot *uint32, key []byte, depth int) (*uint32, node, header, int, int) {
	if m.lf != nil {
		return walkShared(m, slot, key, depth)
	}
	p := m.p
	for {
		ref := *slot
		if ref == 0 || isLeafRef(ref) {
			return slot, node{}, 0, depth, walkSlot
		}
		// Safety: as arena.ptr.
		n := node{p.Ptr(pool.Offset(ref&^refArenaBit) << refShift)}
		h := n.hdr()
		lo := h.labelsOff()
		if pl := h.prefixLen(); pl > 0 {
			if len(key)-depth < pl || !n.hasPrefix(h, key[depth:], pl) {
				return slot, n, h, depth, walkPrefix
			}
			depth += pl
		}
		if depth == len(key) {
			return slot, n, h, depth, walkNode
		}
		c := key[depth]
		var s *uint32
		if h.dense() {
			// Safety: a dense node has 256 child slots at align4(labelsOff).
			s = (*uint32)(unsafe.Add(n.p, align4(lo)+4*uintptr(c)))
			if *s == 0 {
				return slot, n, h, depth, walkChild
			}
		} else {
			cnt := h.count()
			j := n.sparseIdx(lo, cnt, c)
			if j >= cnt {
				return slot, n, h, depth, walkChild
			}
			// Safety: j < count <= capacity child slots at childOff.
			s = (*uint32)(unsafe.Add(n.p, align4(lo+uintptr(h.capacity()))+4*uintptr(j)))
		}
		slot = s
		depth++
	}
}

// walkShared is walk on a shared (lf) arena: the snapshot-mode writer of
// the multi-writer form (snapmw.go) inserts in place through
// owInsertNowOnce on one. Its node access is a call (arena.atShared), kept
// out of walk's loop, where it cost 60 instructions per key in spills.
func walkShared(m *arena, slot *uint32, key []byte, depth int) (*uint32, node, header, int, int) {
	for {
		ref := *slot
		if ref == 0 || isLeafRef(ref) {
			return slot, node{}, 0, depth, walkSlot
		}
		n := m.atShared(ref)
		h := n.hdr()
		d := n.matchPrefix(h, key, depth)
		if d < 0 {
			return slot, n, h, depth, walkPrefix
		}
		if depth = d; depth == len(key) {
			return slot, n, h, depth, walkNode
		}
		s := n.slotFor(h, key[depth])
		if s == nil || *s == 0 {
			return slot, n, h, depth, walkChild
		}
		slot = s
		depth++
	}
}

// matchPrefix returns the key position past n's prefix when key[depth:]
// starts with it, or -1.
func (n node) matchPrefix(h header, key []byte, depth int) int {
	pl := h.prefixLen()
	if pl > 0 && (len(key)-depth < pl || !n.hasPrefix(h, key[depth:], pl)) {
		return -1
	}
	return depth + pl
}

// lookup is the read path: a pure function of the arena, a root ref and the
// key. It returns the value index of key. It never writes.
func lookup(m *arena, ref uint32, key []byte) (uint32, bool) {
	slot, n, h, depth, out := walk(m, &ref, key, 0)
	switch out {
	case walkSlot:
		r := *slot
		return r >> 1, r != 0 && depth == len(key)
	case walkNode:
		return n.valueIdx(), h.hasValue()
	}
	return 0, false
}

// get is Get of the single-owner forms (Trie, Frozen).
func (c *core[V]) get(key []byte) (V, bool) {
	idx, ok := lookup(c.mem, c.root, key)
	if !ok {
		var zero V
		return zero, false
	}
	return c.value(idx), true
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && string(a[i:i+8]) == string(b[i:i+8]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// ---- value slots ----

func (c *core[V]) newValue(v V) (uint32, error) {
	if c.noValues {
		return 0, nil
	}
	if k := len(c.freeVals); k > 0 {
		idx := c.freeVals[k-1]
		c.freeVals = c.freeVals[:k-1]
		*c.vals.at(idx) = v
		return idx, nil
	}
	if c.vals.len() > maxValueIndex {
		return 0, errTooManyValues
	}
	return c.vals.push(v), nil
}

func (c *core[V]) setValue(idx uint32, v V) {
	if !c.noValues {
		*c.vals.at(idx) = v
	}
}

func (c *core[V]) value(idx uint32) V {
	if c.noValues {
		var zero V
		return zero
	}
	return *c.vals.at(idx)
}

// dropValue returns the slot to the free list and clears it for the GC.
func (c *core[V]) dropValue(idx uint32) V {
	if c.noValues {
		var zero V
		return zero
	}
	p := c.vals.at(idx)
	v := *p
	var zero V
	*p = zero
	c.freeVals = append(c.freeVals, idx)
	return v
}

// ---- node allocation ----

// errInjected is the failure tests inject (failAlloc). It wraps
// pool.ErrExhausted, as a real arena failure does, so that the concurrent
// forms' relief paths (reclaim, then one more try) run under injection too.
var errInjected = fmt.Errorf("trie: injected allocation failure: %w", pool.ErrExhausted)

func (c *core[V]) allocNode(h header) (uint32, node, error) {
	if c.failAlloc != nil && c.failAlloc() {
		return 0, node{}, errInjected
	}
	off, n, err := c.mem.alloc(nodeSize(h))
	if err != nil {
		return 0, node{}, err
	}
	c.nodes++
	n.setHdr(h)
	return off, n, nil
}

func (c *core[V]) freeNode(off uint32) {
	c.mem.release(off, nodeSize(c.mem.ptr(off).hdr()))
	c.nodes--
}

// newLeaf builds the leaf for a key whose remaining bytes are suffix: an
// inline leaf when suffix is empty, else a childless node with a value.
func (c *core[V]) newLeaf(suffix []byte, vidx uint32) (uint32, error) {
	if len(suffix) == 0 {
		return leafRef(vidx), nil
	}
	off, n, err := c.allocNode(makeHeader(len(suffix), 0, 0, true, false))
	if err != nil {
		return 0, err
	}
	n.setValueIdx(vidx)
	copy(n.prefix(n.hdr()), suffix)
	return off, nil
}

// freeRef frees the node behind r (inline leaves cost nothing).
func (c *core[V]) freeRef(r uint32) {
	if r != 0 && !isLeafRef(r) {
		c.freeNode(r)
	}
}

// buildNode allocates a node with header dh (whose count it sets to the
// number of children written) and fills it with prefix, the
// value index vidx, and the children of src (header sh; src may be nil)
// with the child (b, r) inserted when r != 0. It is the copy-on-write
// builder: src is only read.
func (c *core[V]) buildNode(dh header, prefix []byte, vidx uint32, src node, sh header, b byte, r uint32) (uint32, error) {
	off, dst, err := c.allocNode(dh)
	if err != nil {
		return 0, err
	}
	dst.setValueIdx(vidx)
	copy(dst.prefix(dh), prefix)
	var w int
	if !dh.dense() && (src.p == nil || !sh.dense()) {
		w = copySparse(dst, dh, src, sh, b, r)
	} else {
		w = copyGeneric(dst, dh, src, sh, b, r)
	}
	dst.setHdr(dh.withCount(w))
	return off, nil
}

// copySparse copies the children of sparse src (nil: none) into sparse
// dst with (b, r) inserted in label order when r != 0, as block copies
// around the insertion point. It returns the number of children written.
func copySparse(dst node, dh header, src node, sh header, b byte, r uint32) int {
	var sl []byte
	var sc []uint32
	if src.p != nil {
		if cnt := sh.count(); cnt > 0 {
			// Safety: src holds cnt labels and children.
			sl = src.labels(sh, cnt)
			sc = unsafe.Slice(src.childSlot(sh, 0), cnt)
		}
	}
	n := len(sl)
	pos := n
	if r != 0 {
		pos = 0
		for pos < n && sl[pos] < b {
			pos++
		}
		n++
	}
	if n == 0 {
		return 0
	}
	// Safety: dh's capacity holds n children (the caller sized it).
	dl := dst.labels(dh, n)
	dc := unsafe.Slice(dst.childSlot(dh, 0), n)
	copy(dl, sl[:pos])
	copy(dc, sc[:pos])
	if r != 0 {
		dl[pos], dc[pos] = b, r
		pos++
	}
	copy(dl[pos:], sl[pos-n+len(sl):])
	copy(dc[pos:], sc[pos-n+len(sl):])
	return n
}

// copyGeneric is copySparse for layouts involving a dense node.
func copyGeneric(dst node, dh header, src node, sh header, b byte, r uint32) int {
	if dh.dense() {
		// Safety: a dense node has 256 child slots.
		clear(unsafe.Slice(dst.childSlot(dh, 0), denseSlots))
	}
	w := 0
	put := func(label byte, ref uint32) {
		if dh.dense() {
			*dst.childSlot(dh, int(label)) = ref
		} else {
			// Safety: w < capacity of dh.
			*(*byte)(unsafe.Add(dst.p, dh.labelsOff()+uintptr(w))) = label
			*dst.childSlot(dh, w) = ref
		}
		w++
	}
	inserted := r == 0
	if src.p != nil {
		forChildren(src, sh, func(label byte, ref uint32) {
			if !inserted && b < label {
				put(b, r)
				inserted = true
			}
			put(label, ref)
		})
	}
	if !inserted {
		put(b, r)
	}
	return w
}

// forChildren calls f for every child of n in ascending label order.
func forChildren(n node, h header, f func(label byte, ref uint32)) {
	if h.dense() {
		for i := range denseSlots {
			if r := n.child(h, i); r != 0 {
				f(byte(i), r)
			}
		}
		return
	}
	cnt := h.count()
	for i, l := range n.labels(h, cnt) {
		f(l, n.child(h, i))
	}
}

// withPrefix returns a copy of node n with a new prefix (an inline leaf when
// that is the canonical form). n is not freed.
func (c *core[V]) withPrefix(n node, h header, prefix []byte) (uint32, error) {
	if len(prefix) == 0 && h.count() == 0 && h.hasValue() {
		return leafRef(n.valueIdx()), nil
	}
	dh := makeHeader(len(prefix), h.count(), h.class(), h.hasValue(), h.dense())
	if !h.dense() && h.class() == classExact {
		dh = makeHeader(len(prefix), h.count(), classFor(h.count()), h.hasValue(), false)
	}
	return c.buildNode(dh, prefix, n.valueIdx(), n, h, 0, 0)
}

// ---- insert ----

func (c *core[V]) insert(key []byte, v V) (bool, error) {
	slot, n, h, depth, out := walk(c.mem, &c.root, key, 0)
	switch out {
	case walkSlot:
		ref := *slot
		if ref == 0 {
			return true, c.insertLeaf(slot, key[depth:], v)
		}
		if depth == len(key) {
			c.setValue(ref>>1, v)
			return false, nil
		}
		return true, c.leafToNode(slot, ref>>1, key[depth:], v)
	case walkPrefix:
		return true, c.split(slot, n, h, commonPrefix(n.prefix(h), key[depth:]), key[depth:], v)
	case walkNode:
		if h.hasValue() {
			c.setValue(n.valueIdx(), v)
			return false, nil
		}
		vidx, err := c.newValue(v)
		if err != nil {
			return false, err
		}
		n.setValueIdx(vidx)
		n.setHdr(h | flagValue)
		c.keys++
		c.mod++
		return true, nil
	}
	return true, c.addChild(slot, n, h, key[depth], key[depth+1:], v)
}

// insertLeaf stores a new key at an empty slot (only the root can be one).
func (c *core[V]) insertLeaf(slot *uint32, suffix []byte, v V) error {
	r, err := c.newValueLeaf(suffix, v)
	if err != nil {
		return err
	}
	*slot = r
	c.keys++
	c.mod++
	return nil
}

// newValueLeaf reserves a value slot for v and builds its leaf.
func (c *core[V]) newValueLeaf(suffix []byte, v V) (uint32, error) {
	vidx, err := c.newValue(v)
	if err != nil {
		return 0, err
	}
	r, err := c.newLeaf(suffix, vidx)
	if err != nil {
		c.dropValue(vidx)
		return 0, err
	}
	return r, nil
}

// undoLeaf releases a leaf built by newValueLeaf that was never linked.
func (c *core[V]) undoLeaf(r uint32) {
	if isLeafRef(r) {
		c.dropValue(r >> 1)
		return
	}
	c.dropValue(c.mem.ptr(r).valueIdx())
	c.freeNode(r)
}

// leafToNode turns the inline leaf at slot (value oldIdx) into a node with
// that value and one child for rest (len(rest) > 0).
func (c *core[V]) leafToNode(slot *uint32, oldIdx uint32, rest []byte, v V) error {
	leaf, err := c.newValueLeaf(rest[1:], v)
	if err != nil {
		return err
	}
	off, err := c.buildNode(makeHeader(0, 1, classFor(2), true, false), nil, oldIdx, node{}, 0, rest[0], leaf)
	if err != nil {
		c.undoLeaf(leaf)
		return err
	}
	*slot = off
	c.keys++
	c.mod++
	return nil
}

// split handles a key diverging from node n's prefix after m bytes.
func (c *core[V]) split(slot *uint32, n node, h header, m int, rest []byte, v V) error {
	pre := n.prefix(h)
	end := m == len(rest)
	var leaf uint32
	var vidx uint32
	var err error
	if end {
		vidx, err = c.newValue(v)
	} else {
		leaf, err = c.newValueLeaf(rest[m+1:], v)
	}
	if err != nil {
		return err
	}
	old, err := c.withPrefix(n, h, pre[m+1:])
	if err == nil {
		var off uint32
		dh := makeHeader(m, 1, classFor(2), end, false)
		// The old subtree is the only "source" child; the new leaf, if any,
		// is inserted in label order.
		off, err = c.buildNode(dh, pre[:m], vidx, node{}, 0, pre[m], old)
		if err == nil {
			if !end {
				nn := c.mem.ptr(off)
				c.insertChildInPlace(nn, nn.hdr(), rest[m], leaf)
			}
			oldOff := *slot
			*slot = off
			c.freeNode(oldOff)
			c.keys++
			c.mod++
			return nil
		}
		c.freeRef(old)
	}
	if end {
		c.dropValue(vidx)
	} else {
		c.undoLeaf(leaf)
	}
	return err
}

// insertChildInPlace inserts (b, r) into sparse node n, which has room.
func (c *core[V]) insertChildInPlace(n node, h header, b byte, r uint32) {
	cnt := h.count()
	pos := n.lowerSparse(h, cnt, b)
	// Safety: the node has room for cnt+1 labels and children.
	ls := n.labels(h, cnt+1)
	copy(ls[pos+1:], ls[pos:cnt])
	ls[pos] = b
	cs := unsafe.Slice(n.childSlot(h, 0), cnt+1)
	copy(cs[pos+1:], cs[pos:cnt])
	cs[pos] = r
	n.setHdr(h.withCount(cnt + 1))
}

// addChild adds a child labelled b for the key suffix to node n at slot.
func (c *core[V]) addChild(slot *uint32, n node, h header, b byte, suffix []byte, v V) error {
	leaf, err := c.newValueLeaf(suffix, v)
	if err != nil {
		return err
	}
	cnt := h.count()
	switch {
	case h.dense():
		*n.childSlot(h, int(b)) = leaf
		n.setHdr(h.withCount(cnt + 1))
	case cnt < h.capacity():
		c.insertChildInPlace(n, h, b, leaf)
	default:
		var dh header
		if cnt+1 > maxSparse {
			dh = makeHeader(h.prefixLen(), cnt+1, 0, h.hasValue(), true)
		} else {
			dh = makeHeader(h.prefixLen(), cnt+1, classFor(cnt+1), h.hasValue(), false)
		}
		off, err := c.buildNode(dh, n.prefix(h), n.valueIdx(), n, h, b, leaf)
		if err != nil {
			c.undoLeaf(leaf)
			return err
		}
		old := *slot
		*slot = off
		c.freeNode(old)
	}
	c.keys++
	c.mod++
	return nil
}

// ---- delete ----

func (c *core[V]) delete(key []byte) (V, bool) {
	var zero V
	path, n, h, _, depth, out := walkPath[V, plainLoads](c.mem, nil, &c.root, key, c.path[:0])
	c.path = path
	l := len(path) - 1
	switch out {
	case walkSlot:
		ref := path[l].ref
		if ref == 0 || depth != len(key) {
			return zero, false
		}
		*path[l].slot = 0
		c.keys--
		c.mod++
		c.removeEmpty(l)
		return c.dropValue(ref >> 1), true
	case walkNode:
		if !h.hasValue() {
			return zero, false
		}
		vidx := n.valueIdx()
		n.setHdr(h &^ flagValue)
		c.keys--
		c.mod++
		c.fixup(l)
		return c.dropValue(vidx), true
	}
	return zero, false
}

// walkPath is walk that records the path: the descent of every write that
// acts above the level where the key leaves the tree (the deletes, the
// one writer's batch insert, which copies the published nodes of the path
// first, and the multi-writer insert and delete, which lock a node's
// parent). From *slot along key it appends a step for every slot it
// loads, the last one where it stops, and returns the path, the last node
// and its header (unset for walkSlot), in the concurrent form the node's
// value index from the same load, the key position and the outcome, as
// walk. It never writes.
//
// The form parameter L is the cursor's (iter.go): plainLoads reads the
// writer's own arena m (NoLocking: ptr) with plain loads and keeps every
// level; atomicLoads reads as the readers do (cread.go), through c's
// chunk view, with acquire loads of slots and header-value words (the
// multi-writer writers, and the in-place writer on the multi-writer pool
// in snapshot mode), and keeps at most cap(path) levels, the last ones
// (when path is full the oldest step is dropped: a caller that locks a
// parent needs only the last three). The loads are the only difference;
// the test of the form is a constant in each compiled copy (see cursor).
//
// walk stays the one descent of lookups and of the inserts that act only
// at the last level: it records nothing and is tuned for that (issue 23).
func walkPath[V any, L loads](m *arena, c *Concurrent[V], slot *uint32, key []byte, path []step) ([]step, node, header, uint32, int, int) {
	var l L
	conc := unsafe.Sizeof(l) != 0
	var vw *view
	if conc {
		vw = c.view.Load() // acquire: nodeAt reloads it for refs beyond it
	}
	idx, depth := int32(-1), 0
	for {
		var ref uint32
		if conc {
			// Safety: slot is the root or a 4-aligned child slot (slotAt).
			ref = (*atomic.Uint32)(unsafe.Pointer(slot)).Load() // acquire: the node it names
			if len(path) == cap(path) {
				path = path[:copy(path, path[1:])]
			}
		} else {
			ref = *slot
		}
		if ref == 0 || isLeafRef(ref) {
			return append(path, step{slot: slot, ref: ref, idx: idx}), node{}, 0, 0, depth, walkSlot
		}
		var n node
		var h header
		var vi uint32
		if conc {
			n, vw = c.nodeAt(vw, ref)
			h, vi = loadHV(n) // acquire: the labels and children below its count
		} else {
			n = m.ptr(ref)
			h = n.hdr()
		}
		if conc {
			path = append(path, step{slot, ref, idx, n})
		} else {
			path = append(path, step{slot: slot, ref: ref, idx: idx})
		}
		if pl := h.prefixLen(); pl > 0 {
			if len(key)-depth < pl || !conc && !n.hasPrefix(h, key[depth:], pl) || conc && !sharedHasPrefix(n, h, key[depth:], pl) {
				return path, n, h, vi, depth, walkPrefix
			}
			depth += pl
		}
		if depth == len(key) {
			return path, n, h, vi, depth, walkNode
		}
		b := key[depth]
		lo := h.labelsOff()
		if h.dense() {
			idx = int32(b)
			// Safety: a dense node has 256 child slots at align4(labelsOff).
			slot = (*uint32)(unsafe.Add(n.p, align4(lo)+4*uintptr(b)))
			var r uint32
			if conc {
				r = (*atomic.Uint32)(unsafe.Pointer(slot)).Load() // acquire: reloaded at the next level
			} else {
				r = *slot
			}
			if r == 0 {
				return path, n, h, vi, depth, walkChild
			}
		} else {
			cnt := h.count()
			var j int
			if conc && poisonCheck {
				if j = findLabel(n, h, cnt, b); j < 0 {
					j = cnt
				}
			} else {
				j = n.sparseIdx(lo, cnt, b)
			}
			if j >= cnt {
				return path, n, h, vi, depth, walkChild
			}
			idx = int32(j)
			// Safety: j < count <= capacity child slots at childOff.
			slot = (*uint32)(unsafe.Add(n.p, align4(lo+uintptr(h.capacity()))+4*uintptr(j)))
		}
		depth++
	}
}

// pathFound reports whether a walkPath that returned path, h, depth and
// out found key: its last step is then an inline leaf where the key ends,
// or the node holding the key's value.
func pathFound(path []step, h header, depth, out int, key []byte) bool {
	switch out {
	case walkSlot:
		return path[len(path)-1].ref != 0 && depth == len(key)
	case walkNode:
		return h.hasValue()
	}
	return false
}

// unlinked disposes of ref (a node or an inline leaf), which a delete's
// fix-up unlinked: freed at once by the single owner, dropped by the one
// writer's batch (dropNode: freed when fresh, else retired at
// publication). built marks ref, which the fix-up built and linked, fresh
// for the batch. These two are all that differ between the single owner's
// fix-up and the batch's (owDeleteOnce): the same decisions, on a path the
// batch made fresh first.
//
// Rejected: the fix-up over an interface of these actions or over a form
// type parameter (as the cursor's loads): each costs a dictionary or an
// indirect call per action and per level of the recursion; cachegrind
// counted 25 more instructions a delete than this test of batch.
func (c *core[V]) unlinked(ref uint32) {
	if c.batch != nil {
		c.batch.dropNode(ref)
		return
	}
	c.freeRef(ref)
}

func (c *core[V]) built(ref uint32) {
	if c.batch != nil {
		c.batch.w.markFresh(ref)
	}
}

// removeEmpty unlinks the emptied slot of level l of the delete's path
// (c.path) from its parent (already set to 0 in a dense one).
func (c *core[V]) removeEmpty(l int) {
	if l == 0 {
		return // the root slot itself is now 0
	}
	i := int(c.path[l].idx)
	pn := c.mem.ptr(*c.path[l-1].slot)
	ph := pn.hdr()
	cnt := ph.count()
	if !ph.dense() {
		// Safety: the parent holds cnt labels and children.
		ls := pn.labels(ph, cnt)
		copy(ls[i:], ls[i+1:])
		cs := unsafe.Slice(pn.childSlot(ph, 0), cnt)
		copy(cs[i:], cs[i+1:])
	}
	// dense: the slot was already zeroed through c.path[l].slot
	pn.setHdr(ph.withCount(cnt - 1))
	c.fixup(l - 1)
}

// fixup restores the canonical form of the node at c.path's level l after it
// lost a child or its value. Allocation failures leave a valid but
// non-canonical node (every path tolerates it).
func (c *core[V]) fixup(l int) {
	slot := c.path[l].slot
	ref := *slot
	n := c.mem.ptr(ref)
	h := n.hdr()
	cnt := h.count()
	switch {
	case cnt == 0 && !h.hasValue():
		*slot = 0
		c.unlinked(ref)
		c.removeEmpty(l)
	case cnt == 0 && h.prefixLen() == 0:
		*slot = leafRef(n.valueIdx())
		c.unlinked(ref)
	case cnt == 1 && !h.hasValue():
		nr, child, err := c.mergeNode(n, h)
		if err != nil {
			return
		}
		c.built(nr)
		*slot = nr
		c.unlinked(ref)
		c.unlinked(child)
	default:
		dh, ok := shrunkHeader(h)
		if !ok {
			return
		}
		nr, err := c.buildNode(dh, n.prefix(h), n.valueIdx(), n, h, 0, 0)
		if err != nil {
			return
		}
		c.built(nr)
		*slot = nr
		c.unlinked(ref)
	}
}

// mergeNode builds the replacement of the valueless one-child node n (see
// mergeChild). It returns the new ref and the child it absorbed (to be
// unlinked by the caller once the new ref is linked); n and the child are
// only read.
func (c *core[V]) mergeNode(n node, h header) (nr, child uint32, err error) {
	var label byte
	forChildren(n, h, func(l byte, r uint32) { label, child = l, r })
	nr, err = c.mergeChild(n.prefix(h), label, child)
	return nr, child, err
}

// mergeChild builds child (labelled label below a node with prefix pre)
// with pre and the label in front of its prefix: what replaces a node left
// with no value and that one child. child is only read.
func (c *core[V]) mergeChild(pre []byte, label byte, child uint32) (nr uint32, err error) {
	buf := append(append(c.scratch[:0], pre...), label)
	if isLeafRef(child) {
		nr, err = c.newLeaf(buf, child>>1)
	} else {
		cn := c.mem.at(child)
		ch := cn.hdr()
		buf = append(buf, cn.prefix(ch)...)
		nr, err = c.withPrefix(cn, ch, buf)
	}
	c.scratch = buf
	return nr, err
}

// shrunkHeader is the smaller layout n should move to after losing
// children, if any.
func shrunkHeader(h header) (header, bool) {
	cnt := h.count()
	switch {
	case h.dense():
		if cnt > denseShrink {
			return 0, false
		}
	case h.class() != classExact && h.class() >= 2 && cnt <= int(capClasses[h.class()-2]):
	default:
		return 0, false
	}
	return makeHeader(h.prefixLen(), cnt, classFor(cnt), h.hasValue(), false), true
}

// ---- errors ----

func keyErr(op string, key []byte) error {
	return fmt.Errorf("%w: %s of a key of %d bytes (MaxKeyLen %d)", ErrKeyTooLong, op, len(key), MaxKeyLen)
}

// wrapErr adds the package prefix and what to err, once: an error that
// already carries the prefix (one of the package's sentinels, or an error
// that wraps one first) gets what after its own text instead.
func wrapErr(what string, err error) error {
	if strings.HasPrefix(err.Error(), "trie: ") {
		return fmt.Errorf("%w (%s)", err, what)
	}
	return fmt.Errorf("trie: %s: %w", what, err)
}
