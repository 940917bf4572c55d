package runtime

// Call: request/reply without a channel or an allocation per call.
//
// A call travels in a pooled cell (one sync.Pool per result type T). The
// cell holds the function, the result, and a reply word (a futex) with
// these states:
//
//	pending -> done               the worker finished first (caller spinning)
//	pending -> sleeping -> done   the caller sleeps on the futex; the worker wakes it
//	pending -> chan -> done       the caller waits on the cell's channel; the worker sends
//	pending -> chan -> abandoned  the caller's ctx ended first; the worker recycles the cell
//	pending -> sleeping -> abandoned  (likewise, seen between bounded futex sleeps)
//	pending/sleeping -> cancelled  the caller is the target worker itself (self-wait):
//	                               the worker skips the function and recycles the cell
//
// Only the caller moves pending -> sleeping/chan, sleeping/chan ->
// abandoned and pending/sleeping -> cancelled (CAS); only the worker moves any state -> done (Swap). So exactly one of
// them sees the other's move: the worker's Swap returns sleeping (it calls
// Wake), chan (it sends on the buffered channel, which never blocks: one
// send per call), abandoned (it owns the cell), or pending (the caller's
// CAS fails and it reads the result). The Swap is a release that publishes
// the result written before it; the caller's load or failed CAS of done is
// the matching acquire.
//
// Missed wake-up: the caller sleeps only in Futex.Wait(sleeping), which the
// kernel compares with the word atomically with going to sleep; the worker
// writes done before waking, so either the comparison fails or the caller is
// already asleep and woken.
//
// Self-wait: a Call from a task to its own worker would wait forever (the
// cell sits in the mailbox of the worker that is waiting). A caller whose
// reply has not come after selfCheckAfter of futex sleep (or that is about
// to wait on the channel) checks whether it is the target worker
// (self.go); if so it moves sleeping (pending) -> cancelled and returns
// ErrSelfWait. No race: only that worker could move the state, and it is
// the caller. The check costs nothing on replies that come within a
// millisecond, one atomic load when the worker is parked, a short
// traceback otherwise; a self-wait is reported after a millisecond.
//
// Who waits how: the caller first spins (only when another P can run the
// worker). Then, while fewer than GOMAXPROCS callers already sleep on
// futexes, it sleeps on the futex: the worker's wake-up is one futex(2)
// call, not a trip through the Go scheduler (a goroutine readied by a
// locked worker that then blocks in a syscall waits for sysmon to retake
// the worker's P: tens of microseconds). A cancellable context is checked
// between bounded sleeps (ctxPoll, or its deadline); the caller abandons
// the cell with sleeping -> abandoned. Past the bound it waits on the
// channel, which parks only the goroutine (any number of callers, ctx
// through select).
//
// Rejected designs:
//   - A new channel per call: an allocation, and a wake-up through the
//     scheduler every time.
//   - Futex sleeps for every caller: each sleeping caller holds an OS thread
//     in the kernel; thousands of concurrent Calls would mean thousands of
//     threads.
//   - context.AfterFunc to interrupt a futex sleep on cancellation: an
//     allocation and a lock on the parent context per call; bounded sleeps
//     notice a cancellation within ctxPoll instead.

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

const (
	replyPending   uint32 = 0
	replyDone      uint32 = 1
	replySleeping  uint32 = 2
	replyChan      uint32 = 3
	replyAbandoned uint32 = 4
	replyCancelled uint32 = 5
)

// callSpin is how long a caller polls for its reply before it sleeps (a
// variable for tests and experiments): like DefaultSpin, long enough to
// cover a short task on a worker that is awake.
var callSpin = 20 * time.Microsecond

// selfCheckAfter is how long a Call sleeps before it checks whether it
// waits for its own worker (see Self-wait above).
const selfCheckAfter = time.Millisecond

// selfCall is the error of a Call from a task to its own worker.
func selfCall(self *Worker) error {
	return fmt.Errorf("runtime: Call from a task to its own worker %d: %w", self.id, ErrSelfWait)
}

// ctxPoll bounds one futex sleep of a caller whose context can be
// cancelled but has no deadline: the cancellation is noticed within it.
const ctxPoll = time.Millisecond

// futexSleepers counts callers asleep on a reply futex, bounded by
// GOMAXPROCS (see above).
var futexSleepers atomic.Int32 // relaxed: an admission bound, not a correctness property

// reply is the reply word and channel of one Call or Each (see above).
type reply struct {
	state primitives.Futex // the reply word
	ch    chan struct{}    // capacity 1; made once per cell
}

// complete marks the reply done and wakes the caller the way it waits. It
// returns true when the caller abandoned the reply: the completer then
// owns the cell. The result must be written before.
func (r *reply) complete() (abandoned bool) {
	switch r.state.Swap(replyDone) { // release: publishes the result
	case replySleeping:
		r.state.Wake(1)
	case replyChan:
		r.ch <- struct{}{} // never blocks: capacity 1, one send per call
	case replyAbandoned, replyCancelled:
		return true
	}
	return false
}

// wait waits for the reply. It returns ctx.Err() if ctx ended first (the
// cell then belongs to the completer), and ErrSelfWait (wrapped) if the
// caller is self, the worker that must complete the reply (the cell then
// belongs to it, and its function must not run). self may be nil.
func (r *reply) wait(ctx context.Context, self *Worker) error {
	if goruntime.GOMAXPROCS(0) > 1 && r.spin() {
		return nil
	}
	if futexSleepers.Add(1) <= int32(goruntime.GOMAXPROCS(0)) {
		err := r.sleep(ctx, self)
		futexSleepers.Add(-1)
		return err
	}
	futexSleepers.Add(-1)
	if self != nil && self.isCurrent() && r.state.CompareAndSwap(replyPending, replyCancelled) {
		return selfCall(self)
	}
	if !r.state.CompareAndSwap(replyPending, replyChan) {
		return nil // done: acquire by the failed CAS
	}
	select {
	case <-r.ch:
		return nil
	case <-ctx.Done():
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
func (r *reply) sleep(ctx context.Context, self *Worker) error {
	if !r.state.CompareAndSwap(replyPending, replySleeping) {
		return nil // done
	}
	var selfCheck time.Time // when to check for a self-wait; zero: checked
	if self != nil {
		selfCheck = time.Now().Add(selfCheckAfter)
	}
	for r.state.Load() != replyDone { // acquire: the result
		timeout := time.Duration(0) // no limit
		if !selfCheck.IsZero() {
			if time.Now().After(selfCheck) {
				selfCheck = time.Time{}
				if self.isCurrent() && r.state.CompareAndSwap(replySleeping, replyCancelled) {
					return selfCall(self)
				}
				continue
			}
			timeout = selfCheckAfter
		}
		if ctx.Done() != nil {
			if err := ctx.Err(); err != nil {
				if r.state.CompareAndSwap(replySleeping, replyAbandoned) {
					return err
				}
				return nil // done meanwhile
			}
			if timeout == 0 || ctxPoll < timeout {
				timeout = ctxPoll
			}
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
	fn   func(*Worker) (T, error)
	v    T
	err  error
	pool *sync.Pool
}

// cellKey identifies the pool of callCell[T] in cellPools.
type cellKey[T any] struct{}

var cellPools sync.Map // cellKey[T]{} -> *sync.Pool of *callCell[T]

func getCell[T any]() *callCell[T] {
	p, ok := cellPools.Load(cellKey[T]{})
	if !ok {
		np := &sync.Pool{}
		np.New = func() any { return &callCell[T]{reply: reply{ch: make(chan struct{}, 1)}, pool: np} }
		p, _ = cellPools.LoadOrStore(cellKey[T]{}, np)
	}
	return p.(*sync.Pool).Get().(*callCell[T])
}

// recycle clears c and returns it to its pool. Called by whoever owns c
// last: the caller after reading the result, or the worker for an
// abandoned cell.
func (c *callCell[T]) recycle() {
	var zero T
	c.fn, c.v, c.err = nil, zero, nil
	c.state.Store(replyPending)
	c.pool.Put(c)
}

func (c *callCell[T]) run(w *Worker) {
	if c.state.Load() == replyCancelled { // acquire: the caller gave the cell up
		c.recycle()
		return
	}
	c.v, c.err = c.fn(w)
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
// does not run (the worker cannot run f while its task waits for it). f
// must not be nil.
func Call[T any](ctx context.Context, rt *Runtime, shard int, f func(*Worker) (T, error)) (T, error) {
	var zero T
	if f == nil {
		panic("runtime: Call with a nil function")
	}
	if uint(shard) >= uint(len(rt.workers)) {
		return zero, rt.noShard(shard)
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c := getCell[T]()
	c.fn = f
	w := rt.workers[shard]
	if err := w.sendContext(ctx, task{c: c}); err != nil {
		c.recycle()
		return zero, err
	}
	if err := c.wait(ctx, w); err != nil {
		return zero, err
	}
	v, err := c.v, c.err
	c.recycle()
	return v, err
}
