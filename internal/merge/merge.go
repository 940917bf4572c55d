// Package merge merges ordered key streams into one ordered stream. It is
// an implementation helper of package shards: each shard of a sharded trie
// is walked by its own cursor in key order, and a scan over the whole
// structure merges the cursors' current keys through a Heap.
//
// The Heap holds only (stream, key) pairs and is stepped by its caller:
// the caller yields the top's key, advances that stream's cursor itself
// (a direct method call on a concrete cursor type) and tells the Heap the
// new key with Replace, or Pop when the stream ended. There is no callback,
// no interface call and no goroutine or coroutine per step, and a Heap
// reused across merges allocates nothing.
//
// Rejected designs: iter.Pull2 per stream (a coroutine switch per key and
// one allocation per stream per query: the previous design, 0.2x a locked
// trie on prefix queries); container/heap (an interface call per
// comparison and swap); a loser tree (the same log2(k) comparisons per
// step as the heap's sift-down at the shard counts seen here, 2 to 64, for
// more code).
package merge

import "bytes"

// entry is one stream's current key.
type entry struct {
	key []byte
	id  int
}

// Heap is a min-heap of streams ordered by their current keys (bytewise,
// ties broken by the lower stream id). The zero value is an empty heap; a
// Heap must not be used by two goroutines at once. It keeps the key
// slices it is given, not copies: a stream's key must stay unchanged until
// the caller Replaces or Pops that stream.
type Heap struct{ e []entry }

// Reset empties the heap, keeping its memory.
func (h *Heap) Reset() {
	clear(h.e) // drop the key references
	h.e = h.e[:0]
}

// Len returns the number of streams in the heap.
func (h *Heap) Len() int { return len(h.e) }

// Push adds stream id whose current key is key.
func (h *Heap) Push(id int, key []byte) {
	h.e = append(h.e, entry{key, id})
	h.up(len(h.e) - 1)
}

// Top returns the stream with the smallest key and that key. The heap must
// not be empty.
func (h *Heap) Top() (id int, key []byte) { return h.e[0].id, h.e[0].key }

// Replace sets the top stream's key to key (the stream advanced).
func (h *Heap) Replace(key []byte) {
	h.e[0].key = key
	if len(h.e) > 1 {
		h.down(0)
	}
}

// Pop removes the top stream (it ended).
func (h *Heap) Pop() {
	n := len(h.e) - 1
	h.e[0] = h.e[n]
	h.e[n] = entry{}
	h.e = h.e[:n]
	if n > 1 {
		h.down(0)
	}
}

func less(a, b *entry) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

func (h *Heap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(&h.e[i], &h.e[p]) {
			return
		}
		h.e[i], h.e[p] = h.e[p], h.e[i]
		i = p
	}
}

func (h *Heap) down(i int) {
	n := len(h.e)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && less(&h.e[r], &h.e[l]) {
			m = r
		}
		if !less(&h.e[m], &h.e[i]) {
			return
		}
		h.e[i], h.e[m] = h.e[m], h.e[i]
		i = m
	}
}
