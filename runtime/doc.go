// Package runtime is zipora's scheduler: a fixed set of workers, each a
// goroutine fed by one lock-free mailbox and running its tasks one at a
// time. Structures registered with Start are sized by it (one shard per
// worker) and ended by Stop; worker i is the natural home of work on
// shard i.
//
// Start creates the workers and sizes the structures; Submit, SubmitTo,
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
// What a worker gives a structure: locality. A worker runs its tasks one
// at a time, on one goroutine (in Mode Threads one OS thread, possibly
// pinned), in the order its mailbox delivers them (per-submitter FIFO), so
// the data of shard i that tasks on worker i touch stays in one cache; a
// task reaches its worker's shard through Worker.ID. It gives no
// ownership: the shards package's structures are written by any goroutine
// under each shard's ownership word and work without a runtime at all;
// registering them with Start only sizes them to the workers and has Stop
// end them (Structure). State that only tasks on worker i touch — a
// primitives.Local slot, or the shard i of a structure that routes its
// writes to worker i with SubmitTo or Call — needs no synchronization.
// Worker.AfterBatch lets such a structure coalesce work done by the tasks
// of one mailbox batch (publish once per batch, not once per write).
//
// Modes. By default (Mode Goroutines) a worker is an ordinary goroutine
// that parks in Go's scheduler when its mailbox is empty: a submission
// readies it the way a channel send readies a receiver, on the submitter's
// P, and a sleeping worker holds no thread and no P. Mode Threads (implied
// by Config.Pin) locks each worker to an OS thread of its own that spins
// briefly (Config.Spin) and then sleeps on a futex: for programs that give
// the runtime dedicated cores. docs/bench/runtime.md compares the two.
// Either way an idle runtime costs no CPU.
//
// Panics in tasks are recovered: logged through Config.Logger with the
// stack, passed to Config.OnPanic, returned from Call and Each as a
// *PanicError (errors.Is(err, ErrPanic)); the worker goes on with its next
// task.
//
// Tasks must not block for long (use Go for that): a Goroutines worker's
// blocked task blocks only its goroutine, but the worker's mailbox waits.
// A task that would wait for its own worker gets an error matching
// ErrSelfWait instead of a deadlock: Call to its own worker, Each, Submit
// or SubmitTo to its own full bounded mailbox, Stop, and Go from a Go task
// when every BlockingWorkers goroutine waits in Go. So does a Call or a
// send from a task that would close a cycle of workers each waiting on the
// next (through Calls, full mailboxes or both): worker A calling B while B
// calls A gets ErrSelfWait on the call that closes the cycle (self.go
// names the one case this misses). A task that calls runtime.Goexit is reported like a
// panic (a *PanicError whose Value is ErrGoexit), its worker goes on on a
// new goroutine, and Stop returns an error that reports it.
//
// Errors are sentinel values matchable with errors.Is. Misuse that can only
// be a programming error (a nil task) panics with a message that starts with
// "runtime:".
package runtime

import (
	"errors"

	"github.com/zipora-go/zipora/internal/lifecycle"
)

var (
	// ErrStopped is returned by every submission made after Stop closed
	// the runtime to new work. A submission that returned ErrStopped did
	// not run and never will. The shards package's ErrClosed (a write to
	// a structure its runtime's Stop or its own Close ended) matches it
	// too, though shards does not import this package.
	ErrStopped = lifecycle.ErrStopped
	// ErrNoShard is returned by SubmitTo and Call for a shard outside
	// [0, Workers()); shards.ErrNoShard matches it too.
	ErrNoShard = lifecycle.ErrNoShard
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

// errNilContext is the error of Start, Stop, Call and Each given a nil
// context (they would panic at the first wait; nothing is started, stopped
// or run).
var errNilContext = errors.New("runtime: nil context (pass context.Background() or a context that ends)")
