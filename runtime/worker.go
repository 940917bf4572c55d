package runtime

// The worker loop.
//
// Invariants and who may call what:
//   - A worker's goroutine is the only receiver of its mailbox, and the only
//     goroutine that runs its tasks, so tasks on worker i run one at a time,
//     in mailbox order, and may use state owned by worker i without
//     synchronization.
//   - Fields under "owner only" are read and written by the worker's
//     goroutine only (tasks on it included: AfterBatch). The statistics
//     atomics are written by the owner (plain Store of an owner-local
//     running total, once every busySample batches and at exit) and read
//     by Stats from any goroutine.
//   - A Goroutines worker is an ordinary goroutine: its mailbox parks it in
//     Go's scheduler (primitives.GoParker) and a submission readies it on
//     the submitter's P. A Threads worker's goroutine locks its OS thread
//     first and never unlocks it (a pinned thread's narrowed CPU mask must
//     never reach the Go scheduler's thread pool, so the thread is
//     discarded when the worker exits); its mailbox parks it on a futex.
//
// Panics: runFrom runs tasks from index i under one deferred recover; a
// panic ends that call with next = the panicking task's index, which is
// reported and skipped, and runBatch calls runFrom again for the rest. One
// defer per batch (plus one per panic), never one per task.
//
// runtime.Goexit in a task (or an AfterBatch callback) cannot be stopped:
// it ends the goroutine after running its defers. runFrom's deferred
// function sees it (no panic value, but the loop did not finish), reports
// it like a panic (a *PanicError whose Value is ErrGoexit; the Call or
// Each waiting for the task gets it), and hands the worker over to a new
// goroutine (resume): it locks and pins a new thread (Threads), registers itself as
// the worker's goroutine, finishes the batch (or the callbacks) from the
// next task, and serves the mailbox. The owner-only fields pass from the
// old goroutine to the new one through the go statement, after which the
// old goroutine touches none of them (it only unwinds: unregister,
// wg.Done). Stop reports the Goexits (the first one and a count). A Goexit
// in OnWorkerStart fails Start; in OnWorkerStop, the remaining stop hooks
// run on a new goroutine.
//
// Rejected designs:
//   - Every worker a goroutine locked to its thread and parked on a futex
//     (the default before issue 18): every hand-off was an OS thread switch
//     plus, on a busy machine, a wait for sysmon to retake the parked
//     worker's P; Call, Each and ping-pong were 2-50x slower than
//     channel-fed goroutines (docs/bench/runtime.md). Kept as Mode Threads.
//   - Spinning a Goroutines worker after its batch: it would hold the P on
//     which it just readied the goroutine it replied to, and Go's idle Ps
//     already spin for runnable goroutines.
//   - A defer per task: a deferred closure inside the loop costs a heap
//     record per task; the batch-level recover costs nothing while no task
//     panics.
//   - Unlocking the thread of an unpinned worker at exit to reuse it: a
//     task may have changed thread state (affinity, namespaces) that must
//     not leak into other goroutines; a discarded thread costs one clone per
//     Start.

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/mailbox"
	"github.com/zipora-go/zipora/primitives"
)

// task is a mailbox element: a fire-and-forget function, or a completion
// (Call, Each) that runs its function and delivers the result. Exactly one
// of f and c is set. Three words; converting a pointer to completion does
// not allocate.
type task struct {
	f func(*Worker)
	c completion
}

// completion is a task whose caller waits for its result.
type completion interface {
	// run runs the task on w and delivers its result.
	run(w *Worker)
	// abort delivers err (the task panicked) instead of a result.
	abort(w *Worker, err error)
}

// pad separates groups of fields written by different goroutines.
type pad [primitives.CacheLineSize]byte

// Worker is one of a runtime's workers: a goroutine (locked to its own OS
// thread in Mode Threads), fed by its own mailbox, running its tasks one
// at a time. Tasks on worker i are the natural place for work on shard i
// of a registered structure (the data is hot in that worker's cache, and a
// structure may leave shard i to them), while the shards package lets any
// goroutine write any shard safely. Tasks receive their Worker as their
// argument.
//
// Workers are created by Start; the zero value is not usable and a Worker
// must not be copied. ID, CPU, Runtime and Stats are safe from any
// goroutine; AfterBatch only from a task running on this worker.
type Worker struct {
	_ pad
	// Immutable after Start; read by submitters.
	id  int
	cpu int // -1 when not pinned
	rt  *Runtime
	mb  *mailbox.Mailbox[task]
	g   atomic.Uintptr // acquire/release: the worker goroutine's g (self.go); written at start and by a replacement
	_   pad

	// Statistics: written by the owner (publish), read by Stats.
	batches atomic.Uint64          // relaxed: statistics only
	panics  atomic.Uint64          // relaxed: statistics only
	busy    atomic.Int64           // relaxed: statistics only (nanoseconds)
	waitsOn atomic.Pointer[Worker] // seq-cst: the worker a task of this worker waits on, for room in its full mailbox (sendSlow) or for a Call's reply (self.go)

	// Owner only.
	nBatches, nPanics uint64
	nBusy             int64
	buf               []task       // the receive buffer
	after, afterSpare []task       // AfterBatch callbacks, double-buffered
	phase             phase        // what runFrom is running, for a replacement after Goexit
	inBatch           bool         // runAfter runs inside runBatch (statistics follow)
	batchStart        time.Time    // start of the current batch when it is timed (busySample), else zero
	ready             chan<- error // until the worker reported to Start
	_                 pad
}

// ID returns the worker's index in [0, Runtime().Workers()): the shard it
// owns in every registered structure.
func (w *Worker) ID() int { return w.id }

// CPU returns the CPU the worker's thread is bound to, or -1 when the
// runtime does not pin.
func (w *Worker) CPU() int { return w.cpu }

// Runtime returns the runtime the worker belongs to.
func (w *Worker) Runtime() *Runtime { return w.rt }

// AfterBatch registers f to run on this worker once the current batch of
// tasks is done: after the tasks the worker took from its mailbox in one
// receive, before it takes more or parks. A structure uses it to coalesce
// the effect of many writes (publish a new version once per batch, send
// remote frees home in one message). Callbacks run in registration order,
// each once; one registered by a callback runs after the next batch (or at
// once if no task is waiting). Panics are recovered and reported like a
// task's. Cache f (a method value made once per shard) to avoid an
// allocation per registration.
//
// Only a task running on w (or an AfterBatch callback, or OnWorkerStart)
// may call it.
func (w *Worker) AfterBatch(f func(*Worker)) {
	if f == nil {
		panic("runtime: AfterBatch with a nil function")
	}
	w.after = append(w.after, task{f: f})
}

// Stats returns a snapshot of the worker's counters.
func (w *Worker) Stats() WorkerStats {
	ms := w.mb.Stats()
	return WorkerStats{
		ID:      w.id,
		CPU:     w.cpu,
		Tasks:   ms.Received,
		Batches: w.batches.Load(),
		Panics:  w.panics.Load(),
		Mailbox: w.mb.Len(),
		Parks:   ms.Parks,
		Wakeups: ms.Wakeups,
		Busy:    time.Duration(w.busy.Load()),
	}
}

// main is the worker goroutine: lock (and pin) the thread of a Threads
// worker, run the start hooks, report readiness to Start, then serve the
// mailbox until it is closed and drained.
func (w *Worker) main(ready chan<- error) {
	defer w.rt.wg.Done()
	w.lockThread()
	defer w.register()()
	w.ready = ready
	if err := w.start(); err != nil {
		w.ready = nil
		ready <- err
		return
	}
	w.signalReady()
	w.loop()
	w.batches.Store(w.nBatches) // exact once the worker stopped
	w.stopHooks(0)
}

// lockThread locks the calling goroutine to its OS thread for good, for a
// Threads worker: the thread is discarded when the goroutine exits (see the
// comment at the top of this file).
func (w *Worker) lockThread() {
	if w.rt.cfg.Mode == Threads {
		goruntime.LockOSThread()
	}
}

// signalReady tells Start that the worker runs, once.
func (w *Worker) signalReady() {
	if r := w.ready; r != nil {
		w.ready = nil
		r <- nil
	}
}

// resume is a replacement worker goroutine after a task called
// runtime.Goexit at ts[i-1] while running phase ph (see the top of this
// file).
func (w *Worker) resume(ts []task, i int, ph phase) {
	defer w.rt.wg.Done()
	w.lockThread()
	defer w.register()()
	if w.cpu >= 0 {
		if err := primitives.PinThread(w.cpu); err != nil {
			w.rt.log.Error("runtime: replacement worker not pinned", "worker", w.id, "err", err)
		}
	}
	w.runTasks(ts, i)
	switch ph {
	case phaseBatch:
		w.endBatch(ts)
	case phaseAfter:
		w.endAfter(ts)
		if w.inBatch { // the callbacks of a batch: finish endBatch
			w.inBatch = false
			w.publish()
		}
	}
	w.signalReady()
	w.loop()
	w.batches.Store(w.nBatches) // exact once the worker stopped
	w.stopHooks(0)
}

// start pins the thread and runs the structures' OnWorkerStart hooks.
func (w *Worker) start() error {
	if w.cpu >= 0 {
		if err := primitives.PinThread(w.cpu); err != nil {
			return fmt.Errorf("runtime: worker %d: %w", w.id, err)
		}
	}
	for _, s := range w.rt.structures {
		if ws, ok := s.(WorkerStarter); ok {
			pe := protectExit(w.id, func() { ws.OnWorkerStart(w) }, func(pe *PanicError) {
				// Goexit: this goroutine ends; Start must hear of it.
				r := w.ready
				w.ready = nil
				r <- fmt.Errorf("%w (OnWorkerStart of %T)", pe, s)
			})
			if pe != nil {
				return fmt.Errorf("%w (OnWorkerStart of %T)", pe, s)
			}
		}
	}
	if len(w.after) > 0 {
		w.runAfter()
	}
	return nil
}

// stopHooks runs the structures' OnWorkerStop hooks, from structure k on,
// once the mailbox is drained for good.
func (w *Worker) stopHooks(k int) {
	ss := w.rt.structures
	for ; k < len(ss); k++ {
		ws, ok := ss[k].(WorkerStopper)
		if !ok {
			continue
		}
		next := k + 1
		pe := protectExit(w.id, func() { ws.OnWorkerStop(w) }, func(pe *PanicError) {
			// Goexit: report it, and run the remaining hooks on a new
			// goroutine (locked to its own thread, for Threads).
			w.rt.goexited(pe)
			w.rt.wg.Add(1)
			go func() {
				defer w.rt.wg.Done()
				w.lockThread()
				defer w.register()()
				w.stopHooks(next)
			}()
		})
		if pe != nil {
			w.rt.reportPanic(pe)
		}
	}
}

// loop serves the mailbox until it is closed and drained.
func (w *Worker) loop() {
	ctx := context.Background()
	for {
		n, err := w.mb.ReceiveBatch(ctx, w.buf)
		if err != nil {
			return // mailbox.ErrClosed: closed and drained
		}
		if n > 0 {
			w.runBatch(w.buf[:n])
		} else if len(w.after) > 0 {
			// Woken to run callbacks registered by callbacks.
			w.runAfter()
		}
		w.spin()
	}
}

// spin polls the mailbox for up to Config.Spin before the next receive
// parks, if fewer than maxSpinners workers spin already; a task found is
// run as a batch of one (the next receive drains the rest). The mailbox
// itself does not spin (Config.Spin = NoSpin): the budget is runtime-wide.
func (w *Worker) spin() {
	d := w.rt.cfg.Spin
	if d <= 0 || w.mb.Len() > 0 {
		return
	}
	rt := w.rt
	if rt.spinners.Add(1) > rt.maxSpinners {
		rt.spinners.Add(-1)
		return
	}
	deadline := time.Now().Add(d)
	for {
		for range 64 {
			if t, ok := w.mb.TryReceive(); ok {
				rt.spinners.Add(-1)
				w.buf[0] = t
				w.runBatch(w.buf[:1])
				return
			}
		}
		if time.Now().After(deadline) {
			rt.spinners.Add(-1)
			return
		}
	}
}

// phase says what runFrom is running.
type phase uint8

const (
	phaseBatch phase = iota // a batch from the mailbox
	phaseAfter              // AfterBatch callbacks
)

// busySample: one batch in busySample is timed, and its time counts for
// busySample batches in WorkerStats.Busy. Two clock reads per batch cost
// about as much as a whole Call round trip's other bookkeeping.
const busySample = 16

// runBatch runs one batch of tasks, then the AfterBatch callbacks, and
// publishes the statistics.
func (w *Worker) runBatch(ts []task) {
	w.batchStart = time.Time{}
	if w.nBatches%busySample == 0 {
		w.batchStart = time.Now()
	}
	w.phase = phaseBatch
	w.runTasks(ts, 0)
	w.endBatch(ts)
}

// runTasks runs ts[i:].
func (w *Worker) runTasks(ts []task, i int) {
	for i < len(ts) {
		i = w.runFrom(ts, i)
	}
}

// endBatch finishes runBatch once its tasks ran.
func (w *Worker) endBatch(ts []task) {
	clear(ts) // drop references for the garbage collector
	w.nBatches++
	if len(w.after) > 0 {
		w.inBatch = true
		w.runAfter()
		w.inBatch = false
	}
	w.publish()
}

// publish makes the owner's running totals visible to Stats, once every
// busySample batches (and when the worker stops): a store per batch would
// be a locked instruction on every Call round trip.
func (w *Worker) publish() {
	if !w.batchStart.IsZero() { // one batch in busySample
		w.nBusy += busySample * int64(time.Since(w.batchStart))
		w.busy.Store(w.nBusy)
		w.batches.Store(w.nBatches)
	}
}

// runFrom runs ts[i:] and returns len(ts), or, when a task panicked, the
// index after it (see the comment at the top of this file). A task that
// calls runtime.Goexit ends this goroutine; a replacement goes on.
func (w *Worker) runFrom(ts []task, i int) (next int) {
	exited := true // until the loop ends normally
	defer func() {
		if v := recover(); v != nil {
			w.recovered(ts[next], v)
			next++
		} else if exited {
			w.rt.goexited(w.recovered(ts[next], ErrGoexit))
			w.rt.wg.Add(1)
			go w.resume(ts, next+1, w.phase)
			// This goroutine now only unwinds (see the top of this file).
		}
	}()
	for next = i; next < len(ts); next++ {
		if t := &ts[next]; t.c == nil {
			t.f(w)
		} else {
			t.c.run(w)
		}
	}
	exited = false
	return next
}

// runAfter runs the AfterBatch callbacks registered so far; callbacks they
// register go to the other buffer and wake the worker.
func (w *Worker) runAfter() {
	fs := w.after
	w.after = w.afterSpare[:0]
	w.phase = phaseAfter
	w.runTasks(fs, 0)
	w.endAfter(fs)
}

// endAfter finishes runAfter once its callbacks ran.
func (w *Worker) endAfter(fs []task) {
	w.phase = phaseBatch
	clear(fs)
	w.afterSpare = fs[:0]
	if len(w.after) > 0 {
		w.mb.Wake() // run them soon even if no task arrives
	}
}

// recovered reports a panic of task t (called from runFrom's deferred
// recover, so the stack still shows the panic site).
func (w *Worker) recovered(t task, v any) *PanicError {
	pe := &PanicError{Worker: w.id, Value: v, Stack: debug.Stack()}
	w.nPanics++
	w.panics.Store(w.nPanics)
	w.rt.reportPanic(pe)
	if t.c != nil {
		t.c.abort(w, pe)
	}
	return pe
}

// protect runs f, converting a panic into a *PanicError. A
// runtime.Goexit in f is not stopped.
func protect(worker int, f func()) (pe *PanicError) {
	return protectExit(worker, f, nil)
}

// protectExit is protect that also sees a runtime.Goexit in f: it calls
// onExit with a *PanicError for ErrGoexit (from a deferred function, while
// the goroutine unwinds; the goroutine then ends).
func protectExit(worker int, f func(), onExit func(*PanicError)) (pe *PanicError) {
	exited := true
	defer func() {
		if v := recover(); v != nil {
			pe = &PanicError{Worker: worker, Value: v, Stack: debug.Stack()}
		} else if exited && onExit != nil {
			onExit(&PanicError{Worker: worker, Value: ErrGoexit, Stack: debug.Stack()})
		}
	}()
	f()
	exited = false
	return nil
}

// PanicError is the error Call and Each return for a task that panicked
// or called runtime.Goexit (then Value is ErrGoexit). It matches ErrPanic
// with errors.Is.
type PanicError struct {
	// Worker is the id of the worker that ran the task (-1 for Go).
	Worker int
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

// Error describes the panic.
func (e *PanicError) Error() string {
	if e.Value == ErrGoexit {
		if e.Worker < 0 {
			return "runtime: runtime.Goexit called in a Go task or a structure's Attach or Detach"
		}
		return fmt.Sprintf("runtime: runtime.Goexit called on worker %d", e.Worker)
	}
	return fmt.Sprintf("runtime: task panicked on worker %d: %v", e.Worker, e.Value)
}

// Unwrap returns ErrPanic, and the panic value when it is an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
