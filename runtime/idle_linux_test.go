//go:build linux

package runtime_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zipora-go/zipora/runtime"
)

func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuRate returns the process's lowest CPU use per second over a few
// windows: the best window is the one least disturbed by the rest of the
// machine and of the process (GC, the race detector's threads).
func cpuRate(t *testing.T) time.Duration {
	const windows, window = 5, 200 * time.Millisecond
	best := time.Duration(-1)
	for range windows {
		c0, t0 := cpuTime(t), time.Now()
		time.Sleep(window) // the measurement window, not a synchronization
		rate := time.Duration(float64(cpuTime(t)-c0) / time.Since(t0).Seconds())
		if best < 0 || rate < best {
			best = rate
		}
	}
	return best
}

// TestIdleCPU: an idle runtime's workers park on their futexes; the process
// uses at most a few ms of CPU per second more than it does with no runtime
// (measured first, in the same process: a loaded machine or the race
// detector raise both). One spinning worker would add about a second per
// second. A resource bound, not a speed assertion.
func TestIdleCPU(t *testing.T) {
	const workers = 4
	const limit = 5 * time.Millisecond
	baseline := cpuRate(t)
	rt := start(t, runtime.Config{Workers: workers})
	// Make every worker go through a busy/park cycle first.
	for range 3 {
		if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	idle := cpuRate(t)
	t.Logf("CPU per second: %v with no runtime, %v with %d idle workers", baseline, idle, workers)
	if idle-baseline > limit {
		t.Fatalf("idle runtime used %v of CPU per second more than none, want < %v", idle-baseline, limit)
	}
	for _, ws := range rt.Stats().Workers {
		if ws.Parks == 0 {
			t.Errorf("worker %d never parked", ws.ID)
		}
	}
}
