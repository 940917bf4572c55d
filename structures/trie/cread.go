package trie

// Read paths of the concurrent forms.
//
// Invariants (see cmem.go): a reader holds an epoch guard from before it
// loads the root until it has read its last node byte and value, and marks
// itself in (readerIn) right after taking the guard, before its first load
// of the tree (the one writer's quiet frees rely on it); it loads
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
// lookupFrom mirrors lookup (core.go), which reads through the pool with
// plain loads for the single-owner trie; here memory comes from the
// readers' chunk view and child slots are atomic words. Ordered reads use
// the one cursor of iter.go in its concurrent form (cursor[V,
// atomicLoads]), whose loads follow these rules; Cursor and each below
// hold the epoch guard around it.

import (
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/internal/gid"
)

// readerIn marks a reader as entered (rdIn) for the one writer's quiet
// frees (owinplace.go): every reader calls it right after it takes its
// epoch guard and before it loads anything of the tree. The flag is
// stored only when clear (after the writer cleared it: at most once per
// reclamation scan), so a reader's usual cost is one load of a read-mostly
// line.
func (c *Concurrent[V]) readerIn() { markReaderIn(&c.rdIn) }

// markReaderIn is readerIn on the flag f (longHold.enter takes it too).
func markReaderIn(f *atomic.Uint32) {
	if f.Load() == 0 { // seq-cst: after the guard's counter increment
		f.Store(1) // seq-cst: before the reader's first load of the tree
	}
}

// lookup returns the value index of key in the published trie. The caller
// holds an epoch guard.
func (c *Concurrent[V]) lookup(key []byte) (uint32, bool) {
	return c.lookupFrom(c.root.Load(), key) // acquire: the published tree
}

// lookupFrom is lookup in the tree at ref (the published root, or a
// snapshot's, loaded before).
func (c *Concurrent[V]) lookupFrom(ref uint32, key []byte) (uint32, bool) {
	v := c.view.Load() // acquire: after the root, so it covers it
	for ref != 0 {
		if isLeafRef(ref) {
			return ref >> 1, len(key) == 0
		}
		var n node
		n, v = c.nodeAt(v, ref)
		h, vi := loadHV(n)
		if p := h.prefixLen(); p > 0 {
			if len(key) < p || !sharedHasPrefix(n, h, key, p) {
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

// sharedHasPrefix is node.hasPrefix for a node a writer may change while
// this goroutine reads it: the word compare reads bytes past the prefix
// (labels, children) that the writer may store to, whose values it
// discards. The race detector would still report that read, so the race
// and invariants builds compare the prefix bytes alone.
func sharedHasPrefix(n node, h header, key []byte, p int) bool {
	if poisonCheck {
		return string(n.prefix(h)) == string(key[:p])
	}
	return n.hasPrefix(h, key, p)
}

// childOf returns the ref of n's child labelled b (0 if none), loaded
// atomically (acquire). Outside the race and invariants builds it searches
// with slotFor, whose word loads may cover labels past the count and child
// slots the writer is storing to: those bytes cannot change the answer (see
// slotFor), and the labels below the count never change (see the file
// header).
func childOf(n node, h header, b byte) uint32 {
	if !poisonCheck {
		if s := n.slotFor(h, b); s != nil {
			return (*atomic.Uint32)(unsafe.Pointer(s)).Load() // acquire: the child
		}
		return 0
	}
	if h.dense() {
		return slotAt(n, h, int(b)).Load()
	}
	if i := findLabel(n, h, h.count(), b); i >= 0 {
		return slotAt(n, h, i).Load()
	}
	return 0
}

// valSlot returns the address of value slot idx in directory d, or a
// harmless address when d does not cover idx (a slot published after d
// was loaded: warming skips it).
//
// Safety: the pointer is only read, one byte, for warming; a slot of V is
// at least one byte (noValues covers zero-size V).
func valSlot[V any](d *valDir[V], idx uint32) unsafe.Pointer {
	ci := int(idx >> valChunkBits)
	if ci >= len(d.chunks) || d.chunks[ci] == nil {
		return unsafe.Pointer(d)
	}
	return unsafe.Pointer(&d.chunks[ci][idx&(1<<valChunkBits-1)])
}

// Cursor reads a Concurrent trie in ascending key order one key at a
// time: the stepping form of All, Prefix, Seek and Range, for callers that
// interleave several cursors (a merge across the shards of package shards)
// or stop and go without a loop body.
//
// The zero value is ready to use. Start a walk with Seek, SeekPrefix or
// SeekRange, step it with Next; a Cursor may be restarted any number of
// times and keeps its buffers between walks, so a reused Cursor allocates
// nothing once its buffers have grown. A Cursor must not be copied after
// first use, nor used by two goroutines at once.
//
// Between a Seek* and the Next that reports the end (or Close) the cursor
// holds an epoch guard on its trie: nodes retired by writers meanwhile are
// not reused, and WaitReaders (hence Reclaim) waits for it. Close a cursor
// you stop early. The key Next returns is the cursor's own buffer: valid,
// and unchanged, until the next call of Next, Seek* or Close; it must not
// be modified (it is capacity-clipped, so appending copies). Under
// concurrent writes a walk has the guarantees of All.
type Cursor[V any] struct {
	it    cursor[V, atomicLoads] // it.c: the trie walked
	hold  longHold               // the epoch guard, recorded (creaders.go)
	open  bool
	mode  uint8
	hit   bool // the walk ended at a key past its bound
	bound []byte
}

// Seek starts a walk over c's keys >= from. from is not retained.
func (cur *Cursor[V]) Seek(c *Concurrent[V], from []byte) { cur.start(c, from, boundNone, nil) }

// SeekPrefix starts a walk over c's keys that start with p. p is copied.
func (cur *Cursor[V]) SeekPrefix(c *Concurrent[V], p []byte) { cur.start(c, p, boundPrefix, p) }

// SeekRange starts a walk over c's keys in [from, to); a nil to means no
// upper bound. The bounds are copied.
func (cur *Cursor[V]) SeekRange(c *Concurrent[V], from, to []byte) {
	cur.start(c, from, rangeArgs(to), to)
}

func (cur *Cursor[V]) start(c *Concurrent[V], from []byte, mode uint8, bound []byte) {
	cur.startIn(c, nil, from, mode, bound)
}

// startIn starts a walk of c's published tree (st nil) or of snapshot st
// (an empty walk once it is closed: see snapshot.go).
func (cur *Cursor[V]) startIn(c *Concurrent[V], st *snapState[V], from []byte, mode uint8, bound []byte) {
	cur.Close()
	cur.mode, cur.hit = mode, false
	cur.bound = append(cur.bound[:0], bound...)
	cur.hold.enter(&c.epoch, &c.readers, &c.rdIn)
	cur.open = true
	cur.it.c = c
	var root uint32
	switch {
	case st == nil:
		root = c.root.Load() // acquire: the published tree
	case st.closed.Load(): // acquire: inside the guard (snapshot.go)
		root = 0
	default:
		root = st.root
	}
	cur.it.v = c.view.Load() // acquire: after the root, so it covers it
	cur.it.seek(root, from)
}

// SeekSnapshot starts a walk over s's keys >= from (see Seek); the walk of
// a closed snapshot is empty.
func (cur *Cursor[V]) SeekSnapshot(s *Snapshot[V], from []byte) {
	cur.startIn(s.st.c, s.st, from, boundNone, nil)
}

// SeekPrefixSnapshot starts a walk over s's keys that start with p (see
// SeekPrefix).
func (cur *Cursor[V]) SeekPrefixSnapshot(s *Snapshot[V], p []byte) {
	cur.startIn(s.st.c, s.st, p, boundPrefix, p)
}

// SeekRangeSnapshot starts a walk over s's keys in [from, to) (see
// SeekRange).
func (cur *Cursor[V]) SeekRangeSnapshot(s *Snapshot[V], from, to []byte) {
	cur.startIn(s.st.c, s.st, from, rangeArgs(to), to)
}

// Next returns the next key and its value; ok is false at the end of the
// walk, when the cursor has already let go of the trie.
func (cur *Cursor[V]) Next() (key []byte, v V, ok bool) {
	if trackReaders && cur.open && cur.hold.rg != gid.Current() {
		cur.hold.rehome(&cur.it.c.readers) // handed on (creaders.go)
	}
	return cur.next()
}

// next is Next without the hand-off check (an iteration's own cursor
// never changes goroutine).
func (cur *Cursor[V]) next() (key []byte, v V, ok bool) {
	if cur.open {
		if idx, found := cur.it.next(); found {
			k := cur.it.buf[:len(cur.it.buf):len(cur.it.buf)]
			if cur.mode == boundNone || inBound(cur.mode, cur.bound, k) {
				return k, cur.it.c.value(idx), true
			}
			cur.hit = true
		}
		cur.Close()
	}
	return nil, v, false
}

// PastBound reports whether the last walk ended at a key beyond its bound
// (a key outside the prefix, or >= to) rather than at the end of the trie.
func (cur *Cursor[V]) PastBound() bool { return cur.hit }

// Close ends the walk (if any) and lets go of the trie. The cursor's
// buffers are kept for the next walk.
func (cur *Cursor[V]) Close() {
	if cur.open {
		cur.open = false
		cur.hold.exit(&cur.it.c.readers)
		cur.it.c, cur.it.v = nil, nil
	}
}

// each yields the keys >= from in order while inside the bound (mode,
// bound), holding an epoch guard for the whole iteration, with a pooled
// cursor. yield does not escape.
func (c *Concurrent[V]) each(from []byte, mode uint8, bound []byte, yield func([]byte, V) bool) {
	c.eachIn(nil, from, mode, bound, yield)
}

// eachIn is each over snapshot st (nil: the published tree).
func (c *Concurrent[V]) eachIn(st *snapState[V], from []byte, mode uint8, bound []byte, yield func([]byte, V) bool) {
	s := getScratch()
	var cur Cursor[V]
	cur.it.buf, cur.it.stack, cur.bound = s.buf[:0], s.stack[:0], s.bound[:0]
	defer func() {
		cur.Close()
		s.buf, s.stack, s.bound = cur.it.buf, cur.it.stack, cur.bound
		putScratch(s)
	}()
	cur.startIn(c, st, from, mode, bound)
	for {
		k, v, ok := cur.next()
		if !ok || !yield(k, v) {
			return
		}
	}
}
