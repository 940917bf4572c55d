package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zipora-go/zipora/runtime"
)

// FuzzConfig: Start accepts exactly the documented ranges, and a runtime it
// returns runs tasks on every worker and stops cleanly.
func FuzzConfig(f *testing.F) {
	f.Add(1, 0, 0, int64(0), 0)
	f.Add(3, 2, 1, int64(-1), 1)
	f.Add(-1, 0, 0, int64(0), 0)
	f.Add(2, -5, 0, int64(5000), 70000)
	f.Add(1, 1, -1, int64(-2), 8)
	f.Fuzz(func(t *testing.T, workers, capacity, blocking int, spin int64, batch int) {
		// Keep thread counts and allocations small: fold large valid
		// values into a small range, keep the sign (validity) of the rest.
		if workers > 4 && workers <= runtime.MaxWorkers {
			workers = 1 + workers%4
		}
		if capacity > 64 {
			capacity = 1 + capacity%64
		}
		if blocking > 8 {
			blocking = 1 + blocking%8
		}
		if spin > int64(time.Millisecond) {
			spin %= int64(time.Millisecond)
		}
		cfg := runtime.Config{Workers: workers, MailboxCapacity: capacity, BlockingWorkers: blocking, Spin: time.Duration(spin), Batch: batch}
		valid := workers >= 0 && workers <= runtime.MaxWorkers && capacity >= 0 && blocking >= 0 && blocking <= runtime.MaxBlockingWorkers &&
			spin >= int64(runtime.NoSpin) && batch >= 0 && batch <= 1<<16 &&
			(workers == 0 || int64(workers)*(int64(capacity)+int64(max(batch, runtime.DefaultBatch))) <= runtime.MaxQueuedTasks)
		rt, err := runtime.Start(context.Background(), cfg)
		if !valid {
			if !errors.Is(err, runtime.ErrInvalidConfig) || rt != nil {
				t.Fatalf("Start(%+v) = %v, %v; want ErrInvalidConfig", cfg, rt, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Start(%+v): %v", cfg, err)
		}
		ran := make([]int, rt.Workers())
		for i := range 3 * rt.Workers() {
			if err := rt.SubmitTo(i%rt.Workers(), func(w *runtime.Worker) { ran[w.ID()]++ }); err != nil {
				t.Fatal(err)
			}
		}
		if err := rt.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i, n := range ran {
			if n != 3 {
				t.Fatalf("worker %d ran %d tasks, want 3", i, n)
			}
		}
	})
}
