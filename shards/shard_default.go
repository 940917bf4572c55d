package shards

import (
	"iter"
	"sync"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// newDefaultShard builds the default shard: the one-writer/multi-reader
// concurrent trie (lock-free readers; the owner worker is its only writer).
func newDefaultShard[V any](opts []trie.Option) (ShardTrie[V], error) {
	return trie.NewConcurrent[V](primitives.OneWriteMultiRead, opts...)
}

// LockedShard is the single-owner trie behind a sync.RWMutex: a ShardTrie
// whose readers take the read lock. It is the "rwmutex" benchmark peer.
// Iterators hold the read lock for the whole iteration: do not write to the
// same shard from inside the loop.
type LockedShard[V any] struct {
	mu sync.RWMutex
	t  *trie.Trie[V]
}

// NewLockedShard returns an empty locked shard.
func NewLockedShard[V any](opts ...trie.Option) *LockedShard[V] {
	return &LockedShard[V]{t: trie.New[V](opts...)}
}

func (l *LockedShard[V]) Insert(key []byte, v V) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t.Insert(key, v)
}

// InsertBatch inserts every key with value v under one write lock and
// returns how many were new.
func (l *LockedShard[V]) InsertBatch(keys [][]byte, v V) (added int, err error) {
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

func (l *LockedShard[V]) Get(key []byte) (V, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Get(key)
}

func (l *LockedShard[V]) Contains(key []byte) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Contains(key)
}

func (l *LockedShard[V]) Delete(key []byte) (V, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.t.Delete(key)
	return v, ok, nil
}

func (l *LockedShard[V]) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Len()
}

func (l *LockedShard[V]) Stats() trie.Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Stats()
}

func (l *LockedShard[V]) locked(seq iter.Seq2[[]byte, V]) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) {
		l.mu.RLock()
		defer l.mu.RUnlock()
		seq(yield)
	}
}

func (l *LockedShard[V]) All() iter.Seq2[[]byte, V]            { return l.locked(l.t.All()) }
func (l *LockedShard[V]) Prefix(p []byte) iter.Seq2[[]byte, V] { return l.locked(l.t.Prefix(p)) }
func (l *LockedShard[V]) Seek(k []byte) iter.Seq2[[]byte, V]   { return l.locked(l.t.Seek(k)) }
