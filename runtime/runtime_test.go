package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/runtime"
)

func TestStartDefaults(t *testing.T) {
	rt := start(t, runtime.Config{})
	want := max(1, min(len(primitives.Topology().Allowed), goruntime.GOMAXPROCS(0)))
	if rt.Workers() != want {
		t.Fatalf("Workers() = %d, want %d", rt.Workers(), want)
	}
	for i := range rt.Workers() {
		w := rt.Worker(i)
		if w.ID() != i || w.CPU() != -1 || w.Runtime() != rt {
			t.Fatalf("worker %d: ID %d CPU %d", i, w.ID(), w.CPU())
		}
	}
	if rt.Worker(-1) != nil || rt.Worker(rt.Workers()) != nil {
		t.Fatal("Worker out of range is not nil")
	}
	if got := rt.Stats().Blocking.Cap; got != runtime.DefaultBlockingWorkers {
		t.Fatalf("blocking pool cap %d, want %d", got, runtime.DefaultBlockingWorkers)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []runtime.Config{
		{Workers: -1},
		{Workers: runtime.MaxWorkers + 1},
		{MailboxCapacity: -1},
		{BlockingWorkers: -1},
		{Spin: -2},
		{Batch: -1},
		{Batch: 1 << 20},
	} {
		rt, err := runtime.Start(context.Background(), cfg)
		if !errors.Is(err, runtime.ErrInvalidConfig) || rt != nil {
			t.Errorf("Start(%+v) = %v, %v; want ErrInvalidConfig", cfg, rt, err)
		}
	}
	if _, err := runtime.Start(context.Background(), runtime.Config{}, nil); !errors.Is(err, runtime.ErrInvalidConfig) {
		t.Errorf("Start with a nil structure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := runtime.Start(ctx, runtime.Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled ctx: %v", err)
	}
}

// TestSubmitRunsEveryTask counts tasks through Submit and checks Stats.
func TestSubmitRunsEveryTask(t *testing.T) {
	for _, capacity := range []int{0, 4} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			rt := start(t, runtime.Config{Workers: 3, MailboxCapacity: capacity})
			n := iters(20000)
			var ran atomic.Int64
			perWorker := make([]atomic.Int64, rt.Workers())
			for range n {
				if err := rt.Submit(func(w *runtime.Worker) {
					ran.Add(1)
					perWorker[w.ID()].Add(1)
				}); err != nil {
					t.Fatal(err)
				}
			}
			stop(t, rt)
			if ran.Load() != int64(n) {
				t.Fatalf("ran %d tasks, want %d", ran.Load(), n)
			}
			st := rt.Stats()
			if st.Tasks() != uint64(n) || st.Mailbox() != 0 {
				t.Fatalf("Stats: %d tasks, %d waiting; want %d, 0", st.Tasks(), st.Mailbox(), n)
			}
			for i, ws := range st.Workers {
				if ws.Tasks != uint64(perWorker[i].Load()) {
					t.Errorf("worker %d: Stats %d tasks, ran %d", i, ws.Tasks, perWorker[i].Load())
				}
				if ws.Tasks == 0 {
					t.Errorf("worker %d got no task: Submit does not spread", i)
				}
			}
		})
	}
}

// TestSubmitToOrder: tasks from one submitter to one worker run in order,
// on that worker, one at a time (no synchronization needed inside).
func TestSubmitToOrder(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 2})
	const producers = 4
	n := iters(5000)
	last := make([][producers]int, rt.Workers()) // owned by worker i
	var wg sync.WaitGroup
	errs := make(chan error, producers*2)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				shard := i % rt.Workers()
				if err := rt.SubmitTo(shard, func(w *runtime.Worker) {
					if w.ID() != shard {
						errs <- fmt.Errorf("task for shard %d ran on %d", shard, w.ID())
					}
					if prev := last[shard][p]; prev >= i {
						errs <- fmt.Errorf("producer %d: task %d after %d", p, i, prev)
					}
					last[shard][p] = i
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	stop(t, rt)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSubmitToOutOfRange(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 2})
	for _, shard := range []int{-1, 2, 1 << 40} {
		if err := rt.SubmitTo(shard, func(*runtime.Worker) {}); !errors.Is(err, runtime.ErrNoShard) {
			t.Errorf("SubmitTo(%d) = %v, want ErrNoShard", shard, err)
		}
		if _, err := runtime.Call(context.Background(), rt, shard, func(*runtime.Worker) (int, error) { return 0, nil }); !errors.Is(err, runtime.ErrNoShard) {
			t.Errorf("Call(%d) = %v, want ErrNoShard", shard, err)
		}
	}
}

func TestCall(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 2})
	for shard := range rt.Workers() {
		got, err := runtime.Call(context.Background(), rt, shard, func(w *runtime.Worker) (string, error) {
			return fmt.Sprintf("worker %d", w.ID()), nil
		})
		if err != nil || got != fmt.Sprintf("worker %d", shard) {
			t.Fatalf("Call(%d) = %q, %v", shard, got, err)
		}
	}
	boom := errors.New("boom")
	if _, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("Call error = %v, want boom", err)
	}
	// Cancellable contexts take the channel path; many concurrent callers
	// exceed the futex sleepers' bound.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, g := range goroutineCounts() {
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := context.Background()
				if i%2 == 0 {
					c = ctx
				}
				for j := range max(iters(40000)/g, 50) {
					v, err := runtime.Call(c, rt, j%rt.Workers(), func(*runtime.Worker) (int, error) { return i*1_000_000 + j, nil })
					if err != nil || v != i*1_000_000+j {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d goroutines: %d wrong replies", g, bad.Load())
		}
	}
}

// TestCallCancelled: a Call whose task is stuck returns ctx.Err(); the task
// still runs once released, and its cell is not reused early.
func TestCallCancelled(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1})
	release := make(chan struct{})
	var ran atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := runtime.Call(ctx, rt, 0, func(*runtime.Worker) (int, error) {
			close(started)
			<-release
			ran.Add(1)
			return 1, nil
		})
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Call = %v", err)
	}
	close(release)
	// Cells are pooled: later calls must see their own results.
	for i := range 100 {
		v, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return i, nil })
		if err != nil || v != i {
			t.Fatalf("Call after cancel = %d, %v; want %d", v, err, i)
		}
	}
	if ran.Load() != 1 {
		t.Fatalf("cancelled call's task ran %d times, want 1", ran.Load())
	}
	// A context already done is refused before sending.
	if _, err := runtime.Call(ctx, rt, 0, func(*runtime.Worker) (int, error) { ran.Add(1); return 0, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call with a done ctx = %v", err)
	}
	// A deadline that expires while the worker is busy.
	block := make(chan struct{})
	if err := rt.SubmitTo(0, func(*runtime.Worker) { <-block }); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer dcancel()
	if _, err := runtime.Call(dctx, rt, 0, func(*runtime.Worker) (int, error) { ran.Add(1); return 0, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call past its deadline = %v", err)
	}
	close(block)
	stop(t, rt)
	if ran.Load() != 2 {
		t.Fatalf("tasks ran %d times, want 2 (the expired Call's task still runs)", ran.Load())
	}
}

// TestCallCancelledBounded: a Call waiting for room in a full bounded
// mailbox gives up with its context.
func TestCallCancelledBounded(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1, MailboxCapacity: 1})
	block := make(chan struct{})
	if err := rt.SubmitTo(0, func(*runtime.Worker) { <-block }); err != nil {
		t.Fatal(err)
	}
	// Fill the one slot (the blocking task may or may not have been taken).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var ran atomic.Int64
	var errs []error
	for range 3 {
		_, err := runtime.Call(ctx, rt, 0, func(*runtime.Worker) (int, error) { ran.Add(1); return 0, nil })
		errs = append(errs, err)
	}
	close(block)
	stop(t, rt)
	for _, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Call on a full mailbox = %v, want DeadlineExceeded", err)
		}
	}
	if ran.Load() > 1 {
		t.Fatalf("%d refused calls ran", ran.Load())
	}
}

type panicRecord struct {
	worker int
	v      any
	stack  string
}

func TestPanics(t *testing.T) {
	var mu sync.Mutex
	var recs []panicRecord
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, nil))
	rt := start(t, runtime.Config{
		Workers: 2,
		Logger:  logger,
		OnPanic: func(id int, v any, stack []byte) {
			mu.Lock()
			recs = append(recs, panicRecord{id, v, string(stack)})
			mu.Unlock()
		},
	})
	var after atomic.Int64
	for i := range 10 {
		if err := rt.SubmitTo(1, func(w *runtime.Worker) {
			if i%2 == 0 {
				panicInTask(i)
			}
			after.Add(1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { panicInTask(-1); return 0, nil })
	var pe *runtime.PanicError
	if !errors.Is(err, runtime.ErrPanic) || !errors.As(err, &pe) || pe.Worker != 0 || pe.Value != "panicInTask -1" {
		t.Fatalf("Call of a panicking task = %v", err)
	}
	if !strings.Contains(string(pe.Stack), "panicInTask") {
		t.Fatalf("stack does not show the panic site:\n%s", pe.Stack)
	}
	// panic(error) unwraps to both ErrPanic and the error.
	sentinel := errors.New("sentinel")
	err = rt.Each(context.Background(), func(w *runtime.Worker) error {
		if w.ID() == 1 {
			panic(sentinel)
		}
		return nil
	})
	if !errors.Is(err, runtime.ErrPanic) || !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "worker 1") {
		t.Fatalf("Each with a panic = %v", err)
	}
	// Go's panics are reported with worker -1.
	if err := rt.Go(func() { panicInTask(-2) }); err != nil {
		t.Fatal(err)
	}
	stop(t, rt)
	if after.Load() != 5 {
		t.Fatalf("the worker ran %d non-panicking tasks after panics, want 5", after.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 5+1+1+1 {
		t.Fatalf("OnPanic called %d times, want 8", len(recs))
	}
	perWorker := map[int]int{}
	for _, r := range recs {
		perWorker[r.worker]++
		if !strings.Contains(r.stack, "runtime_test") {
			t.Errorf("panic %v: stack without the test frame", r.v)
		}
	}
	if perWorker[1] != 6 || perWorker[0] != 1 || perWorker[-1] != 1 {
		t.Fatalf("panics per worker %v", perWorker)
	}
	st := rt.Stats()
	if st.Workers[1].Panics != 6 || st.Blocking.Panics != 1 {
		t.Fatalf("Stats panics: worker 1 %d, blocking %d", st.Workers[1].Panics, st.Blocking.Panics)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logBuf.String(), "task panicked"); n != 8 {
		t.Fatalf("%d panic log records, want 8:\n%s", n, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "panicInTask") {
		t.Fatal("log records without the stack")
	}
}

//go:noinline
func panicInTask(i int) { panic(fmt.Sprintf("panicInTask %d", i)) }

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestOnPanicPanics: a panicking OnPanic does not kill the worker.
func TestOnPanicPanics(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1, OnPanic: func(int, any, []byte) { panic("again") }})
	if err := rt.Submit(func(*runtime.Worker) { panic("first") }); err != nil {
		t.Fatal(err)
	}
	v, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("worker after a panicking OnPanic: %d, %v", v, err)
	}
}

func TestEach(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 3})
	var seen [3]atomic.Int64
	if err := rt.Each(context.Background(), func(w *runtime.Worker) error {
		seen[w.ID()].Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("worker %d ran Each %d times", i, seen[i].Load())
		}
	}
	e1, e2 := errors.New("e1"), errors.New("e2")
	err := rt.Each(context.Background(), func(w *runtime.Worker) error {
		switch w.ID() {
		case 0:
			return e1
		case 2:
			return e2
		}
		return nil
	})
	if !errors.Is(err, e1) || !errors.Is(err, e2) || !strings.Contains(err.Error(), "worker 2") {
		t.Fatalf("Each errors = %v", err)
	}
	// ctx ends while a worker is stuck.
	release := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	var ran atomic.Int64
	err = rt.Each(ctx, func(w *runtime.Worker) error {
		if w.ID() == 1 {
			<-release
		}
		ran.Add(1)
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Each past its deadline = %v", err)
	}
	close(release)
	stop(t, rt)
	if ran.Load() != 3 {
		t.Fatalf("accepted Each tasks ran %d times, want 3", ran.Load())
	}
	if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != runtime.ErrStopped {
		t.Fatalf("Each after Stop = %v", err)
	}
}

func TestGo(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1, BlockingWorkers: 2})
	n := iters(2000)
	var ran atomic.Int64
	var onWorker atomic.Int64
	for range n {
		if err := rt.Go(func() {
			ran.Add(1)
			// Blocking work hands its result back to a worker.
			if err := rt.SubmitTo(0, func(*runtime.Worker) { onWorker.Add(1) }); err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	stop(t, rt)
	if ran.Load() != int64(n) || onWorker.Load() != int64(n) {
		t.Fatalf("Go ran %d, results delivered %d; want %d", ran.Load(), onWorker.Load(), n)
	}
	if st := rt.Stats().Blocking; st.Submitted != uint64(n) || st.Cap != 2 {
		t.Fatalf("blocking stats %+v", st)
	}
	if err := rt.Go(func() {}); err != runtime.ErrStopped {
		t.Fatalf("Go after Stop = %v", err)
	}
}

// TestStop: idempotent, concurrent, ctx-aware, refuses later work, and
// cancels Context.
func TestStop(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 2})
	release := make(chan struct{})
	started := make(chan struct{})
	var finished atomic.Bool
	if err := rt.SubmitTo(0, func(*runtime.Worker) {
		close(started)
		<-release
		finished.Store(true)
	}); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := rt.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a stuck task = %v, want DeadlineExceeded", err)
	}
	if rt.Context().Err() == nil {
		t.Fatal("Context not cancelled by Stop")
	}
	select {
	case <-rt.Done():
		t.Fatal("Done closed while a task runs")
	default:
	}
	close(release)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop(t, rt)
		}()
	}
	wg.Wait()
	<-rt.Done()
	if !finished.Load() {
		t.Fatal("Stop returned before the accepted task finished")
	}
	if err := rt.Submit(func(*runtime.Worker) {}); err != runtime.ErrStopped {
		t.Fatalf("Submit after Stop = %v", err)
	}
	if err := rt.SubmitTo(1, func(*runtime.Worker) {}); err != runtime.ErrStopped {
		t.Fatalf("SubmitTo after Stop = %v", err)
	}
	if _, err := runtime.Call(context.Background(), rt, 1, func(*runtime.Worker) (int, error) { return 0, nil }); err != runtime.ErrStopped {
		t.Fatalf("Call after Stop = %v", err)
	}
	cancelled, c := context.WithCancel(context.Background())
	c()
	if err := rt.Stop(cancelled); err != nil {
		t.Fatalf("Stop of a stopped runtime with a done ctx = %v", err)
	}
}

// TestStopFromTask: a task or a Go task may start the stop, even with a
// context that never ends; Stop returns ErrSelfWait at once (it cannot wait
// for its own caller), and the runtime then finishes stopping.
func TestStopFromTask(t *testing.T) {
	for _, fromGo := range []bool{false, true} {
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		if fromGo {
			err = rt.Go(func() { errc <- rt.Stop(context.Background()) })
		} else {
			err = rt.Submit(func(w *runtime.Worker) { errc <- w.Runtime().Stop(context.Background()) })
		}
		if err != nil {
			t.Fatal(err)
		}
		testutil.Within(t, "Stop from a task", func() { err = <-errc })
		if !errors.Is(err, runtime.ErrSelfWait) {
			t.Fatalf("Stop from a task (Go %v) = %v, want ErrSelfWait", fromGo, err)
		}
		testutil.Within(t, "the stop", func() { <-rt.Done() })
		if err := rt.Stop(context.Background()); err != nil {
			t.Fatalf("Stop after the stop: %v", err)
		}
	}
}

// TestAfterBatch: callbacks run once per batch, after the batch's tasks,
// on the owner; a callback registered by a callback still runs.
func TestAfterBatch(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1, Batch: 8})
	type shard struct {
		pending   int // owner only
		published []int
		flush     func(*runtime.Worker)
		dirty     bool
	}
	s := &shard{}
	s.flush = func(*runtime.Worker) {
		s.published = append(s.published, s.pending)
		s.pending, s.dirty = 0, false
	}
	block := make(chan struct{})
	if err := rt.SubmitTo(0, func(*runtime.Worker) { <-block }); err != nil {
		t.Fatal(err)
	}
	const writes = 20
	tasks := make([]func(*runtime.Worker), writes)
	for i := range tasks {
		tasks[i] = func(w *runtime.Worker) {
			s.pending++
			if !s.dirty {
				s.dirty = true
				w.AfterBatch(s.flush)
			}
		}
	}
	for _, f := range tasks {
		if err := rt.SubmitTo(0, f); err != nil {
			t.Fatal(err)
		}
	}
	close(block)
	chained := make(chan int, 1)
	if err := rt.SubmitTo(0, func(w *runtime.Worker) {
		w.AfterBatch(func(w *runtime.Worker) {
			w.AfterBatch(func(*runtime.Worker) { chained <- 2 })
		})
	}); err != nil {
		t.Fatal(err)
	}
	if got := <-chained; got != 2 {
		t.Fatal("chained callback")
	}
	got, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) ([]int, error) {
		return append([]int(nil), s.published...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range got {
		if n < 1 || n > 8 {
			t.Fatalf("a flush covered %d writes, batch is 8: %v", n, got)
		}
		total += n
	}
	// The writes were queued behind a blocked task: they arrive in full
	// batches of at most 8, so there are far fewer flushes than writes.
	if total != writes || len(got) > 4 {
		t.Fatalf("flushes %v: total %d (want %d) in at most 4 flushes", got, total, writes)
	}
}

func TestNilTaskPanics(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1})
	for name, f := range map[string]func(){
		"Submit":   func() { _ = rt.Submit(nil) },
		"SubmitTo": func() { _ = rt.SubmitTo(0, nil) },
		"Go":       func() { _ = rt.Go(nil) },
		"Each":     func() { _ = rt.Each(context.Background(), nil) },
		"Call":     func() { _, _ = runtime.Call[int](context.Background(), rt, 0, nil) },
	} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "runtime: ") {
					t.Errorf("%s(nil): recovered %v", name, v)
				}
			}()
			f()
		}()
	}
}

// TestDedicatedProcs: with DedicatedProcs the runtime adds one P per worker
// while it runs and gives them back at Stop.
func TestDedicatedProcs(t *testing.T) {
	before := goruntime.GOMAXPROCS(0)
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 3, DedicatedProcs: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := goruntime.GOMAXPROCS(0); got != before+3 {
		t.Fatalf("GOMAXPROCS %d while running, want %d", got, before+3)
	}
	got, err := runtime.Call(context.Background(), rt, 2, func(w *runtime.Worker) (int, error) { return w.ID(), nil })
	if err != nil || got != 2 {
		t.Fatalf("Call: %d, %v", got, err)
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := goruntime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after Stop, want %d", got, before)
	}
}
