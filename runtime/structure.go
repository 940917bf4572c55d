package runtime

// Structure is a data structure sharded across a runtime's workers: one
// shard per worker. The runtime sizes it and ends it; it gives it nothing
// else. How a shard is written is the structure's choice: the shards
// package applies writes under a per-shard ownership word, from any
// goroutine, and its structures work without a runtime too; another
// structure may route writes for shard i to worker i with SubmitTo or
// Call (reaching the runtime through its own field) and let only tasks on
// worker i touch shard i. What worker i gives shard i either way is
// locality: tasks on worker i run one at a time on one goroutine (in Mode
// Threads one OS thread, possibly pinned), so the shard's data they touch
// stays in one cache.
//
// Start calls Attach on every structure, in argument order, before any
// worker runs, with its worker count; the structure sizes itself there
// (typically one shard per worker, indexed by Worker.ID).
// A structure that returns an error from Attach (or panics, or calls
// runtime.Goexit there) aborts Start: the structures attached before it
// are detached in reverse order, nothing keeps running, and Start returns
// the error. A failing Attach must leave its structure unattached (Start
// does not call its Detach).
//
// Stop calls Detach on every attached structure, in reverse order, after
// every worker has drained its mailbox and exited and every Go task has
// returned: no task of the runtime runs any more.
// Start calls Detach the same way when it fails after attaching.
//
// What Detach must do: end writes, keep the data. After Detach the
// structure must be attachable again — passed to a new Start, it attaches
// with its shards and contents as they were (resized, or refusing with an
// error, when the new runtime has a different worker count). Until then,
// reads of the shards may go on; writes return the structure's own error
// (not block). Attach and Detach run on a goroutine of their own that
// Start or Stop waits for: a panic or runtime.Goexit there is reported and
// does not stop Start or Stop.
//
// A structure may also implement WorkerStarter and WorkerStopper to run
// code on each worker.
type Structure interface {
	// Attach sizes the structure for a runtime of shards workers and opens
	// it for writes.
	Attach(shards int) error
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
