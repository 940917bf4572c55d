package shards

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// One shard of a sharded Trie and its writer session (see owner.go for
// the ownership protocol). Every method below except the statistics loads
// runs only on the holder of the shard's word.

const (
	opInsert uint8 = iota
	opDelete
	opBatch
	opReclaim
)

// trieOp is one queued write and, once done, its results.
type trieOp[V any] struct {
	kind  uint8
	ok    bool // insert: added; delete: found
	key   []byte
	v     V
	old   V
	err   error
	batch *shardOps[V] // opBatch: the shard's writes of one Commit
	end   int          // opBatch: apply batch.ops[batch.next:end] (one chunk)
}

type trieShard[V any] struct {
	own owner[trieOp[V]] // the ownership word and queue (own cache line)

	// c is the shard: one writer (the holder), lock-free readers. Load
	// replaces it, with w, while holding every shard's word.
	c atomic.Pointer[trie.Concurrent[V]] // acquire/release: the shard's trie
	w *trie.Writer[V]                    // the holder's writer session (c's writer role, held for good)

	// Statistics, written by the holder only (load, then store), read by
	// Stats from any goroutine.
	writes   primitives.Counter
	combined primitives.Counter
	tenures  primitives.Counter
}

// count adds n to a holder-only counter without a read-modify-write.
func count(c *primitives.Counter, n int) { c.Store(c.Load() + int64(n)) }

// loadU returns a counter as uint64 for ShardStats.
func loadU(c *primitives.Counter) uint64 { return uint64(c.Load()) }

// begin implements session. The shard's trie writer role is held for as
// long as the shard exists (see lockWriters): the word, not the trie,
// decides who writes, so a tenure costs no second lock.
func (s *trieShard[V]) begin() { count(&s.tenures, 1) }

// publish implements session: one publication for every write applied
// since the last.
func (s *trieShard[V]) publish() { s.w.Publish() }

// insert applies one insert (the holder); a panic becomes its error.
func (s *trieShard[V]) insert(key []byte, v V) (added bool, err error) {
	defer guardWrite(&err)
	count(&s.writes, 1)
	if applyHook != nil {
		applyHook(key)
	}
	return s.w.InsertNow(key, v) // in place, visible at once
}

// delete applies one delete (the holder); a panic becomes its error.
func (s *trieShard[V]) delete(key []byte) (old V, found bool, err error) {
	defer guardWrite(&err)
	count(&s.writes, 1)
	if applyHook != nil {
		applyHook(key)
	}
	return s.w.DeleteNow(key)
}

// apply implements session: the work of a write is 1, of a batch chunk
// its keys.
func (s *trieShard[V]) apply(op *trieOp[V]) int {
	switch op.kind {
	case opInsert:
		count(&s.combined, 1)
		op.ok, op.err = s.insert(op.key, op.v)
	case opDelete:
		count(&s.combined, 1)
		op.old, op.ok, op.err = s.delete(op.key)
	case opBatch:
		n := op.end - op.batch.next
		count(&s.combined, n)
		s.applyBatch(op.batch, op.end)
		return max(n, 1)
	case opReclaim:
		op.err = s.reclaim()
	}
	return 1
}

// reclaim hands back what the shard's readers can no longer reach,
// drops a compaction's old arena they have left, and compacts a fragmented
// arena (trie.Writer.Reclaim): it never waits, so the word is never held
// while readers are waited for (Trie.Reclaim waits between two of these).
func (s *trieShard[V]) reclaim() error { return s.w.Reclaim() }

// applyBatch applies one chunk of a shard's writes of a Commit,
// so.ops[so.next:end], in order, recording failures in so.res. A write that
// panics fails alone (ErrPanicked); the writes after it are still applied.
func (s *trieShard[V]) applyBatch(so *shardOps[V], end int) {
	count(&s.writes, end-so.next)
	for so.next < end {
		s.applyFrom(so, end)
	}
}

// applyFrom applies so's writes from so.next to end until one panics.
func (s *trieShard[V]) applyFrom(so *shardOps[V], end int) {
	defer func() {
		if pv := recover(); pv != nil {
			op := &so.ops[so.next]
			so.res.add(op.index, so.buf[op.start:op.end], panicErr(pv))
			so.next++
		}
	}()
	for ; so.next < end; so.next++ {
		op := &so.ops[so.next]
		key := so.buf[op.start:op.end]
		if applyHook != nil {
			applyHook(key)
		}
		var err error
		if op.delete {
			_, _, err = s.w.Delete(key)
		} else {
			_, err = s.w.Insert(key, op.v)
		}
		if err != nil {
			so.res.add(op.index, key, err)
		}
	}
}

// guardWrite turns a panic of the write into its error, so that the holder
// still publishes, completes what it took and releases the word.
func guardWrite(err *error) {
	if pv := recover(); pv != nil {
		*err = panicErr(pv)
	}
}

// applyHook, when set (tests only), runs before every write is applied.
var applyHook func(key []byte)

// panicErr is the error of a write that panicked with pv.
func panicErr(pv any) error { return fmt.Errorf("%w: %v", ErrPanicked, pv) }

// fail implements session.
func (s *trieShard[V]) fail(op *trieOp[V], err error) {
	op.err = err
	if op.kind == opBatch {
		op.batch.failAll(err)
	}
}

// guard implements session: a write that panicked reports it (a batch
// reports its own, see applyFrom).
func (s *trieShard[V]) guard(op *trieOp[V], pv any) { op.err = panicErr(pv) }

// The shard's owner is alone on its cache line.
var _ [0]struct{} = [unsafe.Sizeof(owner[int]{}) % uintptr(primitives.CacheLineSize)]struct{}{}
