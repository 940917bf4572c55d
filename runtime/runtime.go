package runtime

// Start, submission and Stop.
//
// Stop protocol (shutdown, run once on its own goroutine):
//  1. cancel Context(): long tasks may notice.
//  2. close the gate: Each and Go are refused from now on; wait until every
//     admitted Each has sent its tasks and every admitted Go has handed its
//     function to the pool.
//  3. release the ants pool and wait for every Go task to return. Workers
//     still accept tasks, so blocking work can hand its result back to a
//     worker (SubmitTo, Call) while the runtime stops.
//  4. close every mailbox: Submit, SubmitTo and Call are refused
//     (ErrStopped) from now on; each worker drains what was accepted, runs
//     its OnWorkerStop hooks and exits.
//  5. wait for the workers; detach the structures in reverse order.
//
// Exactly once: a mailbox send is either accepted before the mailbox's
// Close (and then delivered, and run once by the only receiver) or refused;
// an Each or Go is either admitted before the gate closed (and its sends or
// pool submission happen before step 3/4) or refused. Stop calls after the
// first wait for the same completion.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/ants/v2"

	"github.com/zipora-go/zipora/mailbox"
)

// Runtime is a started set of workers with their registered structures and
// a pool for blocking work. Create one with Start; the zero value is not
// usable. A Runtime must not be copied. Every method is safe for
// concurrent use.
//
// Memory model: a submission that returns nil happens-before its task
// runs; a task's completion happens-before the Call or Each waiting for it
// returns; every accepted task's completion happens-before Stop returns
// nil.
type Runtime struct {
	workers    []*Worker
	cfg        resolved
	log        *slog.Logger
	structures []Structure
	pool       *ants.Pool

	gate     gate
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the worker goroutines
	stopOnce sync.Once
	done     chan struct{} // closed when shutdown is complete
	stopErr  error         // written before done is closed

	spinners    atomic.Int32  // seq-cst: workers spinning now, at most maxSpinners
	maxSpinners int32         // immutable: GOMAXPROCS-1 at Start
	addedProcs  int           // immutable once workers start: GOMAXPROCS added by Config.DedicatedProcs
	goSubmitted atomic.Uint64 // relaxed: statistics only
	goPanics    atomic.Uint64 // relaxed: statistics only

	goSlots  chan struct{} // one element per running Go task; capacity BlockingWorkers
	goNested atomic.Int32  // seq-cst: Go tasks waiting in Go for a slot

	eachPool sync.Pool // *eachCall of this runtime (Each)

	goexitMu    sync.Mutex
	goexits     int         // guarded by goexitMu: tasks that called runtime.Goexit
	firstGoexit *PanicError // guarded by goexitMu
}

// Start starts cfg.Workers workers, with structures attached (in order,
// before any worker runs), and returns once every worker is running and
// has run its structures' OnWorkerStart hooks. ctx bounds the start only;
// the runtime runs until Stop.
//
// Invalid configuration returns an error matching ErrInvalidConfig. If any
// part of Start fails (a structure's Attach, pinning a thread, a start
// hook, ctx), everything already started is stopped and detached, and the
// error is returned with a nil Runtime.
func Start(ctx context.Context, cfg Config, structures ...Structure) (*Runtime, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("runtime: start: %w", err)
	}
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	for i, s := range structures {
		if s == nil {
			return nil, fmt.Errorf("%w: structure %d is nil", ErrInvalidConfig, i)
		}
	}
	rt := &Runtime{
		cfg:        r,
		log:        r.Logger,
		structures: structures,
		done:       make(chan struct{}),
	}
	rt.maxSpinners = int32(goruntime.GOMAXPROCS(0) - 1)
	rt.goSlots = make(chan struct{}, r.BlockingWorkers)
	rt.gate.init()
	rt.ctx, rt.cancel = context.WithCancel(context.Background())
	if err := rt.newWorkers(); err != nil {
		rt.cancel()
		return nil, err
	}
	for i, s := range structures {
		if err := attach(rt, s); err != nil {
			rt.structures = structures[:i]
			rt.detach()
			rt.cancel()
			return nil, fmt.Errorf("runtime: attach structure %d (%T): %w", i, s, err)
		}
	}
	pool, err := ants.NewPool(r.BlockingWorkers,
		ants.WithPanicHandler(rt.goPanicked),
		ants.WithLogger(antsLogger{rt.log}))
	if err != nil {
		rt.detach()
		rt.cancel()
		return nil, fmt.Errorf("runtime: blocking pool: %w", err)
	}
	rt.pool = pool
	if r.DedicatedProcs {
		rt.addedProcs = len(rt.workers)
		goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0) + rt.addedProcs)
	}
	if err := rt.startWorkers(ctx); err != nil {
		rt.stopOnce.Do(rt.shutdown)
		return nil, err
	}
	rt.log.Info("runtime started",
		"workers", len(rt.workers), "mode", r.Mode.String(), "pin", r.Pin, "mailbox_capacity", r.MailboxCapacity,
		"blocking_workers", r.BlockingWorkers, "structures", len(structures))
	return rt, nil
}

func (rt *Runtime) newWorkers() error {
	n := rt.cfg.Workers
	rt.workers = make([]*Worker, n)
	for i := range rt.workers {
		// The runtime spins itself (worker.go); a flood of submissions
		// yields to the worker past mailboxYield waiting tasks.
		mcfg := mailbox.Config{Spin: mailbox.NoSpin, Yield: mailboxYield, Futex: rt.cfg.Mode == Threads}
		var mb *mailbox.Mailbox[task]
		if c := rt.cfg.MailboxCapacity; c > 0 {
			var err error
			if mb, err = mailbox.NewBounded[task](c, mcfg); err != nil {
				return fmt.Errorf("%w: Config.MailboxCapacity = %d: %w", ErrInvalidConfig, c, err)
			}
		} else {
			mb = mailbox.New[task](mcfg)
		}
		w := &Worker{id: i, cpu: -1, rt: rt, mb: mb, buf: make([]task, rt.cfg.Batch)}
		if rt.cfg.Pin {
			w.cpu = rt.cfg.cpus[i%len(rt.cfg.cpus)]
		}
		rt.workers[i] = w
	}
	return nil
}

// mailboxYield is the backlog past which a submitter yields its P to let
// the worker catch up (mailbox.Config.Yield): about what a chan of capacity
// 1024 holds before its senders block, and within the mailbox's recycled
// segments, so a flood neither allocates nor leaves the caches.
const mailboxYield = 256

// attach calls s.Attach (see callOff), converting a panic or a Goexit
// into an error.
func attach(rt *Runtime, s Structure) (err error) {
	if pe := callOff(func() { err = s.Attach(len(rt.workers)) }); pe != nil {
		return pe
	}
	return err
}

// callOff runs f on a goroutine of its own and waits for it, returning a
// *PanicError (Worker -1) if f panicked or called runtime.Goexit: a
// structure's Attach or Detach cannot end the goroutine of Start or Stop.
func callOff(f func()) *PanicError {
	done := make(chan *PanicError, 1)
	go func() {
		var pe *PanicError
		defer func() { done <- pe }() // runs on a Goexit too
		pe = protectExit(-1, f, func(x *PanicError) { pe = x })
	}()
	return <-done
}

// startWorkers starts every worker goroutine and waits until each is
// running or failed.
func (rt *Runtime) startWorkers(ctx context.Context) error {
	ready := make(chan error, len(rt.workers)) // never blocks a worker
	for _, w := range rt.workers {
		rt.wg.Add(1)
		go w.main(ready)
	}
	var errs []error
	for range rt.workers {
		select {
		case err := <-ready:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("runtime: start: %w", ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// detach detaches the attached structures in reverse order. A panic or a
// Goexit in a Detach is reported (a Goexit also by Stop), and the others
// are still detached.
func (rt *Runtime) detach() {
	for i := len(rt.structures) - 1; i >= 0; i-- {
		if pe := callOff(rt.structures[i].Detach); pe != nil {
			if errors.Is(pe, ErrGoexit) {
				rt.goexited(pe)
			}
			rt.reportPanic(pe)
		}
	}
}

// Workers returns the number of workers: the shard count of every
// registered structure.
func (rt *Runtime) Workers() int { return len(rt.workers) }

// Worker returns worker i, or nil when i is out of range. Its ID, CPU and
// Stats are safe to use from any goroutine.
func (rt *Runtime) Worker(i int) *Worker {
	if uint(i) >= uint(len(rt.workers)) {
		return nil
	}
	return rt.workers[i]
}

// Context returns a context that is cancelled when Stop is first called.
// Long-running tasks and Go functions may watch it to finish early.
func (rt *Runtime) Context() context.Context { return rt.ctx }

// Logger returns the runtime's logger (a discarding one when Config.Logger
// was nil).
func (rt *Runtime) Logger() *slog.Logger { return rt.log }

// Submit runs f on some worker, chosen at random to spread the load. It
// returns ErrStopped once Stop closed the runtime; with a bounded mailbox
// it blocks while the chosen worker's mailbox is full, except when called
// from a task on that very worker: then it returns an error matching
// ErrSelfWait (the worker cannot drain its mailbox while its task waits).
// A nil return means f will run exactly once. f must not be nil.
func (rt *Runtime) Submit(f func(*Worker)) error {
	if f == nil {
		panic("runtime: Submit with a nil task")
	}
	n := uint64(len(rt.workers))
	return rt.workers[uint64(rand.Uint32())*n>>32].send(task{f: f})
}

// SubmitTo runs f on worker shard, after every task that the same caller
// submitted to that worker before. It returns an error matching ErrNoShard
// for a shard outside [0, Workers()), and ErrStopped once Stop closed the
// runtime; with a bounded mailbox it blocks while that mailbox is full. A
// nil return means f will run exactly once. From a task on worker shard,
// a full mailbox (or one that other senders wait for) returns an error
// matching ErrSelfWait instead of blocking (the worker cannot drain it
// while its task waits); f then does not run.
// f must not be nil.
func (rt *Runtime) SubmitTo(shard int, f func(*Worker)) error {
	if f == nil {
		panic("runtime: SubmitTo with a nil task")
	}
	if uint(shard) >= uint(len(rt.workers)) {
		return rt.noShard(shard)
	}
	return rt.workers[shard].send(task{f: f})
}

func (rt *Runtime) noShard(shard int) error {
	return fmt.Errorf("%w: shard %d of %d", ErrNoShard, shard, len(rt.workers))
}

// send hands t to w's mailbox, waiting while a bounded mailbox is full
// unless the caller is w itself.
func (w *Worker) send(t task) error {
	return w.sendContext(context.Background(), t)
}

// sendContext is send that gives up when ctx ends.
//
// Waits between workers: a task that finds w's bounded mailbox full
// records the edge "my worker waits on w" (waitsOn) before it blocks, and
// refuses with ErrSelfWait if the edges from w lead back to its own worker:
// each worker of that cycle would wait for the next forever. Missed cycle:
// every worker stores its edge (seq-cst) before it follows the others', so
// the last worker to close a cycle sees every other edge of it. A worker
// that stops waiting clears its edge; a cycle seen through an edge that is
// being cleared is refused needlessly, never missed. A Call's wait for its
// reply records the same edge (Call, self.go), so cycles mixing both kinds
// of wait are refused too.
func (w *Worker) sendContext(ctx context.Context, t task) error {
	err := w.mb.TrySend(t)
	if err == mailbox.ErrFull {
		err = w.sendSlow(ctx, t)
	}
	if err == mailbox.ErrClosed {
		return ErrStopped // Stop closed the mailbox
	}
	return err
}

// sendSlow is sendContext on a full bounded mailbox.
func (w *Worker) sendSlow(ctx context.Context, t task) error {
	from, ok := w.rt.CurrentWorker()
	if !ok {
		return w.mb.SendContext(ctx, t)
	}
	if from == w {
		return fmt.Errorf("%w: worker %d sends to its own full mailbox", ErrSelfWait, w.id)
	}
	prev, ok := from.waitFor(w)
	if !ok {
		return fmt.Errorf("%w: worker %d sends to worker %d's full mailbox while that worker waits (through full mailboxes or Calls) on worker %d", ErrSelfWait, from.id, w.id, from.id)
	}
	defer from.waitsOn.Store(prev) // a Call's edge to w stays while it waits for the reply
	return w.mb.SendContext(ctx, t)
}

// Each runs f once on every worker and waits for all of them, returning
// the errors joined (each prefixed with its worker id; a panic is a
// *PanicError). Either every worker's task is accepted, or none
// (ErrStopped). If ctx is done first, Each returns ctx.Err(); the tasks
// already accepted still run. Called from a task (or a hook) on one of
// rt's workers, it returns an error matching ErrSelfWait and runs nothing:
// it would wait for its own worker. f must not be nil.
func (rt *Runtime) Each(ctx context.Context, f func(*Worker) error) error {
	if f == nil {
		panic("runtime: Each with a nil function")
	}
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w, ok := rt.CurrentWorker(); ok {
		return fmt.Errorf("%w: Each from a task on worker %d", ErrSelfWait, w.id)
	}
	if !rt.gate.enter() {
		return ErrStopped
	}
	e := rt.getEach()
	e.f = f
	e.setDirect(ctx, rt.cfg.Mode)
	e.remaining.Store(int64(len(rt.workers)))
	var err error
	for _, w := range rt.workers {
		if err = w.sendContext(ctx, task{c: e}); err != nil {
			break // ctx ended while a bounded mailbox was full
		}
	}
	rt.gate.leave()
	if err != nil {
		return err // the tasks sent still run; e is never recycled
	}
	if err := e.wait(ctx, rt.cfg.Mode); err != nil {
		return err // e belongs to the last worker now
	}
	err = e.err() // after wait's acquire: every worker's errs entry
	e.recycle()
	return err
}

// eachCall is the completion shared by the tasks of one Each. Pooled per
// runtime; owned by the caller until sent, recycled by the caller after
// the reply, or by the last worker when the caller abandoned it (the
// reply protocol of call.go).
type eachCall struct {
	f         func(*Worker) error
	errs      []error // errs[i] written only by worker i, read after done
	remaining atomic.Int64
	reply     // completed by the last worker
	rt        *Runtime
}

// getEach returns a recycled eachCall of rt, or a new one.
func (rt *Runtime) getEach() *eachCall {
	if e, _ := rt.eachPool.Get().(*eachCall); e != nil {
		return e
	}
	return &eachCall{errs: make([]error, len(rt.workers)), reply: reply{ch: make(chan struct{}, 1)}, rt: rt}
}

// recycle clears e and returns it to its runtime's pool.
func (e *eachCall) recycle() {
	e.f = nil
	clear(e.errs)
	e.reset()
	e.rt.eachPool.Put(e)
}

func (e *eachCall) run(w *Worker) { e.finish(w, e.f(w)) }

func (e *eachCall) abort(w *Worker, err error) { e.finish(w, err) }

func (e *eachCall) finish(w *Worker, err error) {
	e.errs[w.id] = err
	if e.remaining.Add(-1) == 0 { // acq-rel: the last worker sees every entry
		if e.complete() { // release: publishes errs
			e.recycle() // abandoned: the last worker owns it
		}
	}
}

func (e *eachCall) err() error {
	var errs []error
	for i, err := range e.errs {
		if err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Go runs f on the runtime's pool of goroutines for blocking work (I/O,
// syscalls, long computations), never on a worker. It waits while all
// Config.BlockingWorkers goroutines are busy, and returns ErrStopped once
// Stop began (waiting callers included). A nil return means f will run
// exactly once, and Stop waits for it to return. A panic or a
// runtime.Goexit in f is recovered and reported (OnPanic with worker id
// -1). f must not be nil.
//
// Nested Go: a Go task that calls Go while the pool is saturated waits for
// a slot like any caller, unless every slot is held by a Go task waiting
// in Go: then none could ever get one, and Go returns an error matching
// ErrSelfWait at once (raise Config.BlockingWorkers, or do the nested work
// inline). Detecting a Go task walks the caller's stack, only when the
// pool is saturated; a Go task of another runtime counts as one of rt's.
func (rt *Runtime) Go(f func()) error {
	if f == nil {
		panic("runtime: Go with a nil function")
	}
	if !rt.gate.enter() {
		return ErrStopped
	}
	defer rt.gate.leave()
	if err := rt.goSlot(); err != nil {
		return err
	}
	if err := rt.pool.Submit(func() { rt.runGo(f) }); err != nil {
		<-rt.goSlots
		if errors.Is(err, ants.ErrPoolClosed) {
			return ErrStopped
		}
		return fmt.Errorf("runtime: Go: %w", err)
	}
	rt.goSubmitted.Add(1)
	return nil
}

// goSlot takes one of the BlockingWorkers slots, waiting while none is
// free (see Go).
func (rt *Runtime) goSlot() error {
	select {
	case rt.goSlots <- struct{}{}:
		return nil
	default:
	}
	if inGoTask() {
		if rt.goNested.Add(1) >= int32(cap(rt.goSlots)) {
			rt.goNested.Add(-1)
			return fmt.Errorf("%w: Go from a Go task while all %d BlockingWorkers wait in Go", ErrSelfWait, cap(rt.goSlots))
		}
		defer rt.goNested.Add(-1)
	}
	select {
	case rt.goSlots <- struct{}{}:
		return nil
	case <-rt.ctx.Done():
		return ErrStopped
	}
}

// runGo runs one Go task on a pool goroutine and frees its slot. Its name
// is goTaskFrame.
func (rt *Runtime) runGo(f func()) {
	defer func() { <-rt.goSlots }()
	exited := true
	defer func() {
		if v := recover(); v != nil {
			rt.goPanicked(v)
		} else if exited {
			rt.goPanics.Add(1)
			pe := &PanicError{Worker: -1, Value: ErrGoexit, Stack: debug.Stack()}
			rt.goexited(pe)
			rt.reportPanic(pe)
		}
	}()
	f()
	exited = false
}

// goexited records a task, callback, hook or Go task that called
// runtime.Goexit; Stop reports them.
func (rt *Runtime) goexited(pe *PanicError) {
	rt.goexitMu.Lock()
	rt.goexits++
	if rt.firstGoexit == nil {
		rt.firstGoexit = pe
	}
	rt.goexitMu.Unlock()
}

// Stats returns a snapshot of every worker's counters and of the pool
// behind Go.
func (rt *Runtime) Stats() Stats {
	s := Stats{Workers: make([]WorkerStats, len(rt.workers))}
	for i, w := range rt.workers {
		s.Workers[i] = w.Stats()
	}
	s.Blocking = BlockingStats{
		Submitted: rt.goSubmitted.Load(),
		Panics:    rt.goPanics.Load(),
		Running:   rt.pool.Running(),
		Waiting:   rt.pool.Waiting(),
		Cap:       rt.pool.Cap(),
	}
	return s
}

// Stop stops the runtime: from then on Each and Go return ErrStopped; every
// Go task already accepted returns; then Submit, SubmitTo and Call return
// ErrStopped, and every task already accepted runs exactly once; the
// workers exit, the structures are detached. Stop returns nil once all of
// that is done, or ctx.Err() (wrapped) if ctx ends first — the stop goes on
// in the background, and a later Stop waits for it again. Stop is
// idempotent and safe to call concurrently. Called from a task or a Go
// task (of any runtime), it starts the stop and returns an error matching
// ErrSelfWait at once: the stop cannot complete while its caller waits
// for it; Done tells when it has.
func (rt *Runtime) Stop(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	rt.stopOnce.Do(func() { go rt.shutdown() })
	select {
	case <-rt.done:
		return rt.stopErr
	default:
	}
	if _, ok := rt.CurrentWorker(); ok || inGoTask() {
		return fmt.Errorf("%w: Stop from a task or a Go task cannot wait for the stop; it completes once the caller returns", ErrSelfWait)
	}
	select {
	case <-rt.done:
		return rt.stopErr
	case <-ctx.Done():
		return fmt.Errorf("runtime: stop: %w", ctx.Err())
	}
}

// Done returns a channel closed when the runtime has completely stopped.
func (rt *Runtime) Done() <-chan struct{} { return rt.done }

// shutdown runs the stop protocol described at the top of this file.
func (rt *Runtime) shutdown() {
	defer close(rt.done) // release: stopErr
	rt.cancel()
	rt.gate.close()
	var errs []error
	if err := rt.pool.ReleaseContext(context.Background()); err != nil {
		errs = append(errs, fmt.Errorf("runtime: release blocking pool: %w", err))
	}
	for _, w := range rt.workers {
		w.mb.Close()
	}
	rt.wg.Wait()
	if rt.addedProcs > 0 {
		goruntime.GOMAXPROCS(max(1, goruntime.GOMAXPROCS(0)-rt.addedProcs))
	}
	rt.detach()
	rt.goexitMu.Lock()
	if rt.goexits > 0 {
		errs = append(errs, fmt.Errorf("%w (%d task(s) called runtime.Goexit; their workers were replaced)", rt.firstGoexit, rt.goexits))
	}
	rt.goexitMu.Unlock()
	rt.stopErr = errors.Join(errs...)
	rt.log.Info("runtime stopped", "tasks", rt.Stats().Tasks(), "go_tasks", rt.goSubmitted.Load())
}

// reportPanic logs a recovered panic and passes it to OnPanic.
func (rt *Runtime) reportPanic(pe *PanicError) {
	rt.log.Error("runtime: task panicked", "worker", pe.Worker, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	if h := rt.cfg.OnPanic; h != nil {
		if again := protect(pe.Worker, func() { h(pe.Worker, pe.Value, pe.Stack) }); again != nil {
			rt.log.Error("runtime: OnPanic panicked", "panic", fmt.Sprint(again.Value), "stack", string(again.Stack))
		}
	}
}

// goPanicked is the ants panic handler: it runs in the deferred recover of
// the pool goroutine, so debug.Stack still shows the panic site.
func (rt *Runtime) goPanicked(v any) {
	rt.goPanics.Add(1)
	rt.reportPanic(&PanicError{Worker: -1, Value: v, Stack: debug.Stack()})
}

// antsLogger sends ants' own messages to the runtime's logger.
type antsLogger struct{ l *slog.Logger }

func (a antsLogger) Printf(format string, args ...any) {
	a.l.Warn("runtime: blocking pool: " + fmt.Sprintf(format, args...))
}
