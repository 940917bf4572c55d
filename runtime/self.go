package runtime

// Which goroutine is the caller: self-wait detection.
//
// Go has no goroutine-local state, so the runtime identifies goroutines by
// their goroutine id, read from the first line of runtime.Stack (about 1-2
// µs: a short traceback). Workers record theirs when they start (and a
// replacement worker, see worker.go, when it takes over) in workersByG, an
// immutable map replaced on every change (copy-on-write under a mutex:
// changes happen only when workers start and exit) and read by
// CurrentWorker with one atomic load, without boxing the key. The id is read only where a wait would
// otherwise begin or where the caller asked: Each (once per call), Call
// (only when the reply did not come within the spin and the caller is
// about to sleep), Submit and SubmitTo (only when the bounded mailbox is
// full), Go (only when the pool is saturated), CurrentWorker (always). The
// fast paths pay nothing.
//
// Rejected designs:
//   - The OS thread id (gettid): workers are locked to their thread, so it
//     would identify them, but it is a system call on Linux (measured about
//     1 µs here, like the traceback) and needs a per-OS implementation; Go
//     tasks are not locked to a thread.
//   - A stack address compared with the worker's: goroutine stacks move
//     when they grow or shrink.
//   - A "busy" flag per worker: it says that the worker runs a task, not
//     that the caller is that task.

import (
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// workersByG maps the goroutine id of every running worker goroutine to its
// *Worker. Changed by the worker goroutine itself (at start and exit).
var (
	workersByG   atomic.Pointer[map[int64]*Worker] // acquire/release: immutable map; replaced under workersByGMu
	workersByGMu sync.Mutex                        // serializes replacements
)

// setWorkerByG maps g to w, or, with w nil, removes g if it maps to old.
func setWorkerByG(g int64, w, old *Worker) {
	workersByGMu.Lock()
	defer workersByGMu.Unlock()
	var cur map[int64]*Worker
	if p := workersByG.Load(); p != nil {
		cur = *p
	}
	if w == nil && cur[g] != old {
		return
	}
	next := make(map[int64]*Worker, len(cur)+1)
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

// stackBufs holds goid's buffers: runtime.Stack makes its argument escape.
var stackBufs = sync.Pool{New: func() any { return new([64]byte) }}

// goid returns the calling goroutine's id ("goroutine 123 [running]:").
func goid() int64 {
	b := stackBufs.Get().(*[64]byte)
	defer stackBufs.Put(b)
	n := goruntime.Stack(b[:], false)
	s := b[len("goroutine "):n]
	var id int64
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// CurrentWorker returns the worker of rt whose goroutine is calling it — a
// task, an AfterBatch callback or a worker hook running on that worker —
// and true, or nil and false from any other goroutine. It does not
// allocate; it costs a short traceback (about 1-2 µs), so keep it off hot
// paths: call it once where a decision depends on it.
func (rt *Runtime) CurrentWorker() (*Worker, bool) {
	p := workersByG.Load()
	if p == nil {
		return nil, false
	}
	w, ok := (*p)[goid()]
	if !ok || w.rt != rt {
		return nil, false
	}
	return w, true
}

// isCurrent reports whether the caller is w's goroutine. Cheap when w is
// parked: w itself is never parked while it calls this.
func (w *Worker) isCurrent() bool {
	if !w.active.Load() { // relaxed: true whenever w's goroutine runs code
		return false
	}
	g := w.gid.Load() // acquire: written by the worker goroutine
	return g != 0 && g == goid()
}

// register records the calling goroutine as w's goroutine until the
// returned function is called.
func (w *Worker) register() (unregister func()) {
	g := goid()
	w.gid.Store(g)
	setWorkerByG(g, w, nil)
	return func() { setWorkerByG(g, nil, w) }
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
