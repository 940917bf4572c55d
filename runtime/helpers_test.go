package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/zipora-go/zipora/runtime"
)

// start starts a runtime and stops it (checking the error) when the test
// ends.
func start(t testing.TB, cfg runtime.Config, structures ...runtime.Structure) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.Start(context.Background(), cfg, structures...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stop(t, rt) })
	return rt
}

// stop stops rt with a generous deadline (a hang is a failure, not a
// timeout of the whole test binary).
func stop(t testing.TB, rt *runtime.Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// iters scales n down under the race detector and -short.
func iters(n int) int {
	n /= scale
	if testing.Short() {
		n /= 4
	}
	return max(n, 1)
}
