package runtime

// Structure is a data structure sharded across a runtime's workers: one
// shard per worker. How a shard is written is the structure's choice: the
// shards package applies writes under a per-shard ownership word, from
// any goroutine (see shards/owner.go); a structure may also route writes
// to worker i with SubmitTo or Call and let only tasks on worker i write
// shard i.
//
// Start calls Attach on every structure, in argument order, before any
// worker runs; the structure creates its shards there (typically a slice
// indexed by Worker.ID) and may keep rt.
// A structure that returns an error from Attach (or panics, or calls
// runtime.Goexit there) aborts Start: the structures attached before it
// are detached in reverse order, nothing keeps running, and Start returns
// the error. A failing Attach must leave its structure unattached (Start
// does not call its Detach).
//
// Stop calls Detach on every attached structure, in reverse order, after
// every worker has drained its mailbox and exited and every Go task has
// returned: no task of the runtime runs any more, and every later SubmitTo
// or Call returns ErrStopped, which the structure passes on to its
// callers. Start calls Detach the same way when it fails after attaching.
//
// What Detach must do: forget the runtime, keep the data. After Detach the
// structure must be attachable again — passed to a new Start, it attaches
// with its shards and contents as they were (a structure whose shard count
// must match may return an error from Attach when the new runtime has a
// different Workers()). Until then, reads of the shards may go on; writes
// return the structure's own error (not block). Attach and Detach run on a
// goroutine of their own that Start or Stop waits for: a panic or
// runtime.Goexit there is reported and does not stop Start or Stop.
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
// each worker before that worker takes any task, on the worker's goroutine
// (in Mode Threads on its own locked, possibly pinned, OS thread, so memory
// touched here is first-touched on the worker's CPU). A panic in
// OnWorkerStart fails Start.
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
