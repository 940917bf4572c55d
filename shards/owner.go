package shards

// Write ownership of one structure shard: a word, not a thread.
//
// A shard (one trie, one pool) is changed only by its owner: the goroutine
// that holds the shard's ownership word. Any goroutine — a caller outside
// the runtime, a task on any worker — becomes the owner by winning a CAS on
// a free word, applies its own write at once, then drains the writes other
// callers queued meanwhile, publishes and releases the word. A caller that
// finds the word held queues its write on the shard's lock-free stack and
// waits for its acknowledgement: a bounded spin, then runtime.Gosched, then
// a park on its request's channel (a Go-native wait: the scheduler runs it
// again on any free P). The owner it waits for is a running goroutine doing
// a bounded amount of work, never a parked worker thread, so no write waits
// for a thread wake-up, and no write can deadlock, even from a task on the
// shard's own worker.
//
// Words and who may touch what:
//   - word: ownFree, ownHeld, ownClosing (held, close requested), ownClosed
//     or ownDraining (closed, one goroutine failing the queue).
//     ownFree→ownHeld by CAS (any caller); ownHeld→ownFree by the holder
//     only (CAS: it fails when a close was requested); ownHeld→ownClosing
//     by close; ownClosing→ownClosed by the holder (which fails what it
//     took and what is queued); ownFree→ownClosed by close;
//     ownClosed⇄ownDraining by whoever drains the queue of a closed shard;
//     ownClosed→ownFree by open (Attach). The shard's data and its session
//     are touched only by the holder.
//   - queue: a Treiber stack of requests, newest first. Any caller pushes
//     (CAS); a holder (ownHeld or ownClosing) or the drainer (ownDraining)
//     empties it whole with Swap(nil) — nobody else, so a request pushed
//     after a shard reopens is never failed by a goroutine that saw it
//     closed before.
//   - request.state: the waiter moves reqWaiting→reqParked (it blocks) and
//     reqTaken→reqTakenParked, and reqWaiting or reqParked→reqCancelled
//     (its ctx ended first); the taker claims reqWaiting→reqTaken or
//     reqParked→reqTakenParked by CAS (a cancelled request is dropped,
//     never applied; a request whose ctx cannot end, cancellable false,
//     needs no claim and stays reqWaiting or reqParked until completed);
//     the completer swaps a taken request to reqDone or
//     reqOwner after its results are written and the shard published
//     (release), and the waiter reads them after loading reqDone (acquire).
//
// Invariants:
//   - A request taken off the queue by a holder is applied exactly once (or
//     failed with ErrClosed when a close is requested before it is reached)
//     and completed after the publication that makes it visible, so a
//     write returns once applied and visible to every later read.
//   - A request whose caller's ctx ends before it is taken is never
//     applied; once taken, its caller waits for it whatever its ctx.
//   - A tenure is bounded by work, not only by rounds: after maxRounds
//     drain rounds or maxTenureWork units of work (a write is 1, a batch
//     chunk its keys, at most maxChunk), the holder hands the word, still
//     held, with the requests it took but did not apply, to the oldest of
//     them (reqOwner); its caller continues the tenure.
//   - A Commit that took a free word for one of its chunks applies that
//     chunk only: then it passes the word, with what was queued meanwhile,
//     to the oldest waiter (pass: handOn), whose caller applies its own
//     write and the rest, so two producers committing to the same shards
//     both keep working; single writes combine (serve) as before.
//   - Closing is bounded: close marks a held word ownClosing; the holder
//     loads the word every closeCheck (32) work units (the word's line is
//     contended: not before every write), so it stops within 32 writes or
//     one chunk, fails the rest and closes the word. A closing word refuses
//     new tenures (the CAS from ownFree fails) and new requests (they are
//     failed). Stop waits for at most that much work per shard, whatever
//     the write load.
//   - No request waits on a shard it did not write to. Every caller has at
//     most one request outstanding at any moment (Batch.Commit visits its
//     shards one after the other, one chunk at a time) and holds at most
//     one word (it releases or hands on the word of a shard before it
//     touches the next). So the word handed to a waiter goes to a goroutine
//     that waits on that very shard and nothing else, and serves it at
//     once; a holder's tenure touches only its shard. The holder a request
//     waits for therefore never waits itself, except for the scheduler.
//   - The one exception is holdAll (Trie.Snapshot, Trie.Load): it takes
//     every word, one at a time in index order, each with hold — a request
//     the holder that reaches it answers by publishing and handing the word
//     over — and keeps them until it releases them all. While it waits for
//     word i it holds words 0..i-1, but the holder of word i is a writer
//     (which holds no other word and never waits while holding it: see
//     above), whose tenure is bounded, or another holdAll caller, which
//     took its words in the same order and so never waits for a word this
//     one holds. The writes queued behind a hold wait for the release (the
//     hold's caller then serves them, as a tenure).
//
// Missed wake-up argument (every queued request is taken off eventually):
// Go's atomics are sequentially consistent. A pusher pushes, then loads the
// word; a holder releases (CAS to ownFree), then loads the queue. In the
// total order of these four operations either the pusher's load comes after
// the release — it sees ownFree (or a later holder, who drains after its
// CAS, or ownClosed, and then drains the queue itself) — or the holder's
// load comes after the push and sees the request, and the holder tries to
// take the word back to drain it; if that CAS fails, another holder won it
// after the push and drains before it releases. The same argument holds
// for the drainer of a closed shard, which stores ownClosed and then loads
// the queue again. A parked waiter cannot miss its completion: it parks
// only by CAS to reqParked or reqTakenParked, and the completer's Swap
// sees that and sends on the request's buffered channel; a waiter whose
// ctx ends while parked cancels by CAS reqParked→reqCancelled, and when
// that fails it was taken and its completion's send will come.
//
// Rejected designs: a Commit applying the writes queued behind its chunk
// (combining, as single writes do): a producer committing to two shards
// spent its time on the other producer's chunk while that one sat parked,
// and 2 producers on 2 shards used 1.3 of 2 CPUs (ascending keys 0.67x
// one locked trie); applying writes on the owning worker (the previous
// design: every write waited for a futex-parked, thread-locked worker and a
// free P — 0.004× a mutex-protected trie); a combiner whose leader hands the
// drained writes to the worker (the wake-up stays on the path); a
// sync.Mutex per shard (no combining: every contended writer pays its own
// publication and hand-off); the worker holding the word while awake (a
// caller would wait for whatever task the worker runs, and two tasks
// writing to each other's shards would deadlock); a Commit that queues on
// every shard at once and then waits for each in turn (a tenure handed to
// its request on shard 1 sat with it while it waited on shard 0, so an
// Insert on shard 1 waited for shard 0's holder); close waiting for the
// word to be free (under writers that never pause the word goes from
// tenure to tenure and is never free: Stop spun without bound); a waiter
// that saw ownClosed failing the queue without taking the word (after a
// reopen it failed requests pushed to the open shard).

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
)

const (
	ownFree     uint32 = iota // nobody owns the shard
	ownHeld                   // a goroutine is applying writes
	ownClosing                // held, and a close waits for the holder to stop
	ownClosed                 // detached: writes are refused
	ownDraining               // closed, and one goroutine fails the queue
)

const (
	reqWaiting     uint32 = iota // queued, its caller spinning
	reqParked                    // queued, its caller blocked on wake
	reqTaken                     // taken off the queue, its caller spinning
	reqTakenParked               // taken off the queue, its caller blocked on wake
	reqDone                      // applied (or failed) and published
	reqOwner                     // the word was handed to its caller
	reqCancelled                 // its caller's ctx ended before it was taken
)

// maxRounds bounds one tenure in drain rounds, maxTenureWork in work units
// (a write is 1, a batch chunk its keys): then the word is handed on.
const (
	maxRounds     = 16
	maxTenureWork = 4 * maxChunk
)

// closeCheck is how many work units a holder applies between two loads of
// its word (a close waits for at most that much, or one chunk).
const closeCheck = 32

// spinChecks and yieldChecks bound a waiter's busy phases before it parks.
const (
	spinChecks  = 128
	yieldChecks = 16
)

// session is what a tenure does to one shard; only the holder calls it.
type session[R any] interface {
	begin()                // the word was just taken
	apply(op *R) int       // apply one queued operation, storing its results in op; returns its work units (>= 1)
	publish()              // make every applied operation visible to readers (before the word is released or handed on)
	fail(op *R, err error) // report err for an operation never applied
	guard(op *R, pv any)   // apply panicked with pv: report it in op
}

// request is one queued operation.
type request[R any] struct {
	next  *request[R]   // queue or tenure list link; written before the push (release by the CAS)
	state atomic.Uint32 // acquire/release: reqWaiting … reqCancelled
	// cancellable: the caller's ctx can end, so takers claim the request
	// by CAS; otherwise it cannot be cancelled and is taken without one
	// (written before the push).
	cancellable bool
	// hold: the caller wants the word itself (hold), not an operation
	// applied: a holder that reaches it hands the word on to it (written
	// before the push).
	hold bool
	wake chan struct{} // buffered 1: the completion of a parked waiter
	op   R
}

func newRequest[R any]() *request[R] { return &request[R]{wake: make(chan struct{}, 1)} }

// owner is one shard's ownership word and queue, alone on a cache line.
type owner[R any] struct {
	queue atomic.Pointer[request[R]] // seq-cst: queued requests, newest first
	word  atomic.Uint32              // seq-cst: ownFree … ownDraining
	_     [primitives.CacheLineSize - int(unsafe.Sizeof(atomic.Pointer[int]{})+unsafe.Sizeof(atomic.Uint32{}))]byte
}

// tryAcquire takes a free word. Inlinable fast path.
func (o *owner[R]) tryAcquire() bool { return o.word.CompareAndSwap(ownFree, ownHeld) }

// push queues r; cancellable says whether the caller's ctx can end while
// it waits (ctx.Done() != nil).
func (o *owner[R]) push(r *request[R], cancellable bool) {
	r.cancellable = cancellable
	r.state.Store(reqWaiting)
	for {
		h := o.queue.Load()
		r.next = h
		if o.queue.CompareAndSwap(h, r) { // release: r's operation and link
			return
		}
	}
}

// takeAll empties the queue and returns its requests oldest first, each
// claimed (a request cancelled by its caller is dropped). Only a holder or
// the drainer calls it. An empty queue costs a load, not a read-modify-write
// (the common case of every write).
func (o *owner[R]) takeAll() *request[R] {
	if o.queue.Load() == nil {
		return nil
	}
	var fifo *request[R]
	for r := o.queue.Swap(nil); r != nil; { // acquire: the pushed requests
		next := r.next // read before the claim: a cancelled r is its caller's again
		if claim(r) {
			r.next = fifo
			fifo = r
		}
		r = next
	}
	return fifo
}

// claim takes r for applying (or failing); false when its caller cancelled
// it first. A request that cannot be cancelled needs no claim: its state
// stays reqWaiting or reqParked until its completion.
func claim[R any](r *request[R]) bool {
	if !r.cancellable {
		return true
	}
	for {
		switch r.state.Load() {
		case reqWaiting:
			if r.state.CompareAndSwap(reqWaiting, reqTaken) {
				return true
			}
		case reqParked:
			if r.state.CompareAndSwap(reqParked, reqTakenParked) {
				return true
			}
		default: // reqCancelled
			return false
		}
	}
}

// serve runs a tenure. The caller holds the word and has called s.begin;
// list (oldest first, claimed, possibly nil) is applied first. On return
// the word is released, handed on or closed, and every request taken is
// completed (or handed on with the word).
func (o *owner[R]) serve(s session[R], list *request[R]) { o.tenure(s, list, maxRounds) }

// pass ends the tenure of a holder that applied its own work and has its
// own to go back to (a Commit's next chunk): it publishes, then hands the
// word, still held, with the requests queued meanwhile to the oldest of
// them (its caller applies them, its own first), instead of applying them
// itself while their callers sit idle; with nothing queued it releases the
// word. It is a tenure of one round that applies nothing.
func (o *owner[R]) pass(s session[R]) { o.tenure(s, nil, 1) }

// tenure is serve with at most rounds drain rounds before the word is
// handed on.
func (o *owner[R]) tenure(s session[R], list *request[R], rounds int) {
	work, check := 0, 0
	for round := 1; ; round++ {
		r := list
		for ; r != nil && work < maxTenureWork && !r.hold; r = r.next {
			if work >= check { // a close waits? (not on every write: the word's line is contended)
				if o.word.Load() != ownHeld {
					break
				}
				check = work + closeCheck
			}
			work += applyGuarded(s, &r.op)
		}
		s.publish()
		completeUntil(list, r)
		list = r // taken, not applied
		if o.word.Load() == ownClosing {
			o.shut(s, list)
			return
		}
		if list != nil && list.hold {
			handOn(list) // the word stays held: its caller holds it (hold)
			return
		}
		if list == nil {
			if list = o.takeAll(); list == nil {
				if list = o.release(s); list == nil {
					return
				}
			}
		}
		if round >= rounds || work >= maxTenureWork {
			handOn(list) // the word stays held: list's head continues the tenure
			return
		}
	}
}

// release gives the word back, then takes it again when requests were
// queued meanwhile (the missed wake-up check); it returns them (the word
// held, s begun) or nil (the word released, closed, or held by another).
func (o *owner[R]) release(s session[R]) *request[R] {
	if !o.word.CompareAndSwap(ownHeld, ownFree) { // release: the tenure's writes, published
		o.shut(s, nil) // a close waits
		return nil
	}
	for o.queue.Load() != nil {
		if !o.tryAcquire() {
			if o.word.Load() == ownClosed {
				o.drainClosed(s)
			}
			return nil // another holder drains after its CAS
		}
		s.begin()
		if list := o.takeAll(); list != nil {
			return list
		}
		if !o.word.CompareAndSwap(ownHeld, ownFree) {
			o.shut(s, nil)
			return nil
		}
	}
	return nil
}

// shut ends a tenure whose word a close marked ownClosing: it fails list
// (taken, not applied) and everything queued, closes the word and drains
// what was pushed meanwhile.
func (o *owner[R]) shut(s session[R], list *request[R]) {
	failList(s, list)
	failList(s, o.takeAll())
	o.word.Store(ownClosed) // release: the tenure's writes, published
	o.drainClosed(s)
}

// drainClosed fails what is queued on a closed word, taking the drainer's
// role (ownDraining) to do so; it returns at once when the word is not
// closed (a reopened shard's holder drains) or another goroutine drains
// (it loads the queue again after it stores ownClosed).
func (o *owner[R]) drainClosed(s session[R]) {
	for o.queue.Load() != nil {
		if !o.word.CompareAndSwap(ownClosed, ownDraining) {
			return
		}
		list := o.takeAll()
		o.word.Store(ownClosed)
		failList(s, list)
	}
}

// failList fails and completes every request of list (taken, not applied).
func failList[R any](s session[R], list *request[R]) {
	for r := list; r != nil; r = r.next {
		s.fail(&r.op, ErrClosed)
	}
	completeUntil(list, nil)
}

// handOn passes the held word to the caller of list's head, which takes
// the tenure over with the whole list (taken, not yet applied).
func handOn[R any](list *request[R]) {
	if parked(list.state.Swap(reqOwner)) { // release: the word and the list
		list.wake <- struct{}{}
	}
}

// completeUntil finishes every request of list before end: applied (or
// failed) and published.
func completeUntil[R any](list, end *request[R]) {
	for r := list; r != end; {
		next := r.next                     // read before completion: the waiter may reuse r at once
		if parked(r.state.Swap(reqDone)) { // release: results, published
			r.wake <- struct{}{}
		}
		r = next
	}
}

// parked reports whether a request's state before its completion says its
// caller is blocked on wake.
func parked(st uint32) bool { return st == reqParked || st == reqTakenParked }

// applyGuarded applies op, turning a panic into op's error; it returns the
// operation's work units.
func applyGuarded[R any](s session[R], op *R) (work int) {
	defer func() {
		if pv := recover(); pv != nil {
			s.guard(op, pv)
			work = 1
		}
	}()
	return s.apply(op)
}

// wait blocks until r (pushed by the caller) is done, taking the word when
// it is free or handed over. It never waits for a parked thread: only for a
// running holder's bounded tenure. When ctx ends before r is taken, r is
// cancelled (never applied; the caller must not reuse it) and ctx's error
// returned; once r is taken, wait returns nil after r is done, whatever
// ctx.
func (o *owner[R]) wait(ctx context.Context, s session[R], r *request[R]) error {
	_, err := o.waitFor(ctx, s, r)
	return err
}

// waitFor is wait, and hold's wait for the word (r.hold): it then returns
// with the word held and the requests that came with it (pending), or
// ErrClosed when the word was closed first.
func (o *owner[R]) waitFor(ctx context.Context, s session[R], r *request[R]) (pending *request[R], err error) {
	done := ctx.Done()
	for i := 0; ; i++ {
		switch r.state.Load() { // acquire: results, or the handed-on word
		case reqDone:
			if r.hold {
				return nil, ErrClosed // failed by a close
			}
			return nil, nil
		case reqOwner:
			s.begin()
			if r.hold {
				return r.next, nil
			}
			o.serve(s, r)
			continue
		}
		switch o.word.Load() {
		case ownFree:
			if o.tryAcquire() {
				s.begin()
				if r.hold {
					return o.takeOwn(r), nil
				}
				o.serve(s, o.takeAll())
				continue
			}
		case ownClosed:
			o.drainClosed(s)
			continue
		}
		if done != nil {
			select {
			case <-done:
				if r.state.CompareAndSwap(reqWaiting, reqCancelled) {
					return nil, ctx.Err()
				}
				done = nil // taken: it completes after a bounded piece of work
			default:
			}
		}
		switch {
		case i < spinChecks:
		case i < spinChecks+yieldChecks:
			runtime.Gosched()
		default:
			if err := o.park(ctx, r, done); err != nil {
				return nil, err
			}
		}
	}
}

// park blocks r's caller until r's completion, or until done closes while
// r is still queued (r is then cancelled and ctx's error returned).
func (o *owner[R]) park(ctx context.Context, r *request[R], done <-chan struct{}) error {
	if !r.state.CompareAndSwap(reqWaiting, reqParked) && !r.state.CompareAndSwap(reqTaken, reqTakenParked) {
		return nil // completed meanwhile
	}
	select {
	case <-r.wake:
	case <-done:
		if r.state.CompareAndSwap(reqParked, reqCancelled) {
			return ctx.Err()
		}
		<-r.wake // taken: its completion's send comes after a bounded piece of work
	}
	return nil
}

// close refuses new writes and returns once no write is being applied:
// a held word is marked ownClosing and its holder stops after the request
// in hand (bounded, whatever the write load), fails the rest and closes
// the word; queued requests are failed. Idempotent.
func (o *owner[R]) close(s session[R]) {
	for {
		switch o.word.Load() {
		case ownFree:
			if o.word.CompareAndSwap(ownFree, ownClosed) {
				o.drainClosed(s)
				return
			}
		case ownHeld:
			o.word.CompareAndSwap(ownHeld, ownClosing)
		case ownClosed:
			o.drainClosed(s)
			return
		default: // ownClosing, ownDraining: the holder or drainer is at most one request from done
			runtime.Gosched()
		}
	}
}

// open accepts writes again after close; it waits for a drainer (a few
// requests' failure) to put the word back to ownClosed.
func (o *owner[R]) open() {
	for {
		switch o.word.Load() {
		case ownClosed:
			if o.word.CompareAndSwap(ownClosed, ownFree) {
				return
			}
		case ownDraining:
			runtime.Gosched()
		default:
			return // not closed
		}
	}
}

// hold takes the word for the caller itself, for as long as it likes (a
// cut across shards: see holdAll): at once when it is free, else through
// the queue like a write (r, fresh or reused, is its request), so that
// under writers that never pause the word still comes to it after the
// holders before it finish their bounded tenures. It returns the requests
// that were taken with the word but not applied (pending: the caller hands
// them to unhold). It fails with ErrClosed on a closed word, and with ctx's
// error when ctx ends before its request is taken (the word is then not
// held); once taken, the word comes whatever ctx, as a write is applied.
//
// Holding a word while waiting for another breaks the rule that a holder
// never waits; it stays deadlock-free because only hold waits while
// holding, every caller of hold takes words in one global order (shard
// index: holdAll), and ordinary holders never wait for anything.
func (o *owner[R]) hold(ctx context.Context, s session[R], r *request[R]) (pending *request[R], err error) {
	if o.tryAcquire() {
		s.begin()
		return nil, nil
	}
	r.hold = true
	o.push(r, ctx.Done() != nil)
	return o.waitFor(ctx, s, r)
}

// takeOwn empties the queue after the caller of hold took a free word
// while its own request r was queued: r is dropped (a taken r is the
// caller's; a queued one is cancelled so that no holder hands it the word
// later), the rest returned oldest first.
func (o *owner[R]) takeOwn(r *request[R]) *request[R] {
	r.state.CompareAndSwap(reqWaiting, reqCancelled) // a cancellable r not taken yet
	r.state.CompareAndSwap(reqParked, reqCancelled)
	list := o.takeAll()
	var head, tail *request[R]
	for q := list; q != nil; {
		next := q.next
		if q != r {
			if q.next = nil; tail == nil {
				head = q
			} else {
				tail.next = q
			}
			tail = q
		}
		q = next
	}
	return head
}

// unhold ends a hold: it applies the requests that came with the word
// (pending), publishes and releases (or hands on) the word, as a tenure
// does.
func (o *owner[R]) unhold(s session[R], pending *request[R]) { o.serve(s, pending) }

// holdAll holds the words of shards 0..n-1 (own and ses name shard i's
// word and session), taken one at a time in index order with hold, so
// that two holdAll callers cannot deadlock, and a writer, which holds at
// most one word and never waits while holding it, cannot block one for
// longer than its tenure. It returns release, which ends every hold
// (highest shard first: each applies the writes queued behind the hold),
// and when word 0 was taken (writers pause from then); or the first error
// (ctx's, ErrClosed, wrapped with the shard) after ending the holds it
// took. While every word is held no write is applied anywhere; reads go
// on.
func holdAll[R any](ctx context.Context, n int, own func(i int) *owner[R], ses func(i int) session[R]) (release func(), first time.Time, err error) {
	rest := make([]*request[R], 0, n)
	release = func() {
		for i := len(rest) - 1; i >= 0; i-- {
			own(i).unhold(ses(i), rest[i])
		}
	}
	for i := range n {
		list, err := own(i).hold(ctx, ses(i), newRequest[R]())
		if err != nil {
			release()
			return nil, first, fmt.Errorf("shard %d: %w", i, unprefixed(err))
		}
		if i == 0 {
			first = time.Now()
		}
		rest = append(rest, list)
	}
	return release, first, nil
}
