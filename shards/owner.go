package shards

// Write ownership of one structure shard: a word, not a thread.
//
// A shard (one trie, one pool) is changed only by its owner: the goroutine
// that holds the shard's ownership word. Any goroutine — a caller outside
// the runtime, a task on any worker — becomes the owner by winning a CAS on
// a free word, applies its own write at once, then drains the writes other
// callers queued meanwhile, publishes once and releases the word. A caller
// that finds the word held queues its write on the shard's lock-free stack
// and waits for its acknowledgement: a bounded spin, then runtime.Gosched,
// then a park on its request's channel (a Go-native wait: the scheduler
// runs it again on any free P). The owner it waits for is a running
// goroutine doing a bounded amount of work, never a parked worker thread,
// so no write waits for a thread wake-up, and no write can deadlock, even
// from a task on the shard's own worker.
//
// Words and who may touch what:
//   - word: ownFree, ownHeld or ownClosed. ownFree→ownHeld by CAS (any
//     caller); ownHeld→ownFree by the holder only; ownFree→ownClosed by
//     close (Detach), ownClosed→ownFree by open (Attach). The shard's data
//     and its session are touched only by the holder.
//   - queue: a Treiber stack of requests, newest first. Any caller pushes
//     (CAS); anyone drains it whole with Swap(nil): the holder to apply,
//     anyone who sees ownClosed to fail what it took.
//   - request.state: reqWaiting → reqParked by the waiter only (CAS);
//     → reqDone or reqOwner by whoever took the request off the queue
//     (Swap). The Swap that completes a request happens after its results
//     are written and the shard published (release), and the waiter reads
//     them after loading reqDone (acquire).
//
// Invariants:
//   - A request taken off the queue by a holder is applied exactly once and
//     completed after the publication that makes it visible, so a write
//     returns once applied and visible to every later read.
//   - A request taken off the queue by a closer is failed (never applied).
//   - A tenure is bounded: after maxRounds drain rounds the holder hands the
//     word, still held, to the oldest queued request (reqOwner); its caller
//     continues the tenure. No caller serves others forever.
//
// Missed wake-up argument (every queued request is taken off eventually):
// Go's atomics are sequentially consistent. A pusher pushes, then loads the
// word; a holder releases (store ownFree), then loads the queue. In the
// total order of these four operations either the pusher's load comes after
// the release — it sees ownFree (or a later holder, who drains after its
// CAS, or ownClosed, and then fails the queue itself) — or the holder's load
// comes after the push and sees the request, and the holder tries to take
// the word back to drain it; if that CAS fails, another holder won it after
// the push and drains before it releases. A close takes the word and then
// drains the queue; a push after that drain sees ownClosed and fails the
// queue itself. A parked waiter cannot miss its completion: it parks only
// by CAS reqWaiting→reqParked, and the completer's Swap sees reqParked and
// sends on the request's buffered channel.
//
// Rejected designs: applying writes on the owning worker (the previous
// design: every write waited for a futex-parked, thread-locked worker and a
// free P — 0.004× a mutex-protected trie); a combiner whose leader hands the
// drained writes to the worker (the wake-up stays on the path); a
// sync.Mutex per shard (no combining: every contended writer pays its own
// publication and hand-off); the worker holding the word while awake (a
// caller would wait for whatever task the worker runs, and two tasks
// writing to each other's shards would deadlock).

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
)

const (
	ownFree   uint32 = iota // nobody owns the shard
	ownHeld                 // a goroutine is applying writes
	ownClosed               // detached: writes are refused
)

const (
	reqWaiting uint32 = iota // queued, its caller spinning
	reqParked                // queued, its caller blocked on wake
	reqDone                  // applied (or failed) and published
	reqOwner                 // the word was handed to its caller
)

// maxRounds bounds one tenure: drain rounds before the word is handed on.
const maxRounds = 16

// spinChecks and yieldChecks bound a waiter's busy phases before it parks.
const (
	spinChecks  = 128
	yieldChecks = 16
)

// session is what a tenure does to one shard; only the holder calls it.
type session[R any] interface {
	begin()                // the word was just taken
	apply(op *R)           // apply one queued operation, storing its results in op
	publish()              // make every applied operation visible to readers (before the word is released or handed on)
	fail(op *R, err error) // report err for an operation never applied
	guard(op *R, pv any)   // apply panicked with pv: report it in op
}

// request is one queued operation.
type request[R any] struct {
	next  *request[R]   // queue or tenure list link; written before the push (release by the CAS)
	state atomic.Uint32 // acquire/release: reqWaiting, reqParked, reqDone, reqOwner
	wake  chan struct{} // buffered 1: the completion of a parked waiter
	op    R
}

func newRequest[R any]() *request[R] { return &request[R]{wake: make(chan struct{}, 1)} }

// owner is one shard's ownership word and queue, alone on a cache line.
type owner[R any] struct {
	queue atomic.Pointer[request[R]] // seq-cst: queued requests, newest first
	word  atomic.Uint32              // seq-cst: ownFree, ownHeld, ownClosed
	_     [primitives.CacheLineSize - int(unsafe.Sizeof(atomic.Pointer[int]{})+unsafe.Sizeof(atomic.Uint32{}))]byte
}

// tryAcquire takes a free word. Inlinable fast path.
func (o *owner[R]) tryAcquire() bool { return o.word.CompareAndSwap(ownFree, ownHeld) }

// push queues r.
func (o *owner[R]) push(r *request[R]) {
	r.state.Store(reqWaiting)
	for {
		h := o.queue.Load()
		r.next = h
		if o.queue.CompareAndSwap(h, r) { // release: r's operation and link
			return
		}
	}
}

// takeAll empties the queue and returns it oldest first. An empty queue
// costs a load, not a read-modify-write (the common case of every write).
func (o *owner[R]) takeAll() *request[R] {
	if o.queue.Load() == nil {
		return nil
	}
	var fifo *request[R]
	for r := o.queue.Swap(nil); r != nil; { // acquire: the pushed requests
		next := r.next
		r.next = fifo
		fifo = r
		r = next
	}
	return fifo
}

// serve runs a tenure. The caller holds the word and has called s.begin;
// list (oldest first, possibly nil) is applied first. On return the word
// is released or handed on, and every request taken is completed.
func (o *owner[R]) serve(s session[R], list *request[R]) {
	for round := 1; ; round++ {
		for r := list; r != nil; r = r.next {
			applyGuarded(s, &r.op)
		}
		s.publish()
		complete(list)
		list = o.takeAll()
		if list == nil {
			if list = o.release(s); list == nil {
				return
			}
			continue
		}
		if round >= maxRounds {
			handOn(list) // the word stays held: list's head continues the tenure
			return
		}
	}
}

// release gives the word back, then takes it again when requests were
// queued meanwhile (the missed wake-up check); it returns them (the word
// held, s begun) or nil (the word released or held by another).
func (o *owner[R]) release(s session[R]) *request[R] {
	o.word.Store(ownFree) // release: the tenure's writes, published
	for o.queue.Load() != nil {
		if !o.tryAcquire() {
			if o.word.Load() == ownClosed {
				o.failAll(s)
			}
			return nil // another holder drains after its CAS
		}
		s.begin()
		if list := o.takeAll(); list != nil {
			return list
		}
		o.word.Store(ownFree)
	}
	return nil
}

// handOn passes the held word to the caller of list's head, which takes
// the tenure over with the whole list (not yet applied).
func handOn[R any](list *request[R]) {
	if list.state.Swap(reqOwner) == reqParked { // release: the word and the list
		list.wake <- struct{}{}
	}
}

// complete finishes every request of list: applied (or failed) and
// published.
func complete[R any](list *request[R]) {
	for r := list; r != nil; {
		next := r.next                          // read before completion: the waiter may reuse r at once
		if r.state.Swap(reqDone) == reqParked { // release: results, published
			r.wake <- struct{}{}
		}
		r = next
	}
}

// applyGuarded applies op, turning a panic into op's error.
func applyGuarded[R any](s session[R], op *R) {
	defer func() {
		if pv := recover(); pv != nil {
			s.guard(op, pv)
		}
	}()
	s.apply(op)
}

// wait blocks until r (pushed by the caller) is done, taking the word when
// it is free or handed over. It never waits for a parked thread: only for a
// running holder's bounded tenure.
func (o *owner[R]) wait(s session[R], r *request[R]) {
	for i := 0; ; i++ {
		switch r.state.Load() { // acquire: results, or the handed-on word
		case reqDone:
			return
		case reqOwner:
			s.begin()
			o.serve(s, r)
			continue
		}
		switch o.word.Load() {
		case ownFree:
			if o.tryAcquire() {
				s.begin()
				o.serve(s, o.takeAll())
				continue
			}
		case ownClosed:
			o.failAll(s)
			continue
		}
		switch {
		case i < spinChecks:
		case i < spinChecks+yieldChecks:
			runtime.Gosched()
		default:
			if r.state.CompareAndSwap(reqWaiting, reqParked) {
				<-r.wake
			}
		}
	}
}

// failAll fails every queued request with ErrStopped-like err from s.fail.
// Called by anyone who saw ownClosed.
func (o *owner[R]) failAll(s session[R]) {
	list := o.takeAll()
	for r := list; r != nil; r = r.next {
		s.fail(&r.op, errClosed)
	}
	complete(list)
}

// close refuses new writes: it waits for the current tenure (bounded) to
// end, closes the word and fails what is queued. Idempotent.
func (o *owner[R]) close(s session[R]) {
	for {
		w := o.word.Load()
		if w == ownClosed || w == ownFree && o.word.CompareAndSwap(ownFree, ownClosed) {
			break
		}
		runtime.Gosched()
	}
	o.failAll(s)
}

// open accepts writes again after close.
func (o *owner[R]) open() { o.word.CompareAndSwap(ownClosed, ownFree) }
