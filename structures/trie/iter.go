package trie

import (
	"bytes"
	"iter"
	"sync"
	"sync/atomic"
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
// Who may call what: the cursor (below) serves every form. In the
// single-owner forms it runs in the owner's goroutine (or under the
// caller's lock), which reseeks after its own modifications (each); in the
// concurrent form (cread.go: Cursor, Concurrent.each, snapshots) any
// goroutine runs it, holding the trie's epoch guard from before it loads
// the root until its last read, under cread.go's invariants.
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

// cursor walks a trie in key order: the one cursor of every form. The
// forms differ only in their loads, chosen by the type parameter L:
// plainLoads for the single-owner forms (Trie, Shared, Frozen; own set),
// which read nodes through their arena with plain loads; atomicLoads for
// the concurrent form (c set), which reads them through the readers' chunk
// view with atomic loads (acquire) of the header-value word and the child
// slots, under an epoch guard its caller holds, tolerating the in-place
// changes cread.go's invariants allow.
//
// The two load types differ in size, so they have different GC shapes:
// each form gets its own compiled copy of the cursor, in which the test
//
//	var l L
//	if unsafe.Sizeof(l) != 0 { // the concurrent form
//
// is a constant and the other form's loads are dead code (no branch,
// nothing loaded to decide). The test is spelled out where it is needed,
// not a method: a call to another method of the generic type loads a
// sub-dictionary at each use, which the test does not need. The loads are
// small methods that inline (hv, vidx, slot), and nodes gives a walk its
// ref resolver once (a closure the compiler inlines, see nodes).
//
// Rejected: a type parameter with load methods (Go 1.26 calls a type
// parameter's methods through the instantiation's dictionary: an indirect
// call per load, never inlined); a load function value per form (the same
// indirect call); a flag tested at every load (measured: about 10 more
// instructions a key, 4%, on the single-owner scan); a copy of the
// algorithm per form (what there was: every fix made twice).
type cursor[V any, L loads] struct {
	own     *core[V]       // the single-owner form's trie (plainLoads)
	c       *Concurrent[V] // the concurrent form's trie (atomicLoads)
	v       *view          // concurrent: the chunk view in use (reloaded as nodeAt needs)
	buf     []byte
	stack   []frame
	pending bool // an inline leaf whose key is buf is next
	leafIdx uint32
	sink    uint32 // what warm read (kept so the loads are not dropped)
	entered int    // nodes entered by next since the last seek
}

// plainLoads and atomicLoads name the cursor's forms (see cursor); only
// their sizes matter.
type (
	plainLoads  struct{}
	atomicLoads struct{ _ byte }
)

// loads is the cursor's form parameter.
type loads interface{ plainLoads | atomicLoads }

// cnode resolves ref in the concurrent form: through the readers' view,
// reloaded when ref lies beyond it.
func (it *cursor[V, L]) cnode(ref uint32) node {
	n, v := it.c.nodeAt(it.v, ref)
	it.v = v
	return n
}

// nodes returns the cursor's ref resolver: the arena's ptr (the arena
// loaded once), or cnode. Both it and the closure it returns inline where
// a walk calls it once and the result per node; a method that resolved a
// ref itself would cost more than the inliner allows (a call and an arena
// lookup, both counted).
func (it *cursor[V, L]) nodes() func(ref uint32) node {
	var l L
	conc := unsafe.Sizeof(l) != 0
	var m *arena
	if !conc {
		m = it.own.mem
	}
	return func(ref uint32) node {
		if conc {
			return it.cnode(ref)
		}
		return m.ptr(ref)
	}
}

// hv returns n's header and, in the concurrent form, its value index from
// the same atomic load (acquire: the labels and children written before
// the store that set this header); vidx gives the value index.
func (it *cursor[V, L]) hv(n node) (header, uint32) {
	var l L
	if unsafe.Sizeof(l) != 0 {
		return loadHV(n)
	}
	return n.hdr(), 0
}

// vidx returns the value index of n, whose header (from hv, with vi) has a
// value: the single-owner form loads it only now.
func (it *cursor[V, L]) vidx(n node, vi uint32) uint32 {
	var l L
	if unsafe.Sizeof(l) != 0 {
		return vi
	}
	return n.valueIdx()
}

// slot returns the ref in child slot s (n.childSlot).
func (it *cursor[V, L]) slot(s *uint32) uint32 {
	var l L
	if unsafe.Sizeof(l) != 0 {
		// Safety: s is a 4-aligned child slot of a published node.
		return (*atomic.Uint32)(unsafe.Pointer(s)).Load() // acquire: the child
	}
	return *s
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

// warm touches n's children and their values; see Warming. In the
// concurrent form every load is of memory the epoch guard keeps valid, a
// value slot the directory loaded here does not cover (published after it)
// reads a harmless byte instead (valSlot), and the values read are
// discarded.
func (it *cursor[V, L]) warm(n node, h header) {
	cnt := h.count()
	if h.dense() || cnt < warmMin || !scattered(it.slot(n.childSlot(h, 0)), it.slot(n.childSlot(h, cnt-1)), cnt) {
		return
	}
	var l L
	conc := unsafe.Sizeof(l) != 0
	node := it.nodes()
	var vals *values[V] // single-owner: the value slots (nil: a set)
	var dir *valDir[V]  // concurrent: the value directory (nil: a set)
	if conc {
		if !it.c.noValues {
			dir = it.c.vals.Load() // acquire: covers every slot published before it
		}
	} else if !it.own.noValues {
		vals = &it.own.vals
	}
	// valueByte reads the first byte of value slot idx.
	//
	// Safety: a slot of V is at least one byte (noValues covers zero-size
	// V), idx is a handed-out slot, and the byte is only read.
	valueByte := func(idx uint32) uint32 {
		if conc {
			return uint32(*(*byte)(valSlot(dir, idx)))
		}
		return uint32(*(*byte)(unsafe.Pointer(vals.at(idx))))
	}
	withValues := vals != nil || dir != nil
	s := uint32(0)
	for i := range cnt {
		r := it.slot(n.childSlot(h, i))
		switch {
		case r == 0:
		case isLeafRef(r):
			if withValues {
				s += valueByte(r >> 1)
			}
		default:
			ch, _ := it.hv(node(r))
			s += uint32(ch)
		}
	}
	if withValues {
		for i := range cnt {
			if r := it.slot(n.childSlot(h, i)); r != 0 && !isLeafRef(r) {
				cn := node(r)
				if ch, vi := it.hv(cn); ch.hasValue() {
					s += valueByte(it.vidx(cn, vi))
				}
			}
		}
	}
	it.sink += s
}

// seek positions the cursor so that next returns the smallest key >= target
// in the tree at root.
func (it *cursor[V, L]) seek(root uint32, target []byte) {
	it.stack, it.buf, it.pending, it.entered = it.stack[:0], it.buf[:0], false, 0
	node := it.nodes()
	ref := root
	depth := 0
	for ref != 0 {
		if isLeafRef(ref) {
			if depth == len(target) {
				it.pending, it.leafIdx = true, ref>>1
			}
			return
		}
		n := node(ref)
		h, _ := it.hv(n)
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
			child = it.slot(n.childSlot(h, pos))
		} else {
			cnt := h.count()
			pos = n.lowerSparse(h, cnt, b)
			if pos < cnt && n.label(h, pos) == b {
				child = it.slot(n.childSlot(h, pos))
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
func (it *cursor[V, L]) next() (uint32, bool) {
	if it.pending {
		it.pending = false
		return it.leafIdx, true
	}
	var l L
	conc := unsafe.Sizeof(l) != 0
	node := it.nodes()
	for len(it.stack) > 0 {
		f := &it.stack[len(it.stack)-1]
		n := f.n
		h, vi := it.hv(n)
		if f.pos < 0 {
			f.pos = 0
			if h.hasValue() {
				it.buf = it.buf[:f.keyEnd]
				return it.vidx(n, vi), true
			}
		}
		var label byte
		var r uint32
		if h.dense() {
			p := int(f.pos)
			for p < denseSlots {
				if r = it.slot(n.childSlot(h, p)); r != 0 {
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
			label, r = n.label(h, p), it.slot(n.childSlot(h, p))
			f.pos++
			if conc && r == 0 {
				continue // never in a published node; tolerated
			}
		}
		it.buf = append(it.buf[:f.keyEnd], label)
		if isLeafRef(r) {
			return r >> 1, true
		}
		cn := node(r)
		ch, _ := it.hv(cn)
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
	it := cursor[V, plainLoads]{own: c, buf: s.buf[:0], stack: s.stack[:0]}
	defer func() {
		s.buf, s.stack = it.buf, it.stack
		putScratch(s)
	}()
	it.seek(c.root, s.from)
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
			it.seek(c.root, s.last)
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
