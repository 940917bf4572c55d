package trie

import (
	"bytes"
	"iter"
)

// Iteration: an explicit stack of frames (node, next position) and one key
// buffer; see the package documentation for the yielded-key and
// modification rules.

// frame is one node on the iteration stack.
type frame struct {
	ref    uint32
	keyEnd int32 // key length after this node's prefix
	pos    int32 // next child (sparse index or dense label); -1: value not yet yielded
}

type cursor[V any] struct {
	c       *core[V]
	buf     []byte
	stack   []frame
	pending bool // an inline leaf whose key is buf is next
	leafIdx uint32
}

// seek positions the cursor so that next returns the smallest key >= target.
func (it *cursor[V]) seek(target []byte) {
	it.stack = it.stack[:0]
	it.buf = it.buf[:0]
	it.pending = false
	m := it.c.mem
	ref := it.c.root
	depth := 0
	for ref != 0 {
		if isLeafRef(ref) {
			if depth == len(target) {
				it.pending, it.leafIdx = true, ref>>1
			}
			return
		}
		n := m.ptr(ref)
		h := n.hdr()
		pre := n.prefix(h)
		rest := target[depth:]
		k := commonPrefix(pre, rest)
		if k < len(pre) {
			if k == len(rest) || pre[k] > rest[k] {
				// Every key below n is greater than target.
				it.buf = append(it.buf, pre...)
				it.stack = append(it.stack, frame{ref, int32(len(it.buf)), -1})
			}
			// else every key below n is smaller: skip n.
			return
		}
		it.buf = append(it.buf, pre...)
		depth += len(pre)
		if depth == len(target) {
			it.stack = append(it.stack, frame{ref, int32(len(it.buf)), -1})
			return
		}
		// n's own value is a proper prefix of target: smaller, skip it.
		b := target[depth]
		var pos int
		var child uint32
		if h.dense() {
			pos = int(b)
			child = n.child(h, pos)
		} else {
			cnt := h.count()
			pos = n.lowerSparse(h, cnt, b)
			if pos < cnt && n.label(h, pos) == b {
				child = n.child(h, pos)
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

// next advances to the next key, leaving it in it.buf, and returns its
// value index.
func (it *cursor[V]) next() (uint32, bool) {
	if it.pending {
		it.pending = false
		return it.leafIdx, true
	}
	m := it.c.mem
	for len(it.stack) > 0 {
		f := &it.stack[len(it.stack)-1]
		n := m.ptr(f.ref)
		h := n.hdr()
		if f.pos < 0 {
			f.pos = 0
			if h.hasValue() {
				it.buf = it.buf[:f.keyEnd]
				return n.valueIdx(), true
			}
		}
		var label byte
		var r uint32
		if h.dense() {
			p := int(f.pos)
			for p < denseSlots && n.child(h, p) == 0 {
				p++
			}
			if p == denseSlots {
				it.stack = it.stack[:len(it.stack)-1]
				continue
			}
			label, r = byte(p), n.child(h, p)
			f.pos = int32(p + 1)
		} else {
			p := int(f.pos)
			if p >= h.count() {
				it.stack = it.stack[:len(it.stack)-1]
				continue
			}
			label, r = n.label(h, p), n.child(h, p)
			f.pos++
		}
		it.buf = append(it.buf[:f.keyEnd], label)
		if isLeafRef(r) {
			return r >> 1, true
		}
		cn := m.ptr(r)
		it.buf = append(it.buf, cn.prefix(cn.hdr())...)
		it.stack = append(it.stack, frame{r, int32(len(it.buf)), -1})
	}
	return 0, false
}

// scan yields the keys >= from in order while inRange accepts them (nil:
// all). It resumes after modifications made by the loop body.
func (c *core[V]) scan(from []byte, inRange func([]byte) bool) iter.Seq2[[]byte, V] {
	from = bytes.Clone(from)
	return func(yield func([]byte, V) bool) {
		it := cursor[V]{c: c}
		it.seek(from)
		mod := c.mod
		var last []byte
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
			if c.mod != mod {
				// The loop body changed the trie: resume after k.
				last = append(append(last[:0], it.buf...), 0)
				it.seek(last)
				mod = c.mod
			}
		}
	}
}

// All returns an iterator over every key and value in ascending key order.
// The yielded key is a reused buffer (see the package documentation on
// iteration); the loop body may modify the trie.
func (t *Trie[V]) All() iter.Seq2[[]byte, V] { return t.c.scan(nil, nil) }

// Prefix returns an iterator over the keys that start with p, ascending.
func (t *Trie[V]) Prefix(p []byte) iter.Seq2[[]byte, V] { return t.c.prefix(p) }

// Seek returns an iterator over the keys >= k (the lower bound), ascending.
func (t *Trie[V]) Seek(k []byte) iter.Seq2[[]byte, V] { return t.c.scan(k, nil) }

// Range returns an iterator over the keys in [from, to), ascending. A nil
// to means no upper bound.
func (t *Trie[V]) Range(from, to []byte) iter.Seq2[[]byte, V] { return t.c.rangeOf(from, to) }

func (c *core[V]) prefix(p []byte) iter.Seq2[[]byte, V] {
	p = bytes.Clone(p)
	return c.scan(p, func(k []byte) bool { return bytes.HasPrefix(k, p) })
}

func (c *core[V]) rangeOf(from, to []byte) iter.Seq2[[]byte, V] {
	if to == nil {
		return c.scan(from, nil)
	}
	to = bytes.Clone(to)
	return c.scan(from, func(k []byte) bool { return bytes.Compare(k, to) < 0 })
}
