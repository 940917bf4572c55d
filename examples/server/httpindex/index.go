// Package httpindex is the HTTP face of examples/server: an ordered string
// index (Index: a sharded trie, or one trie behind a lock) served as JSON
// over net/http, with an embedded search page. It is a package of its own so
// that examples/load can test against the real handler; run the service
// with `go run ./examples/server` (see that command's documentation for the
// API).
package httpindex

import (
	"bytes"
	"context"
	"io"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// Op is one write of a batch: a put of Value under Key, or a delete.
type Op struct {
	Delete     bool
	Key, Value string
}

// Index is what the HTTP handler serves: an ordered string map. Keys are
// validated (non-empty, at most trie.MaxKeyLen bytes) before they get here.
type Index interface {
	// Name is the backend's name, as -backend spells it.
	Name() string
	// Get returns the value stored under key.
	Get(key string) (string, bool)
	// Put stores value under key; created reports a new key.
	Put(ctx context.Context, key, value string) (created bool, err error)
	// Delete removes key; found reports whether it was there.
	Delete(ctx context.Context, key string) (found bool, err error)
	// Apply applies the writes in order, all of them: they are valid, so
	// only a stopped runtime can make it fail.
	Apply(ctx context.Context, ops []Op) error
	// Complete returns up to limit keys starting with prefix and greater
	// than after (empty: no bound), in byte order, whose JSON encodings
	// (jsonLen, plus a comma each) total at most maxBytes, and whether
	// there are more (the next page: after = the last key).
	Complete(prefix, after string, limit, maxBytes int) (keys []string, more bool)
	// Len returns the number of keys.
	Len() int
	// Stats returns one row per shard (one row for the locked backend).
	Stats() []ShardStats
	// Save writes every key and value to w as a trie.Save stream while the
	// index keeps serving reads and writes; it returns the bytes written.
	Save(ctx context.Context, w io.Writer) (int64, error)
	// Load replaces the contents with a trie.Save stream's; on an error
	// the contents are unchanged.
	Load(ctx context.Context, r io.Reader) error
}

// ShardStats is one row of the per-shard table of /stats.
type ShardStats struct {
	Shard       int     `json:"shard"`
	Keys        int     `json:"keys"`
	Writes      uint64  `json:"writes"`
	Tenures     uint64  `json:"tenures"`  // sharded: ownership tenures; locked: write-lock batches
	Combined    uint64  `json:"combined"` // sharded: writes applied by another caller's tenure
	ArenaBytes  int     `json:"arena_bytes"`
	ValueBytes  int     `json:"value_bytes"`
	BytesPerKey float64 `json:"bytes_per_key"`
}

// SeekFrom is the least key a completion of prefix after after can
// return: prefix, or after's successor (after + a zero byte) when after is
// not below prefix.
func SeekFrom(prefix, after string) []byte {
	if after == "" || after < prefix {
		return []byte(prefix)
	}
	return append([]byte(after), 0)
}

// complete collects up to limit keys of seq, their JSON encodings (and a
// comma each) totalling at most maxBytes, and whether there are more: the
// answer of /complete is bounded in bytes whatever the keys' lengths.
func complete[V any](seek func([]byte) iter.Seq2[[]byte, V], prefix, after string, limit, maxBytes int) (keys []string, more bool) {
	keys = make([]string, 0, min(limit, 64))
	used := 0
	for k := range seek(SeekFrom(prefix, after)) {
		if !bytes.HasPrefix(k, []byte(prefix)) {
			break // in order: no later key has the prefix
		}
		n := jsonLen(k) + 1
		if len(keys) == limit || used+n > maxBytes {
			more = true
			break
		}
		used += n
		keys = append(keys, string(k))
	}
	return keys, more
}

// NewSharded returns the Index over t, a trie registered with the running
// runtime rt.
func NewSharded(rt *runtime.Runtime, t *shards.Trie[string]) Index { return &sharded{rt: rt, t: t} }

// sharded serves a shards.Trie: a write is applied by the handler's own
// goroutine under the shard's ownership word (or, when another goroutine
// holds the word, by that one, before the write returns); reads are
// lock-free.
type sharded struct {
	rt *runtime.Runtime
	t  *shards.Trie[string]
}

func (s *sharded) Name() string { return "sharded" }

func (s *sharded) Get(key string) (string, bool) { return s.t.Get([]byte(key)) }

func (s *sharded) Put(ctx context.Context, key, value string) (bool, error) {
	return s.t.Insert(ctx, []byte(key), value)
}

func (s *sharded) Delete(ctx context.Context, key string) (bool, error) {
	_, found, err := s.t.Delete(ctx, []byte(key))
	return found, err
}

func (s *sharded) Apply(ctx context.Context, ops []Op) error {
	b := s.t.Batch()
	for _, o := range ops {
		if o.Delete {
			b.Delete([]byte(o.Key))
		} else {
			b.Insert([]byte(o.Key), o.Value)
		}
	}
	return b.Commit(ctx)
}

func (s *sharded) Complete(prefix, after string, limit, maxBytes int) ([]string, bool) {
	return complete(s.t.Seek, prefix, after, limit, maxBytes)
}

func (s *sharded) Len() int { return s.t.Len() }

func (s *sharded) Stats() []ShardStats {
	var out []ShardStats
	for _, st := range s.t.Stats() {
		out = append(out, ShardStats{Shard: st.Shard, Keys: st.Trie.Keys, Writes: st.Writes, Tenures: st.Tenures, Combined: st.Combined,
			ArenaBytes: st.Trie.ArenaBytes, ValueBytes: st.Trie.ValueBytes, BytesPerKey: st.Trie.BytesPerKey})
	}
	return out
}

// Save walks the shards while writes go on (shards.Trie.Save): the stream
// is not a consistent cut across concurrent writes.
func (s *sharded) Save(ctx context.Context, w io.Writer) (int64, error) {
	return s.t.Save(ctx, w, trie.StringCodec())
}

func (s *sharded) Load(ctx context.Context, r io.Reader) error {
	return s.t.Load(ctx, r, trie.StringCodec())
}

// locked serves one single-owner trie.Trie behind a sync.RWMutex: the
// comparison point for sharded (readers share the lock, a writer excludes
// everyone).
type locked struct {
	mu      sync.RWMutex
	t       *trie.Trie[string]
	writes  atomic.Uint64
	batches atomic.Uint64
}

// NewLocked returns an Index over one trie.Trie behind a sync.RWMutex.
func NewLocked() Index {
	t, err := trie.New[string](trie.Config{})
	if err != nil {
		panic("httpindex: " + err.Error()) // the default configuration is valid
	}
	return &locked{t: t}
}

func (l *locked) Name() string { return "locked" }

func (l *locked) Get(key string) (string, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Get([]byte(key))
}

func (l *locked) Put(_ context.Context, key, value string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes.Add(1)
	l.batches.Add(1)
	return l.t.Insert([]byte(key), value)
}

func (l *locked) Delete(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes.Add(1)
	l.batches.Add(1)
	_, found := l.t.Delete([]byte(key))
	return found, nil
}

func (l *locked) Apply(_ context.Context, ops []Op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes.Add(uint64(len(ops)))
	l.batches.Add(1)
	for _, o := range ops {
		if o.Delete {
			l.t.Delete([]byte(o.Key))
		} else if _, err := l.t.Insert([]byte(o.Key), o.Value); err != nil {
			return err // keys are validated: cannot happen
		}
	}
	return nil
}

func (l *locked) Complete(prefix, after string, limit, maxBytes int) ([]string, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return complete(l.t.Seek, prefix, after, limit, maxBytes)
}

func (l *locked) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.t.Len()
}

func (l *locked) Stats() []ShardStats {
	l.mu.RLock()
	st := l.t.Stats()
	l.mu.RUnlock()
	return []ShardStats{{Keys: st.Keys, Writes: l.writes.Load(), Tenures: l.batches.Load(),
		ArenaBytes: st.ArenaBytes, ValueBytes: st.ValueBytes, BytesPerKey: st.BytesPerKey}}
}

// Save freezes a copy of the trie under the read lock (writers wait for
// the copy, not for the save: a consistent cut) and writes the copy.
func (l *locked) Save(_ context.Context, w io.Writer) (int64, error) {
	l.mu.RLock()
	f := l.t.Freeze()
	l.mu.RUnlock()
	return trie.Save(w, f.All(), trie.StringCodec())
}

// Load builds the new trie without the lock and swaps it in under it.
func (l *locked) Load(_ context.Context, r io.Reader) error {
	t, err := trie.Load(r, trie.StringCodec(), trie.Config{})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.t = t
	l.mu.Unlock()
	return nil
}
