package shards

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/zipora-go/zipora/internal/merge"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/structures/trie"
)

// The sharded trie.
//
// Invariants and who may call what:
//   - key k lives in shard router.Route(k), and only there;
//   - shard i is written only by tasks on worker i (Insert, Delete and
//     Batch send their writes there through the runtime); any goroutine
//     reads any shard directly, lock-free, because each shard is a
//     one-writer/multi-reader trie;
//   - a write returns once applied on its owner: the owner's publication of
//     the change happens-before the task's completion, which happens-before
//     Insert/Delete/Commit returns (runtime.Call), so the writer's own later
//     Get sees it.
//
// Rejected: a lock per shard (readers would contend with the owner);
// routing reads through the owner too (a round trip per Get, ~µs, for what
// a lock-free read does in tens of ns).

// ShardTrie is what one shard of a sharded Trie must provide: an ordered map
// safe for one writer (the owner worker) concurrent with any number of
// lock-free readers. *trie.Concurrent at OneWriteMultiRead is the default.
type ShardTrie[V any] interface {
	Insert(key []byte, v V) (bool, error)
	Get(key []byte) (V, bool)
	Contains(key []byte) bool
	Delete(key []byte) (V, bool, error)
	Len() int
	All() iter.Seq2[[]byte, V]
	Prefix(p []byte) iter.Seq2[[]byte, V]
	Seek(k []byte) iter.Seq2[[]byte, V]
	Stats() trie.Stats
}

// TrieOption configures a sharded Trie.
type TrieOption func(*trieConfig)

type trieConfig struct {
	router   Router
	newShard func() (any, error)
	trieOpts []trie.Option
}

// WithRouter sets the key router (default: a HashRouter).
func WithRouter(r Router) TrieOption { return func(c *trieConfig) { c.router = r } }

// WithTrieOptions passes options to every shard's trie (a pool
// configuration, WithoutValues).
func WithTrieOptions(opts ...trie.Option) TrieOption {
	return func(c *trieConfig) { c.trieOpts = append(c.trieOpts, opts...) }
}

// WithShards replaces the shard implementation: newShard is called once per
// worker at Attach. It exists for benchmark peers and tests; the default is
// the one-writer/multi-reader concurrent trie.
func WithShards[V any](newShard func() (ShardTrie[V], error)) TrieOption {
	return func(c *trieConfig) { c.newShard = func() (any, error) { return newShard() } }
}

// Trie is an ordered map from byte strings to values, sharded over the
// workers of a runtime: shard i is owned by worker i. Writes are routed to
// the owner and return once applied; reads (Get, Contains, the iterators)
// read the owner's shard directly and lock-free, from any goroutine.
//
// Create one with NewTrie and pass it to runtime.Start. Writes before Start
// return ErrNotStarted, after Stop an error matching runtime.ErrStopped;
// reads keep working on the final contents after Stop. The zero value is
// not usable; a Trie must not be copied. All methods are safe for concurrent
// use. Insert, Delete and Batch.Commit wait for the owning worker: do not
// call them from a task running on a worker of the same runtime (the task
// would wait for its own worker when the key is its shard's); hand such
// writes to a goroutine (Runtime.Go) instead.
type Trie[V any] struct {
	cfg    trieConfig
	hash   *HashRouter                     // cfg.router when it is a HashRouter: routed without an interface call
	rt     atomic.Pointer[runtime.Runtime] // release: shards are built before it is set
	shards []trieShard[V]
}

type trieShard[V any] struct {
	t        ShardTrie[V]
	c        *trie.Concurrent[V] // t itself when it is the default shard: reads skip the interface call
	messages atomic.Uint64       // relaxed: write messages applied (statistics)
	writes   atomic.Uint64       // relaxed: writes applied (statistics)
	_        [primitives.CacheLineSize]byte
}

// NewTrie returns a sharded trie to register with runtime.Start.
func NewTrie[V any](opts ...TrieOption) *Trie[V] {
	t := &Trie[V]{}
	for _, o := range opts {
		o(&t.cfg)
	}
	if t.cfg.router == nil {
		t.cfg.router = &HashRouter{}
	}
	t.hash, _ = t.cfg.router.(*HashRouter)
	return t
}

// Attach implements runtime.Structure: it initializes the router for the
// worker count and creates one shard per worker.
func (t *Trie[V]) Attach(rt *runtime.Runtime, shards int) error {
	if t.rt.Load() != nil {
		return errors.New("shards: trie already attached to a runtime")
	}
	if err := t.cfg.router.Init(shards); err != nil {
		return err
	}
	t.shards = make([]trieShard[V], shards)
	for i := range t.shards {
		s, err := t.newShard()
		if err != nil {
			return fmt.Errorf("shards: shard %d: %w", i, err)
		}
		t.shards[i].t = s
		t.shards[i].c, _ = s.(*trie.Concurrent[V])
	}
	t.rt.Store(rt)
	return nil
}

func (t *Trie[V]) newShard() (ShardTrie[V], error) {
	if t.cfg.newShard != nil {
		s, err := t.cfg.newShard()
		if err != nil {
			return nil, err
		}
		st, ok := s.(ShardTrie[V])
		if !ok {
			return nil, fmt.Errorf("shards: WithShards built a %T, not a ShardTrie of this value type", s)
		}
		return st, nil
	}
	return newDefaultShard[V](t.cfg.trieOpts)
}

// Detach implements runtime.Structure. Later writes fail with
// runtime.ErrStopped (the runtime refuses them); reads go on.
func (t *Trie[V]) Detach() {}

func (t *Trie[V]) runtime() (*runtime.Runtime, error) {
	rt := t.rt.Load()
	if rt == nil {
		return nil, ErrNotStarted
	}
	return rt, nil
}

// ownKey copies key when ctx can end before the owner runs the write (the
// caller may then reuse its buffer while the task still holds it).
func ownKey(ctx context.Context, key []byte) []byte {
	if ctx.Done() != nil {
		return bytes.Clone(key)
	}
	return key
}

// Insert stores v under key on the key's owner and returns once it is
// applied. added reports whether the key is new. Errors: ErrNotStarted,
// runtime.ErrStopped, ctx's error (the write may still be applied later),
// and the shard's (trie.ErrKeyTooLong, pool exhaustion).
func (t *Trie[V]) Insert(ctx context.Context, key []byte, v V) (added bool, err error) {
	rt, err := t.runtime()
	if err != nil {
		return false, err
	}
	shard := t.route(key)
	key = ownKey(ctx, key)
	return runtime.Call(ctx, rt, shard, func(w *runtime.Worker) (bool, error) {
		s := &t.shards[shard]
		s.messages.Add(1)
		s.writes.Add(1)
		return s.t.Insert(key, v)
	})
}

// deleted carries Delete's two results through runtime.Call.
type deleted[V any] struct {
	old   V
	found bool
}

// Delete removes key on its owner and returns the old value once applied.
func (t *Trie[V]) Delete(ctx context.Context, key []byte) (old V, found bool, err error) {
	rt, err := t.runtime()
	if err != nil {
		return old, false, err
	}
	shard := t.route(key)
	key = ownKey(ctx, key)
	d, err := runtime.Call(ctx, rt, shard, func(w *runtime.Worker) (deleted[V], error) {
		s := &t.shards[shard]
		s.messages.Add(1)
		s.writes.Add(1)
		o, f, err := s.t.Delete(key)
		return deleted[V]{o, f}, err
	})
	return d.old, d.found, err
}

// route returns the shard of key.
func (t *Trie[V]) route(key []byte) int {
	if h := t.hash; h != nil {
		return h.Route(key)
	}
	return t.cfg.router.Route(key)
}

// shardOf returns the shard of key for a read, or nil before Start.
func (t *Trie[V]) shardOf(key []byte) *trieShard[V] {
	if t.rt.Load() == nil { // acquire: the shards built by Attach
		return nil
	}
	return &t.shards[t.route(key)]
}

// Get returns the value stored under key, reading the owner's shard
// directly (lock-free). Before Start it finds nothing.
func (t *Trie[V]) Get(key []byte) (V, bool) {
	s := t.shardOf(key)
	switch {
	case s == nil:
		var zero V
		return zero, false
	case s.c != nil:
		return s.c.Get(key)
	}
	return s.t.Get(key)
}

// Contains reports whether key is present (lock-free).
func (t *Trie[V]) Contains(key []byte) bool {
	s := t.shardOf(key)
	switch {
	case s == nil:
		return false
	case s.c != nil:
		return s.c.Contains(key)
	}
	return s.t.Contains(key)
}

// Len returns the number of keys: the sum of the shards' counts, each read
// at a slightly different moment while writes go on.
func (t *Trie[V]) Len() int {
	if t.rt.Load() == nil {
		return 0
	}
	n := 0
	for i := range t.shards {
		n += t.shards[i].t.Len()
	}
	return n
}

// All yields every key and value in ascending key order, merging the
// shards' ordered iterators (or visiting them in turn under an ordered
// router). Each shard's iteration follows its own semantics under
// concurrent writes (a snapshot per shard for the default shards); the
// yielded key is valid until the next iteration step.
func (t *Trie[V]) All() iter.Seq2[[]byte, V] {
	return t.scan(0, -1, func(s ShardTrie[V]) iter.Seq2[[]byte, V] { return s.All() })
}

// Prefix yields the keys starting with p, in order.
func (t *Trie[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	first, last := 0, -1
	if rr, ok := t.cfg.router.(*RangeRouter); ok && rr.Ordered() {
		first, last = rr.ShardsFor(p)
	}
	return t.scan(first, last, func(s ShardTrie[V]) iter.Seq2[[]byte, V] { return s.Prefix(p) })
}

// Seek yields the keys >= k, in order.
func (t *Trie[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	first := 0
	if t.cfg.router.Ordered() && t.rt.Load() != nil {
		first = t.cfg.router.Route(k)
	}
	return t.scan(first, -1, func(s ShardTrie[V]) iter.Seq2[[]byte, V] { return s.Seek(k) })
}

// scan combines the per-shard iterators of shards first..last (last < 0:
// to the end): concatenated under an ordered router, merged otherwise.
func (t *Trie[V]) scan(first, last int, of func(ShardTrie[V]) iter.Seq2[[]byte, V]) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) {
		if t.rt.Load() == nil {
			return
		}
		if last < 0 || last >= len(t.shards) {
			last = len(t.shards) - 1
		}
		if t.cfg.router.Ordered() {
			for i := first; i <= last; i++ {
				for k, v := range of(t.shards[i].t) {
					if !yield(k, v) {
						return
					}
				}
			}
			return
		}
		streams := make([]iter.Seq2[[]byte, V], 0, last-first+1)
		for i := first; i <= last; i++ {
			streams = append(streams, of(t.shards[i].t))
		}
		merge.Seq2(streams)(yield)
	}
}

// ShardStats describes one shard.
type ShardStats struct {
	Shard    int
	Trie     trie.Stats
	Messages uint64 // write messages applied on the owner (one per Insert/Delete, one per shard per Batch)
	Writes   uint64 // writes applied
}

// Stats returns every shard's statistics (read lock-free; the runtime's
// per-worker statistics give mailbox lengths and parks).
func (t *Trie[V]) Stats() []ShardStats {
	if t.rt.Load() == nil {
		return nil
	}
	out := make([]ShardStats, len(t.shards))
	for i := range t.shards {
		s := &t.shards[i]
		out[i] = ShardStats{Shard: i, Trie: s.t.Stats(), Messages: s.messages.Load(), Writes: s.writes.Load()}
	}
	return out
}

// Batch collects writes to apply with one message per shard. Keys are
// copied into one buffer per shard (no allocation per write). A Batch is
// not safe for concurrent use; it is empty again, and reusable, once Commit
// returns.
type Batch[V any] struct {
	t   *Trie[V]
	ops []shardOps[V] // per shard (one list before Start; routed at Commit)
	n   int
}

// shardOps holds one shard's writes: keys concatenated in buf.
type shardOps[V any] struct {
	buf []byte
	ops []batchOp[V]
}

type batchOp[V any] struct {
	index      int // position in the batch, for error reports
	start, end int // the key is buf[start:end]
	v          V
	delete     bool
}

func (so *shardOps[V]) add(op batchOp[V], key []byte) {
	op.start = len(so.buf)
	so.buf = append(so.buf, key...)
	op.end = len(so.buf)
	so.ops = append(so.ops, op)
}

// Batch returns an empty batch for t.
func (t *Trie[V]) Batch() *Batch[V] { return &Batch[V]{t: t} }

// Len returns the number of writes collected.
func (b *Batch[V]) Len() int { return b.n }

// Insert adds an insert of key → v. The key is copied.
func (b *Batch[V]) Insert(key []byte, v V) { b.add(batchOp[V]{v: v}, key) }

// Delete adds a delete of key. The key is copied.
func (b *Batch[V]) Delete(key []byte) { b.add(batchOp[V]{delete: true}, key) }

func (b *Batch[V]) add(op batchOp[V], key []byte) {
	op.index = b.n
	b.n++
	if b.t.rt.Load() == nil {
		// Routing needs the shard count: collect in one list, route at Commit.
		if len(b.ops) == 0 {
			b.ops = make([]shardOps[V], 1)
		}
		b.ops[0].add(op, key)
		return
	}
	if len(b.ops) != len(b.t.shards) {
		b.reroute()
	}
	b.ops[b.t.route(key)].add(op, key)
}

// reroute redistributes writes collected before Start over the shards.
func (b *Batch[V]) reroute() {
	old := b.ops
	b.ops = make([]shardOps[V], len(b.t.shards))
	for _, so := range old {
		for _, op := range so.ops {
			key := so.buf[op.start:op.end]
			b.ops[b.t.route(key)].add(op, key)
		}
	}
}

// WriteError reports one write of a batch that failed.
type WriteError struct {
	Index int    // the write's position in the batch (0-based)
	Key   []byte // its key
	Err   error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("shards: batch write %d (key %q): %v", e.Index, e.Key, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// shardResult is what one shard's message reports back to Commit.
type shardResult struct {
	errs []error
	done atomic.Bool // release: errs is written
}

// Commit sends each shard its writes in one message, waits until every
// shard has applied them, and empties the batch. Writes to one shard are
// applied in the order they were added. The error joins a *WriteError for
// every write that failed (errors.As finds them; errors.Is matches their
// causes): a write the shard rejected, every write of a shard whose message
// the runtime refused (runtime.ErrStopped: not applied), and every write of
// a shard still pending when ctx ended (ctx's error: it may still be
// applied).
func (b *Batch[V]) Commit(ctx context.Context) error {
	defer b.reset()
	rt, err := b.t.runtime()
	if err != nil {
		return err
	}
	if len(b.ops) != len(b.t.shards) {
		b.reroute()
	}
	results := make([]shardResult, len(b.ops))
	var remaining atomic.Int64
	done := make(chan struct{})
	finish := func(r *shardResult) {
		r.done.Store(true)
		if remaining.Add(-1) == 0 {
			close(done)
		}
	}
	remaining.Store(1) // held by this function until every message is sent
	for shard := range b.ops {
		so := &b.ops[shard]
		if len(so.ops) == 0 {
			continue
		}
		r := &results[shard]
		remaining.Add(1)
		err := rt.SubmitTo(shard, func(w *runtime.Worker) {
			r.errs = b.t.apply(shard, so)
			finish(r)
		})
		if err != nil {
			r.errs = so.fail(err)
			finish(r)
		}
	}
	if remaining.Add(-1) != 0 {
		select {
		case <-done:
		case <-ctx.Done():
			// Pending shards still own their buffers: do not reuse them.
			var all []error
			for shard := range results {
				r := &results[shard]
				if r.done.Load() {
					all = append(all, r.errs...)
				} else if so := &b.ops[shard]; len(so.ops) > 0 {
					all = append(all, so.fail(ctx.Err())...)
				}
			}
			b.ops = nil
			return errors.Join(all...)
		}
	}
	var all []error
	for i := range results {
		all = append(all, results[i].errs...)
	}
	return errors.Join(all...)
}

// fail reports every write of so as failed with err.
func (so *shardOps[V]) fail(err error) []error {
	errs := make([]error, 0, len(so.ops))
	for _, op := range so.ops {
		errs = append(errs, &WriteError{op.index, bytes.Clone(so.buf[op.start:op.end]), err})
	}
	return errs
}

// apply runs on the owner of shard: the batch's writes in order. A
// concurrent-trie shard applies them under one writer, so readers see the
// whole batch at once (one publication, not one per write).
func (t *Trie[V]) apply(shard int, so *shardOps[V]) []error {
	s := &t.shards[shard]
	s.messages.Add(1)
	s.writes.Add(uint64(len(so.ops)))
	var errs []error
	run := func(ins func([]byte, V) (bool, error), del func([]byte) (V, bool, error)) {
		for _, op := range so.ops {
			key := so.buf[op.start:op.end]
			var err error
			if op.delete {
				_, _, err = del(key)
			} else {
				_, err = ins(key, op.v)
			}
			if err != nil {
				errs = append(errs, &WriteError{op.index, bytes.Clone(key), err})
			}
		}
	}
	if c, ok := s.t.(*trie.Concurrent[V]); ok {
		// The owner is the only writer: the token is never contended.
		if err := c.WithWriter(context.Background(), func(w *trie.Writer[V]) error {
			run(w.Insert, w.Delete)
			return nil
		}); err != nil {
			return so.fail(err)
		}
		return errs
	}
	run(s.t.Insert, s.t.Delete)
	return errs
}

func (b *Batch[V]) reset() {
	for i := range b.ops {
		so := &b.ops[i]
		clear(so.ops) // drop references to values
		so.ops, so.buf = so.ops[:0], so.buf[:0]
	}
	b.n = 0
}
