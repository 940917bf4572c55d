package trie

import (
	"bytes"
	"iter"
	"sync"
	"unsafe"
)

// Iteration: an explicit stack of frames (node, next position) and one key
// buffer that the cursor extends and truncates as it descends and climbs,
// so a key is never rebuilt from the root; see the package documentation
// for the yielded-key and modification rules.
//
// Steady-state iteration allocates nothing: the stack, the key buffer and
// the copies of the bounds live in a scratch taken from scratchPool for
// the length of one iteration, and the public iterators are small closures
// over a method whose yield parameter does not escape, so a range loop
// over t.Prefix(p) that the compiler inlines keeps both closures on the
// stack (TestIterAllocs asserts it).
//
// Rejected: cloning the bounds when the iterator is created (one
// allocation per query, the closure then escapes with it); a bound
// predicate closure (an indirect call per key, and it escapes); per-trie
// cursor caches (a sync.Pool per generic instance costs the same and a
// package-wide one shares buffers between tries).

// frame is one node on the iteration stack. It holds the node's address,
// resolved once when the cursor enters the node, not its ref: a step
// within a node then costs no arena lookup (the single-owner forms reseek
// after any modification, and the concurrent form holds an epoch guard,
// so the address stays valid while the frame exists).
type frame struct {
	n      node
	keyEnd int32 // key length after this node's prefix
	pos    int32 // next child (sparse index or dense label); -1: value not yet yielded
}

// Bounds of a scan.
const (
	boundNone   uint8 = iota // every key from the start
	boundPrefix              // keys starting with the bound
	boundBelow               // keys below the bound
)

// inBound reports whether k is inside the scan's bound.
func inBound(mode uint8, bound, k []byte) bool {
	switch mode {
	case boundPrefix:
		return len(k) >= len(bound) && string(k[:len(bound)]) == string(bound)
	case boundBelow:
		return bytes.Compare(k, bound) < 0
	}
	return true
}

// scratch is the reusable memory of one iteration.
type scratch struct {
	buf   []byte  // the key being built
	stack []frame // the cursor's path
	from  []byte  // copy of the start key
	bound []byte  // copy of the bound
	last  []byte  // resume key (single-owner forms)
}

// maxPooledScratch is the largest key buffer kept for reuse (a scan over
// 64 KiB keys does not pin that much per P forever).
const maxPooledScratch = 4 << 10

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooledScratch || cap(s.from) > maxPooledScratch ||
		cap(s.bound) > maxPooledScratch || cap(s.last) > maxPooledScratch || cap(s.stack) > maxPooledScratch {
		return
	}
	scratchPool.Put(s)
}

type cursor[V any] struct {
	c       *core[V]
	buf     []byte
	stack   []frame
	pending bool // an inline leaf whose key is buf is next
	leafIdx uint32
	sink    uint32 // what warm read (kept so the loads are not dropped)
	entered int    // nodes entered by next since the last seek
}

// Warming. Nodes and value slots sit in memory in insertion order, not key
// order, so a scan over keys inserted out of order (shuffled keys, paths)
// misses the cache once for each key's leaf node and once for its value:
// two dependent misses a key, one after the other. When the cursor enters
// a sparse node it therefore first touches what it is about to visit
// below it: the header of every child node and the value slot of every
// inline leaf child (independent loads, which the CPU overlaps), then the
// value slot of every child node holding one. A node's misses then cost
// about two memory latencies together instead of two per key. The loads'
// results are summed into the cursor's sink only so that the compiler
// keeps them; Go has no prefetch instruction to say it better.
//
// Children inserted in key order sit next to each other (their refs, leaf
// value indices or node offsets, are close), where the hardware
// prefetcher already streams them and warming only costs its loop: nodes
// whose first and last children's refs are closer than warmNear per child
// are not warmed (keys-seq).
//
// A short walk (a prefix query for 10 keys) visits a child or two of each
// node it enters, so warming all of them would only add misses: the
// cursor warms only once it has entered warmAfter nodes since its seek.
//
// Rejected: warming dense nodes (they are rare, at the top of the tree,
// and 256 slots are more to scan than the misses they would save);
// assembly PREFETCH (an unexported call per load, and a file per
// architecture, for what plain loads already overlap).

// warmMin is the fewest children worth warming (one child: nothing to
// overlap); warmNear the ref distance per child below which children
// count as adjacent in memory.
const (
	warmMin   = 2
	warmNear  = 64
	warmAfter = 8
)

// scattered reports whether children with refs first and last (of cnt)
// are far apart in memory.
func scattered(first, last uint32, cnt int) bool {
	d := int64(last) - int64(first)
	return d >= int64(warmNear*cnt) || d <= -int64(warmNear*cnt)
}

// warm touches n's children and their values; see Warming.
func (it *cursor[V]) warm(n node, h header) {
	cnt := h.count()
	if h.dense() || cnt < warmMin || !scattered(n.child(h, 0), n.child(h, cnt-1), cnt) {
		return
	}
	m, c := it.c.mem, it.c
	s := uint32(0)
	for i := range cnt {
		r := n.child(h, i)
		switch {
		case r == 0:
		case isLeafRef(r):
			if !c.noValues {
				// Safety: a slot of V is at least one byte (noValues covers
				// zero-size V), and r>>1 is a handed-out slot.
				s += uint32(*(*byte)(unsafe.Pointer(c.vals.at(r >> 1))))
			}
		default:
			s += uint32(m.ptr(r).hdr())
		}
	}
	if !c.noValues {
		for i := range cnt {
			if r := n.child(h, i); r != 0 && !isLeafRef(r) {
				if cn := m.ptr(r); cn.hdr().hasValue() {
					// Safety: as above; the node holds a value, so its index
					// is a handed-out slot.
					s += uint32(*(*byte)(unsafe.Pointer(c.vals.at(cn.valueIdx()))))
				}
			}
		}
	}
	it.sink += s
}

// seek positions the cursor so that next returns the smallest key >= target.
func (it *cursor[V]) seek(target []byte) {
	it.stack = it.stack[:0]
	it.buf = it.buf[:0]
	it.pending = false
	it.entered = 0
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
				it.stack = append(it.stack, frame{n, int32(len(it.buf)), -1})
			}
			// else every key below n is smaller: skip n.
			return
		}
		it.buf = append(it.buf, pre...)
		depth += len(pre)
		if depth == len(target) {
			it.stack = append(it.stack, frame{n, int32(len(it.buf)), -1})
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
			it.stack = append(it.stack, frame{n, int32(len(it.buf)), int32(pos)})
			return
		}
		it.stack = append(it.stack, frame{n, int32(len(it.buf)), int32(pos + 1)})
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
		n := f.n
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
		ch := cn.hdr()
		if it.entered++; it.entered > warmAfter {
			it.warm(cn, ch)
		}
		it.buf = append(it.buf, cn.prefix(ch)...)
		it.stack = append(it.stack, frame{cn, int32(len(it.buf)), -1})
	}
	return 0, false
}

// each yields the keys >= from in order while they are inside the bound
// (mode, bound). It copies from and bound when it starts, and resumes
// after modifications made by the loop body. yield does not escape.
func (c *core[V]) each(from []byte, mode uint8, bound []byte, yield func([]byte, V) bool) {
	s := getScratch()
	s.from = append(s.from[:0], from...)
	s.bound = append(s.bound[:0], bound...)
	it := cursor[V]{c: c, buf: s.buf[:0], stack: s.stack[:0]}
	defer func() {
		s.buf, s.stack = it.buf, it.stack
		putScratch(s)
	}()
	it.seek(s.from)
	mod := c.mod
	for {
		idx, ok := it.next()
		if !ok {
			return
		}
		k := it.buf[:len(it.buf):len(it.buf)]
		if mode != boundNone && !inBound(mode, s.bound, k) {
			return
		}
		if !yield(k, c.value(idx)) {
			return
		}
		if c.mod != mod {
			// The loop body changed the trie: resume after k.
			s.last = append(append(s.last[:0], it.buf...), 0)
			it.seek(s.last)
			mod = c.mod
		}
	}
}

// rangeArgs returns the bound of Range(from, to).
func rangeArgs(to []byte) uint8 {
	if to == nil {
		return boundNone
	}
	return boundBelow
}

// All returns an iterator over every key and value in ascending key order.
// The yielded key is a reused buffer (see the package documentation on
// iteration); the loop body may modify the trie.
func (t *Trie[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.c.each(nil, boundNone, nil, yield) }
}

// Prefix returns an iterator over the keys that start with p, ascending.
// p is read (copied) each time the iteration starts.
func (t *Trie[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.c.each(p, boundPrefix, p, yield) }
}

// Seek returns an iterator over the keys >= k (the lower bound), ascending.
// k is read (copied) each time the iteration starts.
func (t *Trie[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.c.each(k, boundNone, nil, yield) }
}

// Range returns an iterator over the keys in [from, to), ascending. A nil
// to means no upper bound. The bounds are read (copied) each time the
// iteration starts.
func (t *Trie[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.c.each(from, rangeArgs(to), to, yield) }
}
