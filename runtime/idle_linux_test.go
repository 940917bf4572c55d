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

// TestIdleCPU: an idle runtime's workers park on their futexes; the process
// uses less than a few ms of CPU per second. A resource bound, not a speed
// assertion.
func TestIdleCPU(t *testing.T) {
	const workers = 4
	rt := start(t, runtime.Config{Workers: workers})
	// Make every worker go through a busy/park cycle first.
	for range 3 {
		if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	const window = 500 * time.Millisecond
	c0, t0 := cpuTime(t), time.Now()
	time.Sleep(window) // the measurement window, not a synchronization
	used, elapsed := cpuTime(t)-c0, time.Since(t0)
	rate := time.Duration(float64(used) / elapsed.Seconds())
	t.Logf("%d idle workers: %v CPU in %v (%v per second)", workers, used, elapsed, rate)
	if rate > 5*time.Millisecond {
		t.Fatalf("idle runtime used %v of CPU per second, want < 5ms", rate)
	}
	for _, ws := range rt.Stats().Workers {
		if ws.Parks == 0 {
			t.Errorf("worker %d never parked", ws.ID)
		}
	}
}
