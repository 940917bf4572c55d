package runtime

// Structure is a data structure sharded across a runtime's workers: one
// shard per worker, shard i owned by worker i, written only by tasks
// running on worker i.
//
// Start calls Attach on every structure, in argument order, before any
// worker runs; the structure creates its shards there (typically a slice
// indexed by Worker.ID) and keeps rt to route writes with SubmitTo or Call.
// A structure that returns an error from Attach aborts Start: the
// structures attached before it are detached, nothing keeps running, and
// Start returns the error.
//
// Stop calls Detach on every attached structure, in reverse order, after
// every worker has drained its mailbox and exited and every Go task has
// returned: no task of the runtime runs any more, and every later SubmitTo
// or Call returns ErrStopped, which the structure passes on to its
// callers. Reads of the shards may go on after Detach.
//
// A structure may also implement WorkerStarter and WorkerStopper to run
// code on each owner worker.
type Structure interface {
	// Attach tells the structure its runtime and shard count (Workers()).
	Attach(rt *Runtime, shards int) error
	// Detach tells the structure that the runtime has stopped.
	Detach()
}

// WorkerStarter is implemented by a Structure that wants to run code on
// each worker before that worker takes any task: on the worker's own locked
// (and pinned) OS thread, so memory touched here is first-touched on the
// worker's CPU. A panic in OnWorkerStart fails Start.
type WorkerStarter interface {
	OnWorkerStart(w *Worker)
}

// WorkerStopper is implemented by a Structure that wants to run code on
// each worker after the worker drained its mailbox for good, before it
// exits (and before Detach). Panics are recovered and reported like a
// task's.
type WorkerStopper interface {
	OnWorkerStop(w *Worker)
}
