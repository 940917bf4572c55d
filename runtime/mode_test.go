package runtime_test

import (
	"context"
	"errors"
	"runtime/pprof"
	"testing"

	"github.com/zipora-go/zipora/runtime"
)

// TestModeConfig: a zero Mode is the default (Goroutines outside the
// tests' second pass), Pin implies Threads, an unknown Mode is
// ErrInvalidConfig.
func TestModeConfig(t *testing.T) {
	if m, err := runtime.ResolvedMode(runtime.Config{}); err != nil || m != runtime.DefaultModeForTest() {
		t.Fatalf("zero Mode resolves to %v, %v; want %v", m, err, runtime.DefaultModeForTest())
	}
	if m, err := runtime.ResolvedMode(runtime.Config{Mode: runtime.Threads}); err != nil || m != runtime.Threads {
		t.Fatalf("Threads resolves to %v, %v", m, err)
	}
	if pinnable() {
		if m, err := runtime.ResolvedMode(runtime.Config{Pin: true}); err != nil || m != runtime.Threads {
			t.Fatalf("Pin resolves to %v, %v; want Threads", m, err)
		}
	}
	if _, err := runtime.Start(context.Background(), runtime.Config{Mode: runtime.Threads + 1}); !errors.Is(err, runtime.ErrInvalidConfig) {
		t.Fatalf("Start with Mode %v = %v, want ErrInvalidConfig", runtime.Threads+1, err)
	}
	for m, want := range map[runtime.Mode]string{runtime.Goroutines: "goroutines", runtime.Threads: "threads", 9: "Mode(9)"} {
		if m.String() != want {
			t.Errorf("Mode(%d).String() = %q, want %q", m, m.String(), want)
		}
	}
}

// TestZeroAllocs: Call (with and without a cancellable context), Submit,
// SubmitTo and Each do not allocate once warm, in either mode (the
// workers' own allocations count too: AllocsPerRun reads the process's).
func TestZeroAllocs(t *testing.T) {
	explicitModes(t)
	for _, mode := range []runtime.Mode{runtime.Goroutines, runtime.Threads} {
		t.Run(mode.String(), func(t *testing.T) {
			rt := start(t, runtime.Config{Workers: 2, Mode: mode})
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := func(w *runtime.Worker) (int, error) { return w.ID(), nil }
			noop := func(*runtime.Worker) {}
			noopErr := func(*runtime.Worker) error { return nil }
			ops := []struct {
				name string
				op   func() error
			}{
				{"Call", func() error { _, err := runtime.Call(context.Background(), rt, 1, f); return err }},
				{"Call/cancellable", func() error { _, err := runtime.Call(cctx, rt, 0, f); return err }},
				{"Submit", func() error { return rt.Submit(noop) }},
				{"SubmitTo", func() error { return rt.SubmitTo(1, noop) }},
				{"Each", func() error { return rt.Each(context.Background(), noopErr) }},
			}
			for _, o := range ops {
				var err error
				for range 100 { // warm: pools, mailbox segments
					if err = o.op(); err != nil {
						t.Fatalf("%s: %v", o.name, err)
					}
				}
				// Submits must not pile up into new segments: drain first.
				if err := rt.Each(context.Background(), noopErr); err != nil {
					t.Fatal(err)
				}
				n := testing.AllocsPerRun(200, func() {
					if e := o.op(); e != nil {
						err = e
					}
				})
				if err != nil {
					t.Fatalf("%s: %v", o.name, err)
				}
				if n != 0 {
					t.Errorf("%s: %v allocations per call, want 0", o.name, n)
				}
			}
		})
	}
}

// TestGoroutinesLockNoThread: 256 Goroutines workers, all woken at once,
// leave the process with far fewer than 256 more OS threads; Threads
// workers add one each (the threadcreate profile counts the threads that
// exist).
func TestGoroutinesLockNoThread(t *testing.T) {
	explicitModes(t)
	const workers = 256
	created := func(mode runtime.Mode) int {
		threads := pprof.Lookup("threadcreate")
		before := threads.Count()
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: workers, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		for range 3 {
			if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		return threads.Count() - before // while they run: exited threads leave the count
	}
	g, th := created(runtime.Goroutines), created(runtime.Threads)
	t.Logf("threads created: %d for %d Goroutines workers, %d for Threads workers", g, workers, th)
	if g >= workers/2 {
		t.Errorf("Goroutines workers added %d threads, want far fewer than %d", g, workers)
	}
	if th < workers/2 { // a locked goroutine may take an idle thread
		t.Errorf("Threads workers added %d threads, want about %d", th, workers)
	}
}

// TestTaskGoroutineIsNotTheWorker: a goroutine started by a task is not
// its worker: CurrentWorker says so, and its Call to that worker runs
// (it is no self-wait) while the task that started it waits for it.
func TestTaskGoroutineIsNotTheWorker(t *testing.T) {
	rt := start(t, runtime.Config{Workers: 1})
	errs := make(chan error, 1)
	if err := rt.SubmitTo(0, func(w *runtime.Worker) {
		isWorker := make(chan bool)
		go func() {
			_, ok := rt.CurrentWorker()
			isWorker <- ok
			// Queued behind the task: runs once the task returns.
			v, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return 7, nil })
			if err == nil && v != 7 {
				err = errors.New("Call returned the wrong value")
			}
			errs <- err
		}()
		if <-isWorker {
			t.Error("a goroutine started by a task is its worker")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// explicitModes skips a test that names both modes itself in the second
// pass of TestMain, where a zero (Goroutines) Mode means Threads.
func explicitModes(t *testing.T) {
	if runtime.DefaultModeForTest() != runtime.Goroutines {
		t.Skip("names its modes; runs in the first pass")
	}
}
