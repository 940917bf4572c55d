package shards

import (
	"iter"

	"github.com/zipora-go/zipora/internal/merge"
	"github.com/zipora-go/zipora/structures/trie"
)

// Ordered reads of the sharded trie.
//
// Each shard is walked by a trie.Cursor (lock-free, under the shard's
// epoch guard from its seek to its end). Under an ordered router the
// shards are walked one after another from the shard the start key routes
// to, and the walk stops at the first shard whose cursor ends past the
// bound (every later shard holds only greater keys): a prefix query visits
// one shard, or two when the prefix straddles a boundary. Under hash
// routing every shard is sought and the cursors' current keys are merged
// by an internal/merge.Heap stepped directly: the top's key is yielded,
// its cursor advanced and the heap told the new key, with no coroutine,
// callback or interface call per step.
//
// The cursors, their key buffers, the values of the heads and the heap
// come from t.reads (a sync.Pool) for the length of one iteration, and the
// public iterators are closures over read whose yield does not escape: a
// range loop over Prefix allocates nothing in steady state
// (TestShardedIterAllocs).
//
// Rejected: one iter.Pull2 coroutine per shard merged by container/heap
// (the previous design: a coroutine switch and an interface call per key,
// 43 allocations per prefix query, 0.2x a locked trie); reading through
// the shards' owners (a round trip per query for what a lock-free read
// does in place).

// Bounds of a read.
const (
	readAll    uint8 = iota // every key
	readSeek                // keys >= from
	readPrefix              // keys starting with from
	readRange               // keys in [from, to)
)

// readState is the reusable memory of one ordered read.
type readState[V any] struct {
	curs []trie.Cursor[V] // one per shard walked (index: shard - first)
	vals []V              // the value of each cursor's current key (merge)
	heap merge.Heap
}

func (t *Trie[V]) getRead(n int) *readState[V] {
	r, _ := t.reads.Get().(*readState[V])
	if r == nil {
		r = &readState[V]{}
	}
	if cap(r.curs) < n {
		r.curs = make([]trie.Cursor[V], n)
		r.vals = make([]V, n)
	}
	r.curs, r.vals = r.curs[:n], r.vals[:n]
	return r
}

// putRead closes every cursor (letting go of the shards) and pools r.
func (t *Trie[V]) putRead(r *readState[V]) {
	for i := range r.curs {
		r.curs[i].Close()
	}
	clear(r.vals)
	r.heap.Reset()
	t.reads.Put(r)
}

// startCursor begins cur's walk over shard i of l (snaps nil), or over
// its snapshot snaps[i], for a read of the given kind.
func startCursor[V any](cur *trie.Cursor[V], l *trieLayout[V], snaps []*trie.Snapshot[V], i int, kind uint8, from, to []byte) {
	if snaps != nil {
		switch s := snaps[i]; kind {
		case readAll:
			cur.SeekSnapshot(s, nil)
		case readSeek:
			cur.SeekSnapshot(s, from)
		case readPrefix:
			cur.SeekPrefixSnapshot(s, from)
		default:
			cur.SeekRangeSnapshot(s, from, to)
		}
		return
	}
	c := l.shards[i].c.Load() // acquire: the shard's trie (Load replaces it)
	switch kind {
	case readAll:
		cur.Seek(c, nil)
	case readSeek:
		cur.Seek(c, from)
	case readPrefix:
		cur.SeekPrefix(c, from)
	default:
		cur.SeekRange(c, from, to)
	}
}

// read yields the keys of the read (kind, from, to) in order, of the
// shards of l, or of their snapshots snaps (a TrieSnapshot); see the file
// comment. yield does not escape.
func (t *Trie[V]) read(l *trieLayout[V], snaps []*trie.Snapshot[V], kind uint8, from, to []byte, yield func([]byte, V) bool) {
	if l == nil {
		return
	}
	if l.router.Ordered() {
		first := 0
		if kind != readAll {
			first = max(l.route(from), 0)
		}
		r := t.getRead(1)
		defer t.putRead(r)
		cur := &r.curs[0]
		for i := first; i < len(l.shards); i++ {
			startCursor(cur, l, snaps, i, kind, from, to)
			for k, v, ok := cur.Next(); ok; k, v, ok = cur.Next() {
				if !yield(k, v) {
					return
				}
			}
			if cur.PastBound() {
				return // every later shard holds only greater keys
			}
		}
		return
	}
	r := t.getRead(len(l.shards))
	defer t.putRead(r)
	h := &r.heap
	for i := range l.shards {
		cur := &r.curs[i]
		startCursor(cur, l, snaps, i, kind, from, to)
		if k, v, ok := cur.Next(); ok {
			r.vals[i] = v
			h.Push(i, k)
		}
	}
	for h.Len() > 0 {
		i, k := h.Top()
		if !yield(k, r.vals[i]) {
			return
		}
		if k, v, ok := r.curs[i].Next(); ok {
			r.vals[i] = v
			h.Replace(k)
		} else {
			h.Pop()
		}
	}
}

// All yields every key and value in ascending key order: the shards walked
// in turn under an ordered router, merged otherwise. Each shard's walk
// follows trie.Concurrent's guarantees under concurrent writes. The
// yielded key is a cursor's buffer: valid until the loop body returns,
// not to be modified (clone it to keep it). Steady-state iteration
// allocates nothing.
func (t *Trie[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.read(t.layout.Load(), nil, readAll, nil, nil, yield) }
}

// Prefix yields the keys starting with p, in order (see All). p is read
// each time the iteration starts; under an ordered router only the shards
// whose ranges meet p are visited.
func (t *Trie[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.read(t.layout.Load(), nil, readPrefix, p, nil, yield) }
}

// Seek yields the keys >= k, in order (see All).
func (t *Trie[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.read(t.layout.Load(), nil, readSeek, k, nil, yield) }
}

// Range yields the keys in [from, to), in order (see All); a nil to means
// no upper bound.
func (t *Trie[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { t.read(t.layout.Load(), nil, readRange, from, to, yield) }
}
