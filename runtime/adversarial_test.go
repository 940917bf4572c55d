package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
)

// Adversarial tests: misuse, huge inputs, and Stop racing the fixes of
// issue 13 (self-waits, Goexit, nested Go).

// ops runs op(id) for id in [0, g*perG) on g goroutines, perG each, and
// returns once all have returned.
func ops(g, perG int, op func(id int)) {
	var wg sync.WaitGroup
	for gi := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perG {
				op(gi*perG + k)
			}
		}()
	}
	wg.Wait()
}

// TestHugeConfig: values that would exhaust threads or memory (which Go
// cannot recover from) are refused with ErrInvalidConfig; a huge
// MaxBlockingWorkers costs nothing up front.
func TestHugeConfig(t *testing.T) {
	for _, cfg := range []runtime.Config{
		{Workers: 10_000},
		{Workers: 2, MailboxCapacity: math.MaxInt},
		{Workers: 1, MailboxCapacity: runtime.MaxQueuedTasks},
		{Workers: runtime.MaxWorkers, Batch: 1 << 16},
		{Workers: 1, BlockingWorkers: math.MaxInt},
	} {
		if rt, err := runtime.Start(context.Background(), cfg); !errors.Is(err, runtime.ErrInvalidConfig) || rt != nil {
			t.Fatalf("Start(%+v) = %v, %v; want ErrInvalidConfig", cfg, rt, err)
		}
	}
	rt := start(t, runtime.Config{Workers: 1, BlockingWorkers: runtime.MaxBlockingWorkers})
	done := make(chan struct{})
	if err := rt.Go(func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

// TestGoexitStorm: goroutines submit through every entry point; a third of
// the tasks call runtime.Goexit. Every accepted task runs (or exits) once,
// a Call or Each that hit an exit gets ErrGoexit, and Stop reports it.
func TestGoexitStorm(t *testing.T) {
	for _, g := range goroutineCounts() {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, BlockingWorkers: 4})
			if err != nil {
				t.Fatal(err)
			}
			perG := max(iters(600)/g, 12)
			var accepted, ran atomic.Int64
			ops(g, perG, func(id int) {
				body := func() {
					ran.Add(1)
					if id%3 == 0 {
						goruntime.Goexit()
					}
				}
				var err error
				switch id % 4 {
				case 0:
					err = rt.SubmitTo(id%2, func(*runtime.Worker) { body() })
				case 1:
					_, err = runtime.Call(context.Background(), rt, id%2, func(*runtime.Worker) (int, error) { body(); return 0, nil })
					if id%3 == 0 && !errors.Is(err, runtime.ErrGoexit) {
						t.Errorf("Call of an exiting task: %v", err)
					}
					err = nil
				case 2:
					err = rt.Go(body)
				default:
					err = rt.Submit(func(*runtime.Worker) { body() })
				}
				if err != nil {
					t.Errorf("op %d: %v", id, err)
					return
				}
				accepted.Add(1)
			})
			testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
			if !errors.Is(err, runtime.ErrGoexit) || !errors.Is(err, runtime.ErrPanic) {
				t.Fatalf("Stop: %v, want ErrGoexit", err)
			}
			if accepted.Load() != ran.Load() {
				t.Fatalf("accepted %d, ran %d", accepted.Load(), ran.Load())
			}
		})
	}
}

// TestStopRacesSelfWaits: tasks fill their own and each other's bounded
// mailboxes, Go tasks nest Go on a tiny pool, and Stop races them: nothing
// hangs, every accepted task runs once, every refusal is ErrSelfWait or
// ErrStopped.
func TestStopRacesSelfWaits(t *testing.T) {
	for _, g := range goroutineCounts() {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, MailboxCapacity: 2, BlockingWorkers: 2})
			if err != nil {
				t.Fatal(err)
			}
			var accepted, ran, unexpected atomic.Int64
			var firstErr atomic.Value
			count := func(err error) {
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, runtime.ErrSelfWait), errors.Is(err, runtime.ErrStopped):
				default:
					if unexpected.Add(1) == 1 {
						firstErr.Store(err)
					}
				}
			}
			leaf := func(*runtime.Worker) { ran.Add(1) }
			perG := max(iters(400)/g, 10)
			submitted := make(chan struct{})
			go func() {
				defer close(submitted)
				ops(g, perG, func(id int) {
					var err error
					if id%2 == 0 {
						err = rt.SubmitTo(id%2, func(w *runtime.Worker) {
							ran.Add(1)
							for j := range 4 { // own and the other worker's mailbox
								count(rt.SubmitTo((w.ID()+j)%2, leaf))
							}
							_, err := runtime.Call(context.Background(), rt, w.ID(), func(*runtime.Worker) (int, error) { return 0, nil })
							if !errors.Is(err, runtime.ErrSelfWait) && !errors.Is(err, runtime.ErrStopped) {
								count(fmt.Errorf("self Call: %v", err))
							}
						})
					} else {
						err = rt.Go(func() {
							ran.Add(1)
							count(rt.Go(func() { ran.Add(1); count(rt.Go(func() { ran.Add(1) })) }))
						})
					}
					count(err)
				})
			}()
			testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
			if err != nil {
				t.Fatal(err)
			}
			testutil.Within(t, "submitters", func() { <-submitted })
			if n := unexpected.Load(); n > 0 {
				t.Fatalf("%d unexpected errors, the first: %v", n, firstErr.Load())
			}
			if accepted.Load() != ran.Load() {
				t.Fatalf("accepted %d, ran %d", accepted.Load(), ran.Load())
			}
		})
	}
}

// goexitHooks calls runtime.Goexit in OnWorkerStop on worker 0, and in an
// AfterBatch callback it registers in OnWorkerStart.
type goexitHooks struct{ afterRan atomic.Int32 }

func (*goexitHooks) Attach(int) error { return nil }
func (*goexitHooks) Detach()          {}
func (h *goexitHooks) OnWorkerStart(w *runtime.Worker) {
	w.AfterBatch(func(*runtime.Worker) { goruntime.Goexit() })
	w.AfterBatch(func(*runtime.Worker) { h.afterRan.Add(1) })
}
func (*goexitHooks) OnWorkerStop(w *runtime.Worker) {
	if w.ID() == 0 {
		goruntime.Goexit()
	}
}

// TestGoexitInHooks: a Goexit in a start-time AfterBatch callback does not
// stop Start (the next callback still runs), one in OnWorkerStop does not
// skip the later structures' stop hooks; Stop reports both.
func TestGoexitInHooks(t *testing.T) {
	h := &goexitHooks{}
	later := &recorder{}
	var rt *runtime.Runtime
	var err error
	testutil.Within(t, "Start", func() { rt, err = runtime.Start(context.Background(), runtime.Config{Workers: 2}, h, later) })
	if err != nil {
		t.Fatal(err)
	}
	if n := h.afterRan.Load(); n != 2 {
		t.Fatalf("the callback after the exiting one ran on %d workers, want 2", n)
	}
	testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
	if !errors.Is(err, runtime.ErrGoexit) {
		t.Fatalf("Stop: %v, want ErrGoexit", err)
	}
	if len(later.stoppedWorkers) != 2 {
		t.Fatalf("the later structure's OnWorkerStop ran on workers %v, want both", later.stoppedWorkers)
	}
}
