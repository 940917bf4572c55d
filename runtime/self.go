package runtime

// Which goroutine is the caller: self-wait detection.
//
// Go has no goroutine-local state, but every goroutine has a runtime g
// whose address does not change while the goroutine lives and is not
// shared with any other live goroutine. getg returns it with one load (a
// few lines of assembly on amd64 and arm64; elsewhere the goroutine id
// parsed from a short traceback, about 1-2 µs). A worker goroutine stores
// its g in Worker.g when it starts (and a replacement worker, see
// worker.go, when it takes over) and clears it before it exits, and adds
// itself to workersByG, an immutable map replaced on every change
// (copy-on-write under a mutex: changes happen only when workers start and
// exit), read by CurrentWorker with one atomic load and a lookup.
//
// Who checks what: Call compares the target worker's g with its own
// before it sends (a load and a compare); Each, Stop and a send to a full
// bounded mailbox look the caller up in workersByG; Go walks the stack
// only when its pool is saturated. A g reused by a new goroutine after a
// worker exited cannot be mistaken for that worker: the worker removes
// its g before it exits, and a g is reused only after its goroutine ended.
//
// Cycles of waits between workers: a task on worker A that Calls worker B
// (or sends to B's full mailbox) while a task on B does the same to A
// would wait forever (each worker runs one task at a time). Both waits
// record the same edge, Worker.waitsOn (waitFor); the one that would
// close a cycle, through Calls, full mailboxes or both, is refused with
// ErrSelfWait before anything is sent. The stores and loads are
// sequentially consistent, so of two waits closing a cycle at the same
// moment at least one sees the other's edge. No false cycle through a
// Call: its edge A -> B is cleared by B when it runs A's call, before it
// replies, so a later task of B never sees it; and by A when its wait
// ends (its context ended, Stop). Known gap: when A's context ended and A
// abandoned a Call to B, then Called B again before B ran the abandoned
// call, B's clearing of the old edge also clears the new one, and a cycle
// closed through that new edge goes unseen (it waits, as every cycle did
// before this check, until a context ends); telling the two edges apart
// needs a call number beside the edge.
//
// Rejected designs:
//   - The goroutine id from runtime.Stack on every check (the previous
//     design): a traceback of about 1.8 µs per Each and per CurrentWorker.
//   - The OS thread id (gettid): it identifies only goroutines locked to a
//     thread, and it is a system call.
//   - A stack address compared with the worker's: goroutine stacks move
//     when they grow or shrink.
//   - A "busy" flag per worker: it says that the worker runs a task, not
//     that the caller is that task.
//   - pprof labels as a marker: inherited by every goroutine a task starts,
//     and not readable without linkname.

import (
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// workersByG maps the g of every running worker goroutine to its *Worker.
// Changed by the worker goroutine itself (at start and exit).
var (
	workersByG   atomic.Pointer[map[uintptr]*Worker] // acquire/release: immutable map; replaced under workersByGMu
	workersByGMu sync.Mutex                          // serializes replacements
)

// setWorkerByG maps g to w, or, with w nil, removes g if it maps to old.
func setWorkerByG(g uintptr, w, old *Worker) {
	workersByGMu.Lock()
	defer workersByGMu.Unlock()
	var cur map[uintptr]*Worker
	if p := workersByG.Load(); p != nil {
		cur = *p
	}
	if w == nil && cur[g] != old {
		return
	}
	next := make(map[uintptr]*Worker, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	if w != nil {
		next[g] = w
	} else {
		delete(next, g)
	}
	workersByG.Store(&next)
}

// CurrentWorker returns the worker of rt whose goroutine is calling it — a
// task, an AfterBatch callback or a worker hook running on that worker —
// and true, or nil and false from any other goroutine. It does not
// allocate and costs a map lookup (a short traceback on platforms other
// than amd64 and arm64).
func (rt *Runtime) CurrentWorker() (*Worker, bool) {
	p := workersByG.Load()
	if p == nil {
		return nil, false
	}
	w, ok := (*p)[getg()]
	if !ok || w.rt != rt {
		return nil, false
	}
	return w, true
}

// workerOf returns rt's worker whose goroutine has g, or nil.
func (rt *Runtime) workerOf(g uintptr) *Worker {
	p := workersByG.Load() // acquire: immutable map
	if p == nil {
		return nil
	}
	if w := (*p)[g]; w != nil && w.rt == rt {
		return w
	}
	return nil
}

// waitFor records the edge "w's running task waits for target" in
// w.waitsOn, unless the edges from target lead back to w (a cycle of
// waits: see sendContext in runtime.go and Call): then it leaves the edge
// as it was and reports false. It returns the edge it replaced, for the
// caller to put back when its wait ends.
func (w *Worker) waitFor(target *Worker) (prev *Worker, ok bool) {
	prev = w.waitsOn.Swap(target) // seq-cst: before following the others' edges
	t := target
	for range len(w.rt.workers) {
		if t = t.waitsOn.Load(); t == nil { // seq-cst
			return prev, true
		}
		if t == w {
			w.waitsOn.Store(prev)
			return prev, false
		}
	}
	return prev, true
}

// register records the calling goroutine as w's goroutine until the
// returned function is called.
func (w *Worker) register() (unregister func()) {
	g := getg()
	w.g.Store(g)
	setWorkerByG(g, w, nil)
	return func() {
		w.g.CompareAndSwap(g, 0) // release: a replacement may own w already
		setWorkerByG(g, nil, w)
	}
}

// goTaskFrame is the function every Go task runs under.
const goTaskFrame = "github.com/zipora-go/zipora/runtime.(*Runtime).runGo"

// inGoTask reports whether the caller runs inside a Go task (of any
// runtime): runGo is on its stack. Slow (a stack walk); called only when
// the pool is saturated.
func inGoTask() bool {
	pcs := make([]uintptr, 64)
	for {
		n := goruntime.Callers(2, pcs)
		frames := goruntime.CallersFrames(pcs[:n])
		for {
			f, more := frames.Next()
			if f.Function == goTaskFrame || strings.HasPrefix(f.Function, goTaskFrame+".") {
				return true
			}
			if !more {
				break
			}
		}
		if n < len(pcs) {
			return false
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
}
