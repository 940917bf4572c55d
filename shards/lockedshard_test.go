package shards_test

import (
	"iter"
	"sync"

	"github.com/zipora-go/zipora/structures/trie"
)

// lockedShard is the single-owner trie behind a sync.RWMutex, readers
// taking the read lock: the "rwmutex" benchmark peer, what a Go user would
// write instead of a sharded trie.
// Iterators hold the read lock for the whole iteration: do not write to the
// same shard from inside the loop.
type lockedShard[V any] struct {
	mu sync.RWMutex
	t  *trie.Trie[V]
}

// newLockedShard returns an empty locked shard.
func newLockedShard[V any]() *lockedShard[V] {
	return &lockedShard[V]{t: newPlainTrie[V]()}
}

func (l *lockedShard[V]) Insert(key []byte, v V) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t.Insert(key, v)
}

// InsertBatch inserts every key with value v under one write lock and
// returns how many were new.
func (l *lockedShard[V]) InsertBatch(keys [][]byte, v V) (added int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		a, err := l.t.Insert(k, v)
		if err != nil {
			return added, err
		}
		if a {
			added++
		}
	}
	return added, nil
}

func (l *lockedShard[V]) Get(key []byte) (V, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Get(key)
}

func (l *lockedShard[V]) Contains(key []byte) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Contains(key)
}

func (l *lockedShard[V]) Delete(key []byte) (V, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.t.Delete(key)
	return v, ok, nil
}

func (l *lockedShard[V]) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Len()
}

func (l *lockedShard[V]) Stats() trie.Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Stats()
}

func (l *lockedShard[V]) locked(seq iter.Seq2[[]byte, V]) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) {
		l.mu.RLock()
		defer l.mu.RUnlock()
		seq(yield)
	}
}

func (l *lockedShard[V]) All() iter.Seq2[[]byte, V]            { return l.locked(l.t.All()) }
func (l *lockedShard[V]) Prefix(p []byte) iter.Seq2[[]byte, V] { return l.locked(l.t.Prefix(p)) }
func (l *lockedShard[V]) Seek(k []byte) iter.Seq2[[]byte, V]   { return l.locked(l.t.Seek(k)) }

func (l *lockedShard[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return l.locked(l.t.Range(from, to))
}
