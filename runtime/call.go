package runtime

// Call: request/reply without a channel or an allocation per call.
//
// A call travels in a pooled cell (one sync.Pool per result type T). The
// cell holds the function, the result, a reply word and a channel of
// capacity 1 made once per cell. The reply word's states:
//
//	pending -> done               the worker finished first (the caller was spinning)
//	pending -> chan -> done       the caller parks on the cell's channel; the worker sends
//	pending -> chan -> abandoned  the caller's ctx ended first; the worker recycles the cell
//	pending -> sleeping -> done   (Threads) the caller sleeps on the futex; the worker wakes it
//	pending -> sleeping -> abandoned  (likewise, seen between bounded futex sleeps)
//
// Only the caller moves pending -> sleeping/chan and sleeping/chan ->
// abandoned (CAS); only the worker moves any state -> done (Swap). So
// exactly one of them sees the other's move: the worker's Swap returns
// sleeping (it calls Wake), chan (it sends on the buffered channel, which
// never blocks: one send per call), abandoned (it owns the cell), or
// pending (the caller's CAS fails and it reads the result). The Swap is a
// release that publishes the result written before it; the caller's load
// or failed CAS of done is the matching acquire (and the channel receive
// is one too).
//
// Missed wake-up: the caller parks only in a receive from the channel
// after its CAS to chan succeeded; the worker's Swap then returns chan and
// it sends; a send before the receive stays in the buffer. The futex
// sleeper sleeps only in Futex.Wait(sleeping), which the kernel compares
// with the word atomically with going to sleep; the worker writes done
// before waking, so either the comparison fails or the caller is already
// asleep and woken.
//
// Who waits how. Goroutines mode: the caller parks on the channel at once,
// as a channel round trip would (with a context that can never end, the
// reply word is skipped altogether: see reply.direct), and the worker's send readies it on the
// worker's P (no spin: the worker's own P runs the caller as soon as the
// worker parks). Threads mode: the caller first spins (only when another
// P can run the worker); then, while fewer than GOMAXPROCS callers already
// sleep on futexes, it sleeps on the futex: the worker's wake-up is one
// futex(2) call, not a trip through the Go scheduler (a goroutine readied
// by a locked worker that then blocks in a syscall waits for sysmon to
// retake the worker's P: tens of microseconds). A cancellable context is
// checked between bounded sleeps (ctxPoll, or its deadline). Past the
// bound it parks on the channel like a Goroutines caller.
//
// Self-wait: a Call from a task to its own worker would wait forever (the
// cell would sit in the mailbox of the worker that waits). Call compares
// the target worker's goroutine with its own before it sends (self.go: a
// load and a compare) and returns ErrSelfWait; nothing is sent.
//
// Rejected designs:
//   - A new channel per call: an allocation per call.
//   - Futex sleeps for every caller: each sleeping caller holds an OS thread
//     in the kernel; thousands of concurrent Calls would mean thousands of
//     threads. And between goroutines a futex wake-up is slower than the
//     channel's.
//   - context.AfterFunc to interrupt a futex sleep on cancellation: an
//     allocation and a lock on the parent context per call; bounded sleeps
//     notice a cancellation within ctxPoll instead.
//   - Detecting a self-wait only after the reply failed to come for a
//     while (the previous design, a millisecond of futex sleep then a
//     traceback): a Goroutines caller parks on a channel with no timeout,
//     and the up-front check costs a nanosecond.

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/internal/gid"
	"github.com/zipora-go/zipora/primitives"
)

const (
	replyPending   uint32 = 0
	replyDone      uint32 = 1
	replySleeping  uint32 = 2
	replyChan      uint32 = 3
	replyAbandoned uint32 = 4
)

// callSpin is how long a Threads caller polls for its reply before it
// sleeps (a variable for tests and experiments): like DefaultSpin, long
// enough to cover a short task on a worker that is awake.
var callSpin = 20 * time.Microsecond

// selfCall is the error of a Call from a task to its own worker.
func selfCall(self *Worker) error {
	return fmt.Errorf("%w: Call from a task to its own worker %d", ErrSelfWait, self.id)
}

// ctxPoll bounds one futex sleep of a caller whose context can be
// cancelled but has no deadline: the cancellation is noticed within it.
const ctxPoll = time.Millisecond

// futexSleepers counts callers asleep on a reply futex, bounded by
// GOMAXPROCS (see above).
var futexSleepers atomic.Int32 // relaxed: an admission bound, not a correctness property

// reply is the reply word and channel of one Call or Each (see above).
type reply struct {
	state  primitives.Futex // the reply word
	ch     chan struct{}    // capacity 1; made once per cell
	direct bool             // set by the caller before sending: it waits on ch alone (see direct)
}

// reset makes r pending again for its next use.
func (r *reply) reset() {
	if r.state.Load() != replyPending { // a direct reply never left it
		r.state.Store(replyPending)
	}
	r.direct = false
}

// direct prepares r for a caller in mode with ctx: a Goroutines caller
// whose context can never end cannot abandon the reply, so it needs no
// reply word: it receives from the channel, and the completer sends,
// without a read-modify-write on either side.
func (r *reply) setDirect(ctx context.Context, mode Mode) {
	r.direct = mode == Goroutines && ctx.Done() == nil
}

// complete marks the reply done and wakes the caller the way it waits. It
// returns true when the caller abandoned the reply: the completer then
// owns the cell. The result must be written before.
func (r *reply) complete() (abandoned bool) {
	if r.direct {
		r.ch <- struct{}{} // never blocks: capacity 1, one send per call
		return false
	}
	switch r.state.Swap(replyDone) { // release: publishes the result
	case replySleeping:
		r.state.Wake(1)
	case replyChan:
		r.ch <- struct{}{} // never blocks: capacity 1, one send per call
	case replyAbandoned:
		return true
	}
	return false
}

// wait waits for the reply the way mode says (see above). It returns
// ctx.Err() if ctx ended first; the cell then belongs to the completer.
func (r *reply) wait(ctx context.Context, mode Mode) error {
	if r.direct {
		<-r.ch // acquire: the result
		return nil
	}
	if mode == Threads {
		if goruntime.GOMAXPROCS(0) > 1 && r.spin() {
			return nil
		}
		if futexSleepers.Add(1) <= int32(goruntime.GOMAXPROCS(0)) {
			err := r.sleep(ctx)
			futexSleepers.Add(-1)
			return err
		}
		futexSleepers.Add(-1)
	}
	return r.park(ctx)
}

// park waits on the channel: the goroutine parks in Go's scheduler.
func (r *reply) park(ctx context.Context) error {
	if !r.state.CompareAndSwap(replyPending, replyChan) {
		return nil // done: acquire by the failed CAS
	}
	done := ctx.Done()
	if done == nil {
		<-r.ch
		return nil
	}
	select {
	case <-r.ch:
		return nil
	case <-done:
		if r.state.CompareAndSwap(replyChan, replyAbandoned) {
			return ctx.Err()
		}
		<-r.ch // completed meanwhile; take the send
		return nil
	}
}

// spin polls for the reply for up to callSpin.
func (r *reply) spin() bool {
	deadline := time.Now().Add(callSpin)
	for {
		for range 64 {
			if r.state.Load() == replyDone { // acquire: the result
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// sleep waits on the futex until the state is done, or ctx ends (checked
// at least every ctxPoll, and at its deadline).
func (r *reply) sleep(ctx context.Context) error {
	if !r.state.CompareAndSwap(replyPending, replySleeping) {
		return nil // done
	}
	for r.state.Load() != replyDone { // acquire: the result
		timeout := time.Duration(0) // no limit
		if ctx.Done() != nil {
			if err := ctx.Err(); err != nil {
				if r.state.CompareAndSwap(replySleeping, replyAbandoned) {
					return err
				}
				return nil // done meanwhile
			}
			timeout = ctxPoll
			if d, ok := ctx.Deadline(); ok {
				timeout = max(min(timeout, time.Until(d)), time.Microsecond)
			}
		}
		_ = r.state.Wait(replySleeping, timeout) // spurious returns and timeouts re-checked
	}
	return nil
}

// callCell carries one Call. Owned by the caller until sent, then shared
// with the worker as described above.
type callCell[T any] struct {
	reply
	fn     func(*Worker) (T, error)
	caller *Worker // the calling task's worker, or nil (cycles: self.go)
	v      T
	err    error
	pool   *sync.Pool
}

// cellKey identifies the pool of callCell[T] in cellPools.
type cellKey[T any] struct{}

var cellPools sync.Map // cellKey[T]{} -> *sync.Pool of *callCell[T]

// lastCellPool caches the pool of the last result type looked up: a
// program calling with one result type skips the sync.Map lookup (a hash
// of an interface key per Call).
var lastCellPool atomic.Pointer[cellPoolEntry] // acquire/release: immutable entry

type cellPoolEntry struct {
	key  any // cellKey[T]{}: compared by type only
	pool *sync.Pool
}

func getCell[T any]() *callCell[T] {
	if e := lastCellPool.Load(); e != nil && e.key == any(cellKey[T]{}) {
		return e.pool.Get().(*callCell[T])
	}
	return getCellSlow[T]()
}

func getCellSlow[T any]() *callCell[T] {
	p, ok := cellPools.Load(cellKey[T]{})
	if !ok {
		np := &sync.Pool{}
		np.New = func() any { return &callCell[T]{reply: reply{ch: make(chan struct{}, 1)}, pool: np} }
		p, _ = cellPools.LoadOrStore(cellKey[T]{}, np)
	}
	lastCellPool.Store(&cellPoolEntry{key: cellKey[T]{}, pool: p.(*sync.Pool)}) // release
	return p.(*sync.Pool).Get().(*callCell[T])
}

// recycle clears c and returns it to its pool. Called by whoever owns c
// last: the caller after reading the result, or the worker for an
// abandoned cell.
func (c *callCell[T]) recycle() {
	var zero T
	c.fn, c.caller, c.v, c.err = nil, nil, zero, nil
	c.reset()
	c.pool.Put(c)
}

func (c *callCell[T]) run(w *Worker) {
	c.v, c.err = c.fn(w)
	if c.caller != nil {
		c.caller.waitsOn.CompareAndSwap(w, nil) // the caller no longer waits for w's tasks (self.go)
	}
	if c.complete() {
		c.recycle()
	}
}

func (c *callCell[T]) abort(_ *Worker, err error) {
	c.err = err
	if c.complete() {
		c.recycle()
	}
}

// Call runs f on worker shard and returns its result: request/reply. It
// returns an error matching ErrNoShard for a shard outside [0, Workers()),
// ErrStopped once Stop closed the runtime (f did not run), a *PanicError
// (errors.Is(err, ErrPanic)) if f panicked, and ctx.Err() if ctx ended
// first — f may then still run, and its result is dropped. Called from a
// task on worker shard, it returns an error matching ErrSelfWait, and f
// does not run (the worker cannot run f while its task waits for it); so
// does a Call from a task that would close a cycle of waits between
// workers (a task on worker 1 Calling worker 0 while worker 0's task waits
// for worker 1, through Calls or full mailboxes). f must not be nil.
func Call[T any](ctx context.Context, rt *Runtime, shard int, f func(*Worker) (T, error)) (T, error) {
	var zero T
	if f == nil {
		panic("runtime: Call with a nil function")
	}
	if uint(shard) >= uint(len(rt.workers)) {
		return zero, rt.noShard(shard)
	}
	if ctx == nil {
		return zero, errNilContext
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	w := rt.workers[shard]
	g := gid.Current()
	if w.g.Load() == g { // acquire: written by the worker goroutine
		return zero, selfCall(w)
	}
	me := rt.workerOf(g) // the calling task's worker, or nil
	if me != nil {
		if _, ok := me.waitFor(w); !ok {
			return zero, fmt.Errorf("%w: Call from a task on worker %d to worker %d, which waits for worker %d", ErrSelfWait, me.id, w.id, me.id)
		}
	}
	c := getCell[T]()
	c.fn, c.caller = f, me
	c.setDirect(ctx, rt.cfg.Mode)
	if err := w.sendContext(ctx, task{c: c}); err != nil {
		c.recycle()
		me.doneWaiting()
		return zero, err
	}
	err := c.wait(ctx, rt.cfg.Mode)
	me.doneWaiting()
	if err != nil {
		return zero, err
	}
	v, err := c.v, c.err
	c.recycle()
	return v, err
}

// doneWaiting clears w's waitsOn edge (see self.go); w may be nil.
func (w *Worker) doneWaiting() {
	if w != nil {
		w.waitsOn.Store(nil)
	}
}
