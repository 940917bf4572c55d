// Package runtime is zipora's scheduler: a fixed set of workers, each a
// goroutine locked to its own OS thread (and, with Config.Pin, bound to one
// CPU), each fed by one lock-free mailbox, each owning shard i of every
// registered structure.
//
// Start creates the workers and attaches the structures; Submit, SubmitTo,
// Call and Each hand tasks (func(*Worker)) to workers; Go runs blocking
// work on a private ants pool so that it never occupies a worker; Stop
// refuses new work, drains every accepted task and joins every goroutine.
//
//	rt, err := runtime.Start(ctx, runtime.Config{Workers: 4}, trie)
//	if err != nil { ... }
//	defer rt.Stop(context.Background())
//	rt.Submit(func(w *runtime.Worker) { ... })               // any worker
//	rt.SubmitTo(2, func(w *runtime.Worker) { ... })          // worker 2
//	n, err := runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (int, error) { ... })
//	err = rt.Each(ctx, func(w *runtime.Worker) error { ... }) // every worker
//	rt.Go(func() { ... })                                     // blocking work
//
// Ownership. A worker runs its tasks one at a time, in the order its
// mailbox delivers them (per-submitter FIFO). State owned by worker i —
// shard i of a structure, a primitives.Local slot — may therefore be used
// by tasks on worker i without any synchronization. A task reaches its
// worker's shard through Worker.ID. Worker.AfterBatch lets a structure
// coalesce work done by the tasks of one mailbox batch (publish once per
// batch, not once per write).
//
// Idle workers spin briefly (Config.Spin) and then park on their mailbox's
// futex: an idle runtime costs no CPU.
//
// Panics in tasks are recovered: logged through Config.Logger with the
// stack, passed to Config.OnPanic, returned from Call and Each as a
// *PanicError (errors.Is(err, ErrPanic)); the worker goes on with its next
// task.
//
// Tasks must not block for long (use Go for that). A task that waits for
// its own worker gets an error matching ErrSelfWait instead of a deadlock:
// Call to its own worker, Each, Submit or SubmitTo to its own full bounded
// mailbox, and Go from a Go task when every BlockingWorkers goroutine waits
// in Go. So does a send from a task to another worker's full bounded
// mailbox that would close a cycle of workers each waiting on the next
// one's full mailbox. Waits for a Call's reply are not tracked: worker A
// calling B while B calls A deadlocks; hand such work to Go. Stop from a task needs
// a context that ends. A task that calls runtime.Goexit is reported like a
// panic (a *PanicError whose Value is ErrGoexit), its worker goes on on a
// new goroutine, and Stop returns an error that reports it.
//
// Errors are sentinel values matchable with errors.Is. Misuse that can only
// be a programming error (a nil task) panics with a message that starts with
// "runtime:".
package runtime

import "errors"

var (
	// ErrStopped is returned by every submission made after Stop closed
	// the runtime to new work. A submission that returned ErrStopped did
	// not run and never will.
	ErrStopped = errors.New("runtime: stopped")
	// ErrNoShard is returned by SubmitTo and Call for a shard outside
	// [0, Workers()).
	ErrNoShard = errors.New("runtime: no such shard")
	// ErrPanic is matched (errors.Is) by the *PanicError that Call and
	// Each return when a task panicked.
	ErrPanic = errors.New("runtime: task panicked")
	// ErrInvalidConfig is returned by Start for a Config field out of
	// range.
	ErrInvalidConfig = errors.New("runtime: invalid config")
	// ErrSelfWait is returned instead of a deadlock when a task would wait
	// for its own worker (Call or Each from a task, Submit or SubmitTo to
	// its own full mailbox, or to a full mailbox whose worker waits,
	// through full mailboxes, on the sender's) or a Go task for a pool slot
	// that no task can free. Hand the waiting part to Go, or, for a full mailbox, raise
	// Config.MailboxCapacity or make it unbounded.
	ErrSelfWait = errors.New("runtime: task would wait for itself")
	// ErrGoexit is the Value of the *PanicError reported for a task that
	// called runtime.Goexit.
	ErrGoexit = errors.New("runtime: task called runtime.Goexit")
)
