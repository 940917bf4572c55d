// Package merge merges ordered key/value streams into one ordered stream.
// It is an implementation helper of package shards: each shard of a sharded
// trie yields its keys in order, and a scan over the whole structure merges
// them.
package merge

import (
	"bytes"
	"container/heap"
	"iter"
)

// Seq2 merges streams that each yield strictly ascending keys (bytewise)
// into one ascending stream. Keys equal across streams are all yielded,
// the lower-indexed stream first.
//
// A yielded key may be a buffer its stream reuses: it is valid until the
// consumer asks for the next element (the stream it came from is advanced
// only then). Stopping early stops every stream.
func Seq2[V any](streams []iter.Seq2[[]byte, V]) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) {
		switch len(streams) {
		case 0:
			return
		case 1:
			streams[0](yield)
			return
		}
		h := &cursorHeap[V]{}
		for i, s := range streams {
			next, stop := iter.Pull2(s)
			defer stop()
			c := &cursor[V]{idx: i, next: next}
			if c.advance() {
				h.items = append(h.items, c)
			}
		}
		heap.Init(h)
		for len(h.items) > 0 {
			c := h.items[0]
			if !yield(c.key, c.val) {
				return
			}
			if c.advance() {
				heap.Fix(h, 0)
			} else {
				heap.Pop(h)
			}
		}
	}
}

type cursor[V any] struct {
	idx  int
	key  []byte
	val  V
	next func() ([]byte, V, bool)
}

func (c *cursor[V]) advance() bool {
	k, v, ok := c.next()
	c.key, c.val = k, v
	return ok
}

type cursorHeap[V any] struct{ items []*cursor[V] }

func (h *cursorHeap[V]) Len() int { return len(h.items) }
func (h *cursorHeap[V]) Less(i, j int) bool {
	if c := bytes.Compare(h.items[i].key, h.items[j].key); c != 0 {
		return c < 0
	}
	return h.items[i].idx < h.items[j].idx
}
func (h *cursorHeap[V]) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *cursorHeap[V]) Push(x any)    { h.items = append(h.items, x.(*cursor[V])) }
func (h *cursorHeap[V]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
