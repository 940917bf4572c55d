package shards

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/zipora-go/zipora/structures/trie"
)

// Consistent cuts of the sharded trie.
//
// Snapshot holds every shard's ownership word at once (holdAll: in shard
// order, each taken at once when free or through the shard's queue like a
// write, see owner.hold), snapshots each shard's trie through the shard's
// writer (trie.Writer.Snapshot: no copy), then releases the words, each
// release applying the writes that queued meanwhile. While all words are
// held no write is being applied anywhere, so the cut is the state at that
// moment: every write that returned before Snapshot was called is in it
// (it was applied and published before its holder let the word go), no
// write that started after Snapshot returned is (it waits for a word
// Snapshot still holds or applies after), and a batch chunk, applied
// within one tenure, is in it whole or not at all.
//
// Writers pause from the moment the first word is held to its release:
// the time to take the remaining words (each waits for at most one bounded
// tenure of its shard) and one trie snapshot per shard (a few hundred
// nanoseconds). TrieSnapshot.Pause reports it.
//
// Rejected: snapshotting the shards one after another without holding the
// words (not a cut: a transfer between two shards could be seen half
// done); stopping writers through the runtime (a task could be the writer
// waited for); a global sequence number per write (every write would pay a
// shared counter).

// TrieSnapshot is a consistent read-only view of a sharded Trie (see
// Trie.Snapshot): Get, Contains and Len read its shard snapshots; the
// iterators merge them in key order as Trie's do. It must be closed. The
// zero value is not usable; a TrieSnapshot must not be copied. Its methods
// are safe for concurrent use.
type TrieSnapshot[V any] struct {
	t     *Trie[V]
	l     *trieLayout[V]
	snaps []*trie.Snapshot[V]
	pause time.Duration
}

// holdAll holds the ownership word of every shard of l, in shard order
// (holdAll in owner.go), and returns the function that releases them
// (applying, shard by shard, the writes queued meanwhile), and when the
// first word was held (writers of that shard pause from then). On error (a
// closed shard: ErrClosed; ctx ended) nothing is held.
func (l *trieLayout[V]) holdAll(ctx context.Context) (release func(), first time.Time, err error) {
	release, first, err = holdAll(ctx, len(l.shards),
		func(i int) *owner[trieOp[V]] { return &l.shards[i].own },
		func(i int) session[trieOp[V]] { return &l.shards[i] })
	return release, first, err
}

// Snapshot returns a consistent cut of t: every write that returned before
// the call is in it, no write that started after it returned is, and every
// shard's chunk of a Batch.Commit is in it whole or not at all. It holds
// every shard's word for a moment (writers pause for that long: the time
// to take the words, each after at most one bounded tenure of its shard,
// plus a trie snapshot per shard; see TrieSnapshot.Pause), copies nothing,
// and honours ctx while it waits for a word. Close the snapshot when done:
// until then each shard keeps what the snapshot reaches (see
// trie.Snapshot). Errors: ErrNotStarted, ErrClosed (a detached
// Trie), ctx's error; on error nothing is held.
func (t *Trie[V]) Snapshot(ctx context.Context) (*TrieSnapshot[V], error) {
	l := t.layout.Load() // acquire: the shards
	if l == nil {
		return nil, ErrNotStarted
	}
	if ctx == nil {
		return nil, errNilContext
	}
	release, first, err := l.holdAll(ctx)
	if err != nil {
		return nil, wrapErr("snapshot", err)
	}
	ts := &TrieSnapshot[V]{t: t, l: l, snaps: make([]*trie.Snapshot[V], len(l.shards))}
	var errs []error
	for i := range l.shards {
		s, err := l.shards[i].w.Snapshot()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts.snaps[i] = s
	}
	ts.pause = time.Since(first)
	release()
	if len(errs) > 0 {
		ts.Close()
		return nil, fmt.Errorf("shards: snapshot: %w", errors.Join(errs...))
	}
	return ts, nil
}

// Pause returns the longest writer pause the cut imposed: from the moment
// the first shard's word was held (its writers wait from then) until the
// words were released, which includes the wait for the other shards'
// words and the trie snapshots.
func (ts *TrieSnapshot[V]) Pause() time.Duration { return ts.pause }

// Close closes every shard's snapshot. Idempotent; returns nil. A shard
// gives the memory back at its next write or Reclaim (its writer role is
// its ownership word's), or at once when its word is free.
func (ts *TrieSnapshot[V]) Close() error {
	for i, s := range ts.snaps {
		if s == nil {
			continue
		}
		s.Close()
		sh := &ts.l.shards[i]
		if sh.own.tryAcquire() { // sweep now: the shard is quiet
			sh.begin()
			sh.own.serve(sh, nil)
		}
	}
	return nil
}

// Get returns the value of key in the cut and whether it is present.
func (ts *TrieSnapshot[V]) Get(key []byte) (V, bool) {
	i := ts.l.route(key)
	if i < 0 || ts.snaps[i] == nil {
		var zero V
		return zero, false
	}
	return ts.snaps[i].Get(key)
}

// Contains reports whether key is present in the cut.
func (ts *TrieSnapshot[V]) Contains(key []byte) bool {
	_, ok := ts.Get(key)
	return ok
}

// Len returns the number of keys in the cut (0 after Close).
func (ts *TrieSnapshot[V]) Len() int {
	n := 0
	for _, s := range ts.snaps {
		if s != nil {
			n += s.Len()
		}
	}
	return n
}

// All yields every key and value of the cut in ascending key order (the
// shard snapshots merged as Trie.All merges the shards). The yielded key
// is a cursor's buffer, valid until the loop body returns.
func (ts *TrieSnapshot[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { ts.t.read(ts.l, ts.snaps, readAll, nil, nil, yield) }
}

// Prefix yields the cut's keys starting with p, in order (see All).
func (ts *TrieSnapshot[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { ts.t.read(ts.l, ts.snaps, readPrefix, p, nil, yield) }
}

// Seek yields the cut's keys >= k, in order (see All).
func (ts *TrieSnapshot[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { ts.t.read(ts.l, ts.snaps, readSeek, k, nil, yield) }
}

// Range yields the cut's keys in [from, to), in order (see All); a nil to
// means no upper bound.
func (ts *TrieSnapshot[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { ts.t.read(ts.l, ts.snaps, readRange, from, to, yield) }
}
