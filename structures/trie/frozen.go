package trie

import (
	"iter"
	"unsafe"
)

// Frozen is a read-only, compact copy of a trie (the NoWriteReadOnly level):
// every node is sized exactly (no spare child slots), nodes are laid out in
// key order, and values are packed in key order.
//
// A Frozen is safe for any number of concurrent readers without
// synchronization: nothing writes to it after Freeze returns, and Freeze
// returning happens-before any use of the result. The zero Frozen is not
// usable. Iterators yield reused key buffers, one per iteration (see the
// package documentation on iteration).
type Frozen[V any] struct {
	c core[V]
}

// Freeze returns a read-only compact copy of t. t is unchanged and remains
// usable; later changes to t do not affect the copy. It panics if node
// memory cannot be allocated (the copy needs no more than t already holds).
func (t *Trie[V]) Freeze() *Frozen[V] {
	f := &Frozen[V]{}
	mem, err := newArena(defaultPoolConfig())
	if err != nil {
		panic(err.Error()) // the default configuration is valid
	}
	f.c.mem = mem
	f.c.noValues = t.c.noValues
	f.c.keys = t.c.keys
	f.c.root = f.c.copyFrom(&t.c, t.c.root)
	return f
}

// copyFrom copies the subtree at ref of src into c, in pre-order (which is
// key order), with exact node sizes.
func (c *core[V]) copyFrom(src *core[V], ref uint32) uint32 {
	if ref == 0 {
		return 0
	}
	if isLeafRef(ref) {
		return leafRef(c.copyValue(src, ref>>1))
	}
	sn := src.mem.ptr(ref)
	sh := sn.hdr()
	cnt := sh.count()
	var dh header
	if cnt > maxSparse {
		dh = makeHeader(sh.prefixLen(), cnt, 0, sh.hasValue(), true)
	} else {
		dh = makeHeader(sh.prefixLen(), cnt, classExact, sh.hasValue(), false)
	}
	off, dn, err := c.allocNode(dh)
	if err != nil {
		panic("trie: freeze: " + err.Error())
	}
	copy(dn.prefix(dh), sn.prefix(sh))
	if sh.hasValue() {
		dn.setValueIdx(c.copyValue(src, sn.valueIdx()))
	}
	if dh.dense() {
		// Safety: a dense node has 256 child slots.
		clear(unsafe.Slice(dn.childSlot(dh, 0), denseSlots))
	}
	i := 0
	forChildren(sn, sh, func(label byte, r uint32) {
		nr := c.copyFrom(src, r)
		if dh.dense() {
			*dn.childSlot(dh, int(label)) = nr
		} else {
			dn.labels(dh, cnt)[i] = label
			*dn.childSlot(dh, i) = nr
		}
		i++
	})
	return off
}

func (c *core[V]) copyValue(src *core[V], idx uint32) uint32 {
	if c.noValues {
		return 0
	}
	return c.vals.push(*src.vals.at(idx))
}

// Get returns the value stored under key and whether it is present.
func (f *Frozen[V]) Get(key []byte) (V, bool) {
	return f.c.get(key)
}

// Contains reports whether key is present.
func (f *Frozen[V]) Contains(key []byte) bool {
	_, ok := lookup(f.c.mem, f.c.root, key)
	return ok
}

// Len returns the number of keys.
func (f *Frozen[V]) Len() int { return f.c.keys }

// Stats returns memory statistics.
func (f *Frozen[V]) Stats() Stats { return f.c.stats() }

// All returns an iterator over every key and value in ascending key order.
func (f *Frozen[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { f.c.each(nil, boundNone, nil, yield) }
}

// Prefix returns an iterator over the keys that start with p, ascending.
func (f *Frozen[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { f.c.each(p, boundPrefix, p, yield) }
}

// Seek returns an iterator over the keys >= k, ascending.
func (f *Frozen[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { f.c.each(k, boundNone, nil, yield) }
}

// Range returns an iterator over the keys in [from, to), ascending; a nil to
// means no upper bound.
func (f *Frozen[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { f.c.each(from, rangeArgs(to), to, yield) }
}
