package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
)

// Regression tests for issue 13 case 7: a task that waits for its own
// worker gets ErrSelfWait instead of hanging.

// onWorker runs f in a task on worker shard of rt and waits for it.
func onWorker(t *testing.T, rt *runtime.Runtime, shard int, f func(w *runtime.Worker)) {
	t.Helper()
	done := make(chan struct{})
	if err := rt.SubmitTo(shard, func(w *runtime.Worker) { defer close(done); f(w) }); err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "task", func() { <-done })
}

func TestSelfCall(t *testing.T) {
	for _, capacity := range []int{0, 4} {
		rt := start(t, runtime.Config{Workers: 2, MailboxCapacity: capacity})
		var ran atomic.Int32
		var err error
		onWorker(t, rt, 1, func(w *runtime.Worker) {
			_, err = runtime.Call(context.Background(), rt, w.ID(), func(*runtime.Worker) (int, error) {
				ran.Add(1)
				return 0, nil
			})
		})
		if !errors.Is(err, runtime.ErrSelfWait) {
			t.Fatalf("capacity %d: Call to its own worker: %v, want ErrSelfWait", capacity, err)
		}
		// A Call to the other worker from a task still works.
		onWorker(t, rt, 1, func(w *runtime.Worker) {
			_, err = runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return 1, nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		// The cancelled cell is skipped, and the worker goes on.
		if _, err := runtime.Call(context.Background(), rt, 1, func(*runtime.Worker) (int, error) { return 0, nil }); err != nil {
			t.Fatal(err)
		}
		if n := ran.Load(); n != 0 {
			t.Fatalf("the refused Call's function ran %d times", n)
		}
	}
}

func TestSelfEach(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 2})
	var ran atomic.Int32
	var err error
	onWorker(t, rt, 0, func(*runtime.Worker) {
		err = rt.Each(context.Background(), func(*runtime.Worker) error { ran.Add(1); return nil })
	})
	if !errors.Is(err, runtime.ErrSelfWait) {
		t.Fatalf("Each from a task: %v, want ErrSelfWait", err)
	}
	if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("the refused Each ran on %d workers", n)
	}
}

// TestSelfSubmitFull: a task fills its own bounded mailbox; the sends that
// find it full are refused with ErrSelfWait, every accepted one runs.
func TestSelfSubmitFull(t *testing.T) {
	const capacity = 4
	for _, viaSubmit := range []bool{false, true} {
		rt := start(t, runtime.Config{Workers: 1, MailboxCapacity: capacity})
		var ran, accepted, refused atomic.Int32
		onWorker(t, rt, 0, func(*runtime.Worker) {
			for range 3 * capacity {
				var err error
				if viaSubmit {
					err = rt.Submit(func(*runtime.Worker) { ran.Add(1) })
				} else {
					err = rt.SubmitTo(0, func(*runtime.Worker) { ran.Add(1) })
				}
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, runtime.ErrSelfWait):
					refused.Add(1)
				default:
					t.Errorf("submit: %v", err)
				}
			}
		})
		if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if accepted.Load() != capacity || refused.Load() != 2*capacity || ran.Load() != accepted.Load() {
			t.Fatalf("submit=%v: accepted %d, refused %d, ran %d; want %d, %d, %d", viaSubmit,
				accepted.Load(), refused.Load(), ran.Load(), capacity, 2*capacity, capacity)
		}
	}
}

// TestNestedGo: with one blocking goroutine, a Go task that calls Go is
// refused (ErrSelfWait) instead of wedging the pool and Stop.
func TestNestedGo(t *testing.T) {
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 1, BlockingWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	inner := make(chan error, 1)
	var innerRan atomic.Int32
	if err := rt.Go(func() { inner <- rt.Go(func() { innerRan.Add(1) }) }); err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "nested Go", func() { err = <-inner })
	if !errors.Is(err, runtime.ErrSelfWait) {
		t.Fatalf("nested Go on a saturated pool: %v, want ErrSelfWait", err)
	}
	// The pool is free again: Go works, and Stop returns.
	done := make(chan struct{})
	if err := rt.Go(func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "Go", func() { <-done })
	testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
	if err != nil || innerRan.Load() != 0 {
		t.Fatalf("Stop: %v; refused Go ran %d times", err, innerRan.Load())
	}
}

// TestGoWaitEndsAtStop: a Go that waits for a slot (the pool busy with a
// task that waits for Stop) returns ErrStopped when Stop begins instead of
// wedging it.
func TestGoWaitEndsAtStop(t *testing.T) {
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 1, BlockingWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	busy := make(chan struct{})
	if err := rt.Go(func() { close(busy); <-rt.Context().Done() }); err != nil {
		t.Fatal(err)
	}
	<-busy
	waiting := make(chan error, 1)
	go func() { waiting <- rt.Go(func() {}) }()
	testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err != nil && !errors.Is(err, runtime.ErrStopped) {
		t.Fatalf("waiting Go: %v, want nil or ErrStopped", err)
	}
}

// TestCurrentWorker: a task sees its own worker; other goroutines, and
// tasks of another runtime, see none.
func TestCurrentWorker(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 3})
	other := start(t, runtime.Config{Workers: 1})
	for i := range rt.Workers() {
		onWorker(t, rt, i, func(w *runtime.Worker) {
			if got, ok := rt.CurrentWorker(); !ok || got != w {
				t.Errorf("worker %d: CurrentWorker = %v, %v", w.ID(), got, ok)
			}
			if _, ok := other.CurrentWorker(); ok {
				t.Errorf("worker %d is a worker of another runtime", w.ID())
			}
		})
	}
	if w, ok := rt.CurrentWorker(); ok {
		t.Fatalf("test goroutine is worker %d", w.ID())
	}
	done := make(chan struct{})
	if err := rt.Go(func() {
		defer close(done)
		if _, ok := rt.CurrentWorker(); ok {
			t.Error("a Go task is a worker")
		}
	}); err != nil {
		t.Fatal(err)
	}
	<-done
	if n := testing.AllocsPerRun(100, func() { rt.CurrentWorker() }); n != 0 {
		t.Fatalf("CurrentWorker allocates %v times", n)
	}
}

// TestGoexitTask: runtime.Goexit in a task, an AfterBatch callback or a Go
// task is reported like a panic, the worker goes on, and Stop reports it.
func TestGoexitTask(t *testing.T) {
	var onPanic atomic.Int32
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, Pin: pinnable() && runtime.DefaultModeForTest() == runtime.Threads,
		OnPanic: func(int, any, []byte) { onPanic.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int32
	testutil.Within(t, "Call that exits", func() {
		_, err = runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) {
			goruntime.Goexit()
			return 0, nil
		})
	})
	var pe *runtime.PanicError
	if !errors.As(err, &pe) || !errors.Is(err, runtime.ErrGoexit) || !errors.Is(err, runtime.ErrPanic) || pe.Worker != 0 {
		t.Fatalf("Call of a task that called Goexit: %v", err)
	}
	// A batch with an exiting task in the middle: the others run.
	for range 3 {
		if err := rt.SubmitTo(1, func(*runtime.Worker) { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
		if err := rt.SubmitTo(1, func(*runtime.Worker) { goruntime.Goexit() }); err != nil {
			t.Fatal(err)
		}
	}
	// An exiting AfterBatch callback, then one registered after it.
	if err := rt.SubmitTo(1, func(w *runtime.Worker) {
		w.AfterBatch(func(*runtime.Worker) { goruntime.Goexit() })
		w.AfterBatch(func(*runtime.Worker) { ran.Add(1) })
	}); err != nil {
		t.Fatal(err)
	}
	goDone := make(chan struct{})
	if err := rt.Go(func() { defer close(goDone); goruntime.Goexit() }); err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "Go that exits", func() { <-goDone })
	testutil.Within(t, "Each after Goexits", func() {
		err = rt.Each(context.Background(), func(w *runtime.Worker) error {
			if cw, ok := rt.CurrentWorker(); !ok || cw != w {
				return errors.New("replacement goroutine is not registered as its worker")
			}
			ran.Add(1)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
	if !errors.Is(err, runtime.ErrGoexit) {
		t.Fatalf("Stop after Goexits: %v, want ErrGoexit", err)
	}
	if got := ran.Load(); got != 3+1+2 {
		t.Fatalf("%d tasks ran, want 6", got)
	}
	if got := onPanic.Load(); got != 1+3+1+1 {
		t.Fatalf("OnPanic called %d times, want 6", got)
	}
}

// TestCrossWorkerFullMailboxes: tasks on two workers fill each other's
// bounded mailboxes at the same time; instead of both waiting forever, a
// send that would close the cycle is refused with ErrSelfWait, and every
// accepted task runs.
func TestCrossWorkerFullMailboxes(t *testing.T) {
	for _, workers := range []int{2, 3} {
		rt := start(t, runtime.Config{Workers: workers, MailboxCapacity: 1})
		var accepted, refused, ran atomic.Int64
		var go1 sync.WaitGroup
		go1.Add(workers)
		done := make(chan struct{}, workers)
		for i := range workers {
			if err := rt.SubmitTo(i, func(w *runtime.Worker) {
				defer func() { done <- struct{}{} }()
				go1.Done()
				go1.Wait() // every worker is inside this task now
				for range 8 {
					switch err := rt.SubmitTo((w.ID()+1)%workers, func(*runtime.Worker) { ran.Add(1) }); {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, runtime.ErrSelfWait):
						refused.Add(1)
					default:
						t.Error(err)
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		testutil.Within(t, "workers sending to each other", func() {
			for range workers {
				<-done
			}
		})
		if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if refused.Load() == 0 || ran.Load() != accepted.Load() || accepted.Load()+refused.Load() != int64(8*workers) {
			t.Fatalf("%d workers: accepted %d, refused %d, ran %d", workers, accepted.Load(), refused.Load(), ran.Load())
		}
	}
}

// TestCallCycle: a task on worker 0 Calls worker 1, whose task Calls worker
// 0 back (a cycle of two, and of three over 0 -> 1 -> 2 -> 0): the Call
// that would close the cycle gets ErrSelfWait instead of waiting forever
// (with a context that never ends), and its function never runs. Calls
// along a chain without a cycle, and a worker called again right after it
// answered, are not refused.
func TestCallCycle(t *testing.T) {
	ctx := context.Background()
	rt := start(t, runtime.Config{Workers: 3})
	for _, path := range [][]int{{0, 1, 0}, {0, 1, 2, 0}, {0, 1, 2}} {
		var ran atomic.Int32
		var call func(i int) (int, error)
		call = func(i int) (int, error) {
			return runtime.Call(ctx, rt, path[i], func(*runtime.Worker) (int, error) {
				ran.Add(1)
				if i+1 == len(path) {
					return 0, nil
				}
				return call(i + 1)
			})
		}
		var err error
		testutil.Within(t, "a cycle of Calls", func() { _, err = call(0) })
		cycle := path[0] == path[len(path)-1]
		if cycle && (!errors.Is(err, runtime.ErrSelfWait) || ran.Load() != int32(len(path)-1)) {
			t.Fatalf("path %v: %v after %d functions, want ErrSelfWait after %d", path, err, ran.Load(), len(path)-1)
		}
		if !cycle && err != nil {
			t.Fatalf("path %v: %v", path, err)
		}
	}
	// A cycle mixing both kinds of wait: worker 0's task waits for a Call
	// to worker 1, whose function fills worker 0's bounded mailbox.
	mixed := start(t, runtime.Config{Workers: 2, MailboxCapacity: 2})
	var err error
	testutil.Within(t, "a Call and a full mailbox", func() {
		_, err = runtime.Call(ctx, mixed, 0, func(*runtime.Worker) (int, error) {
			return runtime.Call(ctx, mixed, 1, func(*runtime.Worker) (int, error) {
				for {
					if err := mixed.SubmitTo(0, func(*runtime.Worker) {}); err != nil {
						return 0, err
					}
				}
			})
		})
	})
	if !errors.Is(err, runtime.ErrSelfWait) {
		t.Fatalf("a send to a full mailbox closing a cycle with a Call: %v, want ErrSelfWait", err)
	}
	// Ping-pong from tasks, one Call at a time: never a false cycle.
	onWorker(t, rt, 0, func(*runtime.Worker) {
		for i := range 2000 {
			if _, err := runtime.Call(ctx, rt, 1, func(*runtime.Worker) (int, error) { return i, nil }); err != nil {
				t.Error(err)
				return
			}
		}
	})
	onWorker(t, rt, 1, func(*runtime.Worker) {
		for i := range 2000 {
			if _, err := runtime.Call(ctx, rt, 0, func(*runtime.Worker) (int, error) { return i, nil }); err != nil {
				t.Error(err)
				return
			}
		}
	})
}
