package shards

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"strings"
)

// Batch collects writes to apply with one request per shard. Keys are
// copied into one buffer per shard (no allocation per write). A Batch is
// not safe for concurrent use; it is empty again, and reusable, once Commit
// returns.
type Batch[V any] struct {
	t      *Trie[V]
	layout *trieLayout[V]      // the layout ops are routed for (nil: one unrouted list)
	ops    []shardOps[V]       // per shard
	req    *request[trieOp[V]] // the one request a Commit queues at a time, reused
	n      int
}

// shardOps holds one shard's writes: keys concatenated in buf.
type shardOps[V any] struct {
	buf  []byte
	ops  []batchOp[V]
	next int         // the holder's progress through ops
	res  batchResult // failures
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

// failAll reports every write of so not yet applied as failed with err.
func (so *shardOps[V]) failAll(err error) {
	for ; so.next < len(so.ops); so.next++ {
		op := &so.ops[so.next]
		so.res.add(op.index, so.buf[op.start:op.end], err)
	}
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
	if l := b.t.layout.Load(); l != b.layout || b.ops == nil {
		b.reroute(l)
	}
	if b.layout == nil {
		// Routing needs the shard count: collect in one list, route at Commit.
		b.ops[0].add(op, key)
		return
	}
	i := b.layout.route(key)
	if i < 0 {
		i = 0 // a custom router out of range: Commit refuses the batch
		b.ops[0].res.add(op.index, key, fmt.Errorf("%w: shard out of range", ErrRouter))
		return
	}
	b.ops[i].add(op, key)
}

// reroute redistributes the writes collected so far over l's shards.
func (b *Batch[V]) reroute(l *trieLayout[V]) {
	old := b.ops
	n := 1
	if l != nil {
		n = len(l.shards)
	}
	b.layout = l
	b.ops = make([]shardOps[V], n)
	for _, so := range old {
		b.ops[0].res.merge(&so.res)
		for _, op := range so.ops {
			key := so.buf[op.start:op.end]
			i := 0
			if l != nil {
				if i = l.route(key); i < 0 {
					b.ops[0].res.add(op.index, key, fmt.Errorf("%w: shard out of range", ErrRouter))
					continue
				}
			}
			b.ops[i].add(op, key)
		}
	}
}

// maxChunk bounds the writes of one shard a Commit applies in one piece:
// between two chunks the shard's word is released or handed on, so the
// writes queued on the shard by others get in, and a huge batch holds a
// shard for one chunk's work at a time.
const maxChunk = 512

// Commit applies the batch and empties it. Each shard's writes are applied
// in the order they were added, in chunks of at most 512 writes, each chunk
// by this goroutine when the shard is free, else by the shard's current
// holder, and published to readers at once. Atomicity: a chunk is
// published as one step (a reader sees none or all of it, in the order
// added); a shard's writes are applied chunk after chunk, and other
// callers' writes to that shard may be applied between two chunks; shards
// are independent (a reader may see one shard's writes before another's).
// Shards are visited from a rotating start, so concurrent Commits spread
// over the shards, and a held shard is skipped while another shard with
// writes of the batch is free: Commit queues a chunk for a holder only
// when every shard it has writes left for is held (after a short spin).
// It waits on one shard at a time and holds at most one shard's word,
// never while it waits on another.
//
// ctx is checked before each chunk and while a chunk waits to be taken:
// the writes not started when ctx ends are not applied and fail with ctx's
// error; a chunk once taken by a holder is applied. Commit returns once
// every write is applied or failed. The error, when any write failed, is a
// *BatchError: it counts the failures, reports the first few (errors.As
// finds their *WriteError, errors.Is matches their causes:
// ErrClosed, trie.ErrKeyTooLong, ctx's error, ErrPanicked), and
// its Indices and All methods give every failed write. Before Start,
// Commit returns ErrNotStarted and keeps nothing.
func (b *Batch[V]) Commit(ctx context.Context) error {
	defer b.reset()
	if ctx == nil {
		return errNilContext
	}
	l := b.t.layout.Load()
	if l == nil {
		return ErrNotStarted
	}
	if l != b.layout {
		b.reroute(l)
	}
	n := len(b.ops)
	start := int(b.t.turn.Add(1)) % n
	for spins := 0; ; {
		// Apply every chunk whose shard is free, skipping held shards; when
		// all that is left is on held shards, look again (a spin, then
		// yields: a holder's tenure is bounded) before queueing on one.
		// Two Commits that meet on a shard would otherwise run one after
		// the other, one goroutine idle while the other applies both.
		moved, first := false, -1
		for k := range n {
			i := (start + k) % n
			so := &b.ops[i]
			for so.next < len(so.ops) && b.step(ctx, &l.shards[i], so, false) {
				moved = true
			}
			if first < 0 && so.next < len(so.ops) {
				first = i
			}
		}
		switch {
		case first < 0:
			return b.result()
		case moved:
			spins = 0
		case spins < spinChecks:
			spins++
		case spins < spinChecks+yieldChecks:
			spins++
			runtime.Gosched()
		default:
			spins = 0
			b.step(ctx, &l.shards[first], &b.ops[first], true)
		}
	}
}

// step applies so's next chunk (at most maxChunk writes) to shard s: at
// once when s's word is free; when it is held, and wait, by queueing the
// chunk for the holder (or taking the word over); when it is held and not
// wait, it does nothing and returns false. Once ctx has ended, it fails
// every write of so not yet applied instead.
func (b *Batch[V]) step(ctx context.Context, s *trieShard[V], so *shardOps[V], wait bool) bool {
	if !wait && s.own.word.Load() != ownFree {
		return false // (a load: the word's line is contended)
	}
	if err := ctx.Err(); err != nil {
		so.failAll(err)
		return true
	}
	end := min(so.next+maxChunk, len(so.ops))
	if s.own.tryAcquire() {
		s.begin()
		s.applyBatch(so, end)
		s.own.pass(s)
		return true
	}
	if !wait {
		return false
	}
	r := b.req
	if r == nil {
		r = newRequest[trieOp[V]]()
		b.req = r
	}
	r.op = trieOp[V]{kind: opBatch, batch: so, end: end}
	s.own.push(r, ctx.Done() != nil)
	if err := s.own.wait(ctx, s, r); err != nil {
		b.req = nil // cancelled before it was taken: never applied, and r is not ours to reuse
		so.failAll(err)
		return true
	}
	r.op = trieOp[V]{}
	return true
}

// result gathers the shards' failures into one error: bounded text, the
// complete list in the value.
func (b *Batch[V]) result() error {
	var all batchResult
	for i := range b.ops {
		all.merge(&b.ops[i].res)
	}
	if all.failed() == 0 {
		return nil
	}
	slices.SortFunc(all.first, func(x, y *WriteError) int { return x.Index - y.Index })
	slices.SortFunc(all.all, func(x, y failure) int { return x.index - y.index })
	return &BatchError{Total: b.n, Failed: all.failed(), Errors: all.first, all: all.all}
}

func (b *Batch[V]) reset() {
	for i := range b.ops {
		so := &b.ops[i]
		clear(so.ops) // drop references to values
		so.ops, so.buf, so.next = so.ops[:0], so.buf[:0], 0
		so.res = batchResult{}
	}
	b.n = 0
}

// maxReported is how many failed writes a BatchError reports one by one
// (with their keys' first bytes).
const maxReported = 8

// batchResult records every failure, and keeps the first maxReported as
// WriteErrors.
type batchResult struct {
	all   []failure
	first []*WriteError
}

// failure is one failed write: its index in the batch and its cause.
type failure struct {
	index int
	err   error
}

func (r *batchResult) failed() int { return len(r.all) }

func (r *batchResult) add(index int, key []byte, err error) {
	r.all = append(r.all, failure{index, err})
	if len(r.first) < maxReported {
		r.first = append(r.first, &WriteError{Index: index, Key: clip(key), KeyLen: len(key), Err: err})
	}
}

func (r *batchResult) merge(o *batchResult) {
	r.all = append(r.all, o.all...)
	r.first = append(r.first, o.first...)
	if len(r.first) > maxReported {
		slices.SortFunc(r.first, func(x, y *WriteError) int { return x.Index - y.Index })
		r.first = r.first[:maxReported]
	}
}

// maxQuoted is how many key bytes an error message quotes.
const maxQuoted = 64

// clip copies the first maxQuoted bytes of key for an error report, and
// keeps the key's length.
func clip(key []byte) []byte {
	k := make([]byte, min(len(key), maxQuoted))
	copy(k, key)
	return k
}

// quote renders a key clipped to maxQuoted bytes for a message, with the
// key's full length n when it was clipped.
func quote(key []byte, n int) string {
	if n > len(key) || len(key) > maxQuoted {
		return fmt.Sprintf("%q… (%d bytes)", key[:min(len(key), maxQuoted)], n)
	}
	return fmt.Sprintf("%q", key)
}

// WriteError reports one write of a batch that failed (it was not
// applied). Its text quotes Err without this package's prefix: the
// BatchError that holds it carries the prefix.
type WriteError struct {
	Index  int    // the write's position in the batch (0-based)
	Key    []byte // the key's first 64 bytes at most
	KeyLen int    // the key's length
	Err    error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("write %d (key %s): %v", e.Index, quote(e.Key, e.KeyLen), unprefixed(e.Err))
}

func (e *WriteError) Unwrap() error { return e.Err }

// ErrPanicked is matched (errors.Is) by the error of a write whose
// application panicked; the shard stays usable.
var ErrPanicked = errors.New("shards: write panicked")

// BatchError is Commit's error: Failed of Total writes failed and were not
// applied, every other write was applied. Errors holds the first failures
// in batch order (at most 8, with their keys' first bytes); Indices and All
// give every one of them, so a caller can retry or reconcile exactly the
// writes that failed. Its text is bounded: it quotes at most three.
type BatchError struct {
	Total, Failed int
	Errors        []*WriteError
	all           []failure // every failure, in batch order
}

// Indices returns the batch index (0-based, in the order the writes were
// added) of every failed write, ascending: Failed of them.
func (e *BatchError) Indices() []int {
	out := make([]int, len(e.all))
	for i, f := range e.all {
		out[i] = f.index
	}
	return out
}

// All yields the batch index and the cause of every failed write, in batch
// order.
func (e *BatchError) All() iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		for _, f := range e.all {
			if !yield(f.index, f.err) {
				return
			}
		}
	}
}

func (e *BatchError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "shards: batch: %d of %d writes failed (the other %d applied)", e.Failed, e.Total, e.Total-e.Failed)
	for i, we := range e.Errors {
		if i == 3 {
			break
		}
		sb.WriteString("; ")
		sb.WriteString(we.Error())
	}
	if more := e.Failed - min(len(e.Errors), 3); more > 0 {
		fmt.Fprintf(&sb, "; and %d more", more)
	}
	return sb.String()
}

// Unwrap returns the reported failures (errors.As and errors.Is look at
// each).
func (e *BatchError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, we := range e.Errors {
		out[i] = we
	}
	return out
}
