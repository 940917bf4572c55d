package runtime_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/runtime"
)

// threads returns the number of OS threads of this process (Linux), or -1.
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// TestStartStopCycles: 1,000 Start/Stop cycles, each running tasks, leave
// no goroutine and no thread behind.
func TestStartStopCycles(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	before := threads()
	for i := range cycles {
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 1 + i%2, Pin: i%4 == 3 && pinnable()})
		if err != nil {
			t.Fatalf("cycle %d: Start: %v", i, err)
		}
		if err := rt.Submit(func(*runtime.Worker) {}); err != nil {
			t.Fatal(err)
		}
		if _, err := runtime.Call(context.Background(), rt, rt.Workers()-1, func(w *runtime.Worker) (int, error) { return w.ID(), nil }); err != nil {
			t.Fatal(err)
		}
		if err := rt.Go(func() {}); err != nil {
			t.Fatal(err)
		}
		if err := rt.Stop(context.Background()); err != nil {
			t.Fatalf("cycle %d: Stop: %v", i, err)
		}
	}
	goleak.VerifyNone(t, ignore)
	// Worker threads exit (locked) with their goroutines; the kernel reaps
	// them asynchronously, so allow a handful in flight — a leak would be
	// one or two per cycle.
	if after := threads(); before > 0 && after > before+8 {
		t.Fatalf("threads grew from %d to %d over %d cycles", before, after, cycles)
	}
}
