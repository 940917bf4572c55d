package trie

// The one-writer form (OneWriteMultiRead), batched writes: copy-on-write
// with in-place changes to unpublished nodes, published at once. Per-key
// writes change the published tree in place instead: owinplace.go.
//
// Who may call what: every function here runs only in the goroutine that
// holds the writer role (cwriter.go). Readers never call them.
//
// Invariants:
//   - c.w.root is the writer's tree; c.root the published one. Both share
//     every node not changed since the last publication.
//   - A node is fresh when it was built since the last publication
//     (wstate.isFresh). Only fresh nodes are ever written in place; a
//     published node the writer must change is first copied (its parent
//     made fresh first, from the root down), so readers of the published
//     tree never see a change until publish stores the new root (release).
//   - A published node unlinked from the writer's tree goes to w.pend; its
//     retire epoch is read in publish after the root store, so readers that
//     enter later cannot reach it (EpochDomain's argument). A fresh node
//     unlinked before publication was never visible: it is freed at once.
//   - Value slots are never overwritten while published: a replaced value
//     gets a new slot and the old one is retired like a node.
//   - Every operation builds before it links: on an allocation error the
//     writer's tree is unchanged, or changed only by copies with the same
//     contents.
//
// Rejected: full path copying per write with no in-place updates of fresh
// nodes (a batch of k writes would copy the top of the tree k times);
// in-place atomic updates of published nodes for batches (a batch would no
// longer be published at once; per-key writes do take that route,
// owinplace.go).

import "unsafe"

// dropNode unlinks node ref from the writer's tree: freed at once when
// fresh, else retired at publication.
func (c *Concurrent[V]) dropNode(ref uint32) {
	w := &c.w
	if ref == 0 || isLeafRef(ref) {
		return
	}
	if w.isFresh(ref) {
		w.freeNode(ref)
		return
	}
	w.pend = append(w.pend, retiree{ref: ref, size: uint32(nodeSize(w.core.mem.ptr(ref).hdr()))})
}

// dropValue retires value slot idx (published, or possibly published).
func (c *Concurrent[V]) dropValue(idx uint32) {
	if !c.noValues {
		c.w.pend = append(c.w.pend, retiree{ref: idx})
	}
}

// build is core.buildNode for the writer, marking the result fresh.
func (w *wstate[V]) build(dh header, prefix []byte, vidx uint32, src node, sh header, b byte, r uint32) (uint32, error) {
	off, err := w.core.buildNode(dh, prefix, vidx, src, sh, b, r)
	if err == nil {
		w.markFresh(off)
	}
	return off, err
}

// withPrefix is core.withPrefix for the writer, marking the result fresh.
func (w *wstate[V]) withPrefix(n node, h header, prefix []byte) (uint32, error) {
	r, err := w.core.withPrefix(n, h, prefix)
	if err == nil {
		w.markFresh(r)
	}
	return r, err
}

// copyNode replaces published node ref at slot by a fresh copy and returns
// the copy.
func (c *Concurrent[V]) copyNode(slot *uint32, ref uint32, n node, h header) (uint32, node, error) {
	nr, err := c.w.build(h, n.prefix(h), n.valueIdx(), n, h, 0, 0)
	if err != nil {
		return 0, node{}, err
	}
	*slot = nr
	c.dropNode(ref)
	c.w.dirty = true
	return nr, c.w.core.mem.ptr(nr), nil
}

// grownHeader is the header of n with room for one more child.
func grownHeader(h header) header {
	cnt := h.count()
	switch {
	case h.dense() || cnt < h.capacity() && h.class() != classExact:
		return h
	case cnt+1 > maxSparse:
		return makeHeader(h.prefixLen(), cnt+1, 0, h.hasValue(), true)
	default:
		return makeHeader(h.prefixLen(), cnt+1, classFor(cnt+1), h.hasValue(), false)
	}
}

// splitNode builds the replacement of node n when a key diverges from its
// prefix after m bytes (rest is the key from n's position): a node with the
// common prefix whose children are n with a shorter prefix and the new
// key's leaf (or which holds the new key's value vidx when the key ends
// there). leaf is the new key's leaf (unused when the key ends at the
// split). n is not freed.
func (w *wstate[V]) splitNode(n node, h header, m int, rest []byte, vidx, leaf uint32) (uint32, error) {
	pre := n.prefix(h)
	end := m == len(rest)
	old, err := w.withPrefix(n, h, pre[m+1:])
	if err != nil {
		return 0, err
	}
	off, err := w.build(makeHeader(m, 1, classFor(2), end, false), pre[:m], vidx, node{}, 0, pre[m], old)
	if err != nil {
		if !isLeafRef(old) {
			w.freeNode(old)
		}
		return 0, err
	}
	if !end {
		nn := w.core.mem.at(off)
		w.core.insertChildInPlace(nn, nn.hdr(), rest[m], leaf)
	}
	return off, nil
}

// newKeyParts reserves what a new key needs at a split after m bytes of
// rest: its value slot (the key ends at the split) or its leaf.
func (w *wstate[V]) newKeyParts(m int, rest []byte, v V) (vidx, leaf uint32, err error) {
	if m == len(rest) {
		vidx, err = w.newValue(v)
		return vidx, 0, err
	}
	leaf, err = w.newValueLeaf(rest[m+1:], v)
	return 0, leaf, err
}

// splitFor builds the replacement of node n for a key that diverges from
// its prefix after m bytes (rest: the key from n's position), with the new
// key's value v: splitNode with its parts. n is not freed; on error nothing
// is left allocated.
func (w *wstate[V]) splitFor(n node, h header, m int, rest []byte, v V) (uint32, error) {
	vidx, leaf, err := w.newKeyParts(m, rest, v)
	if err != nil {
		return 0, err
	}
	nr, err := w.splitNode(n, h, m, rest, vidx, leaf)
	if err != nil {
		w.undoKeyParts(m, rest, vidx, leaf)
		return 0, err
	}
	return nr, nil
}

// undoKeyParts releases what newKeyParts reserved.
func (w *wstate[V]) undoKeyParts(m int, rest []byte, vidx, leaf uint32) {
	if m == len(rest) {
		w.freeValue(vidx)
	} else {
		w.undoLeaf(leaf)
	}
}

// owInsert inserts into the writer's tree; on arena exhaustion it
// reclaims what readers no longer hold and tries once more.
func (c *Concurrent[V]) owInsert(key []byte, v V) (bool, error) {
	added, err := c.owInsertOnce(key, v)
	if err != nil && c.w.relieve(err) {
		added, err = c.owInsertOnce(key, v)
	}
	return added, err
}

// owInsertOnce inserts into the writer's tree, copying each published
// node on the way down before it descends through it. It keeps its own
// descent (not walkPath followed by freshen, as owDeleteOnce): that pair
// cost 6.5% of the batch insert on keys-seq (BenchmarkOneWriter
// mode=session, ratio to Trie 0.826 -> 0.773, p=0.002, 6 interleaved
// runs) for 2% more instructions (docs/bench/concurrent-trie.md).
func (c *Concurrent[V]) owInsertOnce(key []byte, v V) (bool, error) {
	w := &c.w
	slot := &w.root
	depth := 0
	for {
		ref := *slot
		if ref == 0 {
			r, err := c.w.newValueLeaf(key[depth:], v)
			if err != nil {
				return false, err
			}
			*slot = r
			return c.inserted(true), nil
		}
		if isLeafRef(ref) {
			if depth == len(key) {
				vidx, err := c.w.newValue(v)
				if err != nil {
					return false, err
				}
				*slot = leafRef(vidx)
				c.dropValue(ref >> 1)
				return c.inserted(false), nil
			}
			leaf, err := c.w.newValueLeaf(key[depth+1:], v)
			if err != nil {
				return false, err
			}
			nr, err := c.w.build(makeHeader(0, 1, classFor(2), true, false), nil, ref>>1, node{}, 0, key[depth], leaf)
			if err != nil {
				c.w.undoLeaf(leaf)
				return false, err
			}
			*slot = nr
			return c.inserted(true), nil
		}
		n := w.core.mem.ptr(ref)
		h := n.hdr()
		if p := h.prefixLen(); p > 0 {
			if m := commonPrefix(n.prefix(h), key[depth:]); m < p {
				nr, err := c.w.splitFor(n, h, m, key[depth:], v)
				if err != nil {
					return false, err
				}
				*slot = nr
				c.dropNode(ref)
				return c.inserted(true), nil
			}
			depth += p
		}
		if depth == len(key) {
			return c.owSetValue(slot, ref, n, h, v)
		}
		b := key[depth]
		i := -1
		if h.dense() {
			if *n.childSlot(h, int(b)) != 0 {
				i = int(b)
			}
		} else {
			i = n.findSparse(h, h.count(), b)
		}
		if i >= 0 {
			if !w.isFresh(ref) {
				var err error
				if _, n, err = c.copyNode(slot, ref, n, h); err != nil {
					return false, err
				}
			}
			slot = n.childSlot(h, i)
			depth++
			continue
		}
		leaf, err := c.w.newValueLeaf(key[depth+1:], v)
		if err != nil {
			return false, err
		}
		if cnt := h.count(); w.isFresh(ref) && (h.dense() || cnt < h.capacity()) {
			if h.dense() {
				*n.childSlot(h, int(b)) = leaf
				n.setHdr(h.withCount(cnt + 1))
			} else {
				w.core.insertChildInPlace(n, h, b, leaf)
			}
			return c.inserted(true), nil
		}
		nr, err := c.w.build(grownHeader(h), n.prefix(h), n.valueIdx(), n, h, b, leaf)
		if err != nil {
			c.w.undoLeaf(leaf)
			return false, err
		}
		*slot = nr
		c.dropNode(ref)
		return c.inserted(true), nil
	}
}

// freshen makes the nodes of path levels [0, k) fresh, from the top: a
// published node is copied (its parent, already fresh, then names the
// copy) and the next level's slot, which lay in it, re-pointed into the
// copy. On error the writer's tree has some copies linked (the same
// contents) and is otherwise unchanged.
//
// The fresh nodes of a path are its top part: a node is linked only into
// a fresh parent or the root (the invariants above), so a fresh node's
// parent is fresh. Hence when the deepest node is fresh there is nothing
// to copy: one test, where a batch of nearby keys spends most of its
// deletes.
func (c *Concurrent[V]) freshen(path []step, k int) error {
	if k > 0 && isLeafRef(path[k-1].ref) {
		k-- // a delete's inline leaf: nothing to copy
	}
	if k == 0 || c.w.isFresh(path[k-1].ref) {
		return nil
	}
	l := 0
	for l < k-1 && c.w.isFresh(path[l].ref) {
		l++ // the fresh top part
	}
	mem := c.w.core.mem
	for ; l < k; l++ { // published from here down
		st := &path[l]
		n := mem.ptr(st.ref)
		h := n.hdr()
		nr, cn, err := c.copyNode(st.slot, st.ref, n, h)
		if err != nil {
			return err
		}
		st.ref = nr
		if l+1 < len(path) {
			// Safety: the copy has n's header, hence its layout: the next
			// level's slot lies at the same offset in it as in n.
			path[l+1].slot = (*uint32)(unsafe.Add(cn.p, uintptr(unsafe.Pointer(path[l+1].slot))-uintptr(n.p)))
		}
	}
	return nil
}

// owSetValue stores v at node n (at slot), where a key ends.
func (c *Concurrent[V]) owSetValue(slot *uint32, ref uint32, n node, h header, v V) (bool, error) {
	vidx, err := c.w.newValue(v)
	if err != nil {
		return false, err
	}
	had := h.hasValue()
	old := n.valueIdx()
	if c.w.isFresh(ref) {
		n.setValueIdx(vidx)
		n.setHdr(h | flagValue)
	} else {
		nr, err := c.w.build(h|flagValue, n.prefix(h), vidx, n, h, 0, 0)
		if err != nil {
			c.w.freeValue(vidx)
			return false, err
		}
		*slot = nr
		c.dropNode(ref)
	}
	if had {
		c.dropValue(old)
	}
	return c.inserted(!had), nil
}

// inserted records a successful insert in the writer's tree.
func (c *Concurrent[V]) inserted(added bool) bool {
	c.w.dirty = true
	if added {
		c.w.keys++
	}
	return added
}

// owDelete deletes from the writer's tree, retrying once after
// reclamation on arena exhaustion (a delete copies nodes).
func (c *Concurrent[V]) owDelete(key []byte) (V, bool, error) {
	old, found, err := c.owDeleteOnce(key)
	if err != nil && c.w.relieve(err) {
		old, found, err = c.owDeleteOnce(key)
	}
	return old, found, err
}

// owDeleteOnce deletes from the writer's tree: walkPath's descent, the
// whole path made fresh (freshen), then the single owner's change and
// fix-up on it (core.go) in their batch form.
func (c *Concurrent[V]) owDeleteOnce(key []byte) (V, bool, error) {
	var zero V
	w := &c.w
	path, _, h, _, depth, out := walkPath[V, plainLoads](w.core.mem, nil, &w.root, key, w.core.path[:0])
	w.core.path = path
	if !pathFound(path, h, depth, out, key) {
		return zero, false, nil
	}
	if err := c.freshen(path, len(path)); err != nil {
		return zero, false, err
	}
	l := len(path) - 1
	st := path[l]
	var vidx uint32
	if isLeafRef(st.ref) {
		vidx = st.ref >> 1
		*st.slot = 0
		w.core.removeEmpty(l)
	} else {
		n := w.core.mem.ptr(st.ref) // fresh: the copy, if freshen made one
		vidx = n.valueIdx()
		n.setHdr(h &^ flagValue)
		w.core.fixup(l)
	}
	old := c.value(vidx)
	c.dropValue(vidx)
	w.keys--
	w.dirty = true
	return old, true, nil
}

// mergeNode is core.mergeNode for the writer, marking the result fresh.
func (w *wstate[V]) mergeNode(n node, h header) (nr, child uint32, err error) {
	nr, child, err = w.core.mergeNode(n, h)
	w.markFresh(nr)
	return nr, child, err
}

// mergeChild is core.mergeChild for the writer, marking the result fresh.
func (w *wstate[V]) mergeChild(pre []byte, label byte, child uint32) (uint32, error) {
	nr, err := w.core.mergeChild(pre, label, child)
	w.markFresh(nr)
	return nr, err
}
