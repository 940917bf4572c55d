package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/runtime"
)

// TestStopExactlyOnce: g goroutines submit through every entry point while
// Stop races them. Every submission that returned nil ran exactly once (Each:
// once per worker); every refused one returned ErrStopped and never ran; a
// submission begun after Stop returned is refused.
func TestStopExactlyOnce(t *testing.T) {
	for _, capacity := range []int{0, 8} {
		for _, g := range goroutineCounts() {
			t.Run(fmt.Sprintf("capacity=%d/goroutines=%d", capacity, g), func(t *testing.T) {
				stopExactlyOnce(t, g, capacity)
			})
		}
	}
}

func stopExactlyOnce(t *testing.T, g, capacity int) {
	rt := start(t, runtime.Config{Workers: 2, MailboxCapacity: capacity, BlockingWorkers: 4})
	perG := max(iters(4000)/g, 20)
	total := g * perG
	runs := make([]atomic.Int32, total) // runs[id]: times the task of op id ran
	want := make([]int32, total)        // want[id]: runs expected from the op's result
	stopAt := total / 2                 // ops issued before Stop is called
	var issued atomic.Int64
	trigger := make(chan struct{})
	var once sync.Once
	var stopped atomic.Bool // set once Stop has returned
	var wg sync.WaitGroup
	errs := make(chan error, g)
	for gi := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perG {
				id := gi*perG + k
				if issued.Add(1) == int64(stopAt) {
					once.Do(func() { close(trigger) })
				}
				after := stopped.Load()
				n, err := submitOp(rt, id, runs)
				switch {
				case err == nil && after:
					errs <- fmt.Errorf("op %d (kind %d) accepted after Stop returned", id, id%5)
					return
				case err == nil:
					want[id] = n
				case err != runtime.ErrStopped:
					errs <- fmt.Errorf("op %d (kind %d): %v", id, id%5, err)
					return
				}
			}
		}()
	}
	<-trigger
	stop(t, rt)
	stopped.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	accepted, refused := 0, 0
	for id := range runs {
		if got := runs[id].Load(); got != want[id] {
			t.Fatalf("op %d (kind %d): ran %d times, want %d", id, id%5, got, want[id])
		}
		if want[id] > 0 {
			accepted++
		} else {
			refused++
		}
	}
	if accepted == 0 {
		t.Fatal("no submission was accepted")
	}
	t.Logf("%d accepted, %d refused", accepted, refused)
}

// submitOp submits op id through the entry point id%5 and returns how many
// times its task must run if the submission was accepted.
func submitOp(rt *runtime.Runtime, id int, runs []atomic.Int32) (int32, error) {
	task := func(*runtime.Worker) { runs[id].Add(1) }
	switch id % 5 {
	case 0:
		return 1, rt.Submit(task)
	case 1:
		return 1, rt.SubmitTo(id%rt.Workers(), task)
	case 2:
		v, err := runtime.Call(context.Background(), rt, id%rt.Workers(), func(w *runtime.Worker) (int, error) {
			task(w)
			return id, nil
		})
		if err == nil && v != id {
			return 0, fmt.Errorf("Call returned %d", v)
		}
		return 1, err
	case 3:
		return int32(rt.Workers()), rt.Each(context.Background(), func(w *runtime.Worker) error {
			task(w)
			return nil
		})
	default:
		return 1, rt.Go(func() { task(nil) })
	}
}
