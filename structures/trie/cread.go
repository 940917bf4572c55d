package trie

// Read paths of the concurrent forms.
//
// Invariants (see cmem.go): a reader holds an epoch guard from before it
// loads the root until it has read its last node byte and value; it loads
// the root and every child slot with an atomic load (acquire), so every
// byte of the node it leads to was written before (happens-before) the
// store that published it. It loads a node's header and value index as one
// atomic word (loadHV, acquire) and reads only the labels and children
// below the count that word gives. A published node's prefix never
// changes, and neither do its first count labels (the one-writer form only
// appends a label past the count, then stores the larger count: owinplace.go);
// child slots and the header-value word change only by atomic stores.
// Hence a reader sees, at each node, either the node before a writer's
// change or after it, never a torn one, and nothing it can reach is reused
// while it is inside.
//
// These functions mirror lookup and cursor (core.go, iter.go), which read
// through the pool with plain loads for the single-owner trie; here memory
// comes from the readers' chunk view and child slots are atomic words.

import (
	"bytes"
	"iter"
)

// lookup returns the value index of key in the published trie. The caller
// holds an epoch guard.
func (c *Concurrent[V]) lookup(key []byte) (uint32, bool) {
	ref := c.root.Load() // acquire: the published tree
	v := c.view.Load()   // acquire: after the root, so it covers it
	for ref != 0 {
		if isLeafRef(ref) {
			return ref >> 1, len(key) == 0
		}
		var n node
		n, v = c.nodeAt(v, ref)
		h, vi := loadHV(n)
		if p := h.prefixLen(); p > 0 {
			if len(key) < p || string(n.prefix(h)) != string(key[:p]) {
				return 0, false
			}
			key = key[p:]
		}
		if len(key) == 0 {
			return vi, h.hasValue()
		}
		ref = childOf(n, h, key[0])
		key = key[1:]
	}
	return 0, false
}

// childOf returns the ref of n's child labelled b (0 if none), loaded
// atomically (acquire).
func childOf(n node, h header, b byte) uint32 {
	if h.dense() {
		return slotAt(n, h, int(b)).Load()
	}
	if i := findLabel(n, h, h.count(), b); i >= 0 {
		return slotAt(n, h, i).Load()
	}
	return 0
}

// ccursor walks a concurrent trie in key order; see cursor for the frame
// protocol.
type ccursor[V any] struct {
	c       *Concurrent[V]
	v       *view
	root    uint32
	buf     []byte
	stack   []frame
	pending bool
	leafIdx uint32
}

func (it *ccursor[V]) node(ref uint32) node {
	n, v := it.c.nodeAt(it.v, ref)
	it.v = v
	return n
}

// seek positions the cursor so that next returns the smallest key >= target.
func (it *ccursor[V]) seek(target []byte) {
	it.stack, it.buf, it.pending = it.stack[:0], it.buf[:0], false
	ref := it.root
	depth := 0
	for ref != 0 {
		if isLeafRef(ref) {
			if depth == len(target) {
				it.pending, it.leafIdx = true, ref>>1
			}
			return
		}
		n := it.node(ref)
		h, _ := loadHV(n)
		pre := n.prefix(h)
		rest := target[depth:]
		k := commonPrefix(pre, rest)
		if k < len(pre) {
			if k == len(rest) || pre[k] > rest[k] {
				it.buf = append(it.buf, pre...)
				it.stack = append(it.stack, frame{ref, int32(len(it.buf)), -1})
			}
			return
		}
		it.buf = append(it.buf, pre...)
		depth += len(pre)
		if depth == len(target) {
			it.stack = append(it.stack, frame{ref, int32(len(it.buf)), -1})
			return
		}
		b := target[depth]
		var pos int
		var child uint32
		if h.dense() {
			pos = int(b)
			child = slotAt(n, h, pos).Load()
		} else {
			cnt := h.count()
			pos = n.lowerSparse(h, cnt, b)
			if pos < cnt && n.label(h, pos) == b {
				child = slotAt(n, h, pos).Load()
			}
		}
		if child == 0 {
			it.stack = append(it.stack, frame{ref, int32(len(it.buf)), int32(pos)})
			return
		}
		it.stack = append(it.stack, frame{ref, int32(len(it.buf)), int32(pos + 1)})
		it.buf = append(it.buf, b)
		ref = child
		depth++
	}
}

// next advances to the next key, leaving it in it.buf, and returns its value
// index.
func (it *ccursor[V]) next() (uint32, bool) {
	if it.pending {
		it.pending = false
		return it.leafIdx, true
	}
	for len(it.stack) > 0 {
		f := &it.stack[len(it.stack)-1]
		n := it.node(f.ref)
		h, vi := loadHV(n)
		if f.pos < 0 {
			f.pos = 0
			if h.hasValue() {
				it.buf = it.buf[:f.keyEnd]
				return vi, true
			}
		}
		var label byte
		var r uint32
		if h.dense() {
			p := int(f.pos)
			for p < denseSlots {
				if r = slotAt(n, h, p).Load(); r != 0 {
					break
				}
				p++
			}
			if p == denseSlots {
				it.stack = it.stack[:len(it.stack)-1]
				continue
			}
			label = byte(p)
			f.pos = int32(p + 1)
		} else {
			p := int(f.pos)
			if p >= h.count() {
				it.stack = it.stack[:len(it.stack)-1]
				continue
			}
			label, r = n.label(h, p), slotAt(n, h, p).Load()
			f.pos++
			if r == 0 {
				continue // never in a published node; tolerated
			}
		}
		it.buf = append(it.buf[:f.keyEnd], label)
		if isLeafRef(r) {
			return r >> 1, true
		}
		cn := it.node(r)
		ch, _ := loadHV(cn)
		it.buf = append(it.buf, cn.prefix(ch)...)
		it.stack = append(it.stack, frame{r, int32(len(it.buf)), -1})
	}
	return 0, false
}

// scan yields the keys >= from in order while inRange accepts them (nil:
// all), holding an epoch guard for the whole iteration.
func (c *Concurrent[V]) scan(from []byte, inRange func([]byte) bool) iter.Seq2[[]byte, V] {
	from = bytes.Clone(from)
	return func(yield func([]byte, V) bool) {
		g := c.epoch.Enter()
		defer g.Exit()
		it := ccursor[V]{c: c, root: c.root.Load()} // acquire: the published tree
		it.v = c.view.Load()
		it.seek(from)
		for {
			idx, ok := it.next()
			if !ok {
				return
			}
			k := it.buf[:len(it.buf):len(it.buf)]
			if inRange != nil && !inRange(k) {
				return
			}
			if !yield(k, c.value(idx)) {
				return
			}
		}
	}
}

func (c *Concurrent[V]) prefixScan(p []byte) iter.Seq2[[]byte, V] {
	p = bytes.Clone(p)
	return c.scan(p, func(k []byte) bool { return bytes.HasPrefix(k, p) })
}

func (c *Concurrent[V]) rangeScan(from, to []byte) iter.Seq2[[]byte, V] {
	if to == nil {
		return c.scan(from, nil)
	}
	to = bytes.Clone(to)
	return c.scan(from, func(k []byte) bool { return bytes.Compare(k, to) < 0 })
}
