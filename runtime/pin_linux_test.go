//go:build linux

package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/runtime"
)

// TestPin: with Pin on, a task reads its thread's affinity and sees exactly
// its worker's CPU.
func TestPin(t *testing.T) {
	allowed := primitives.Topology().Allowed
	workers := len(allowed) + 1 // wraps around onto the first CPU
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: workers, Pin: true})
	if err != nil {
		t.Skipf("cannot pin here: %v", err)
	}
	defer stop(t, rt)
	err = rt.Each(context.Background(), func(w *runtime.Worker) error {
		if want := allowed[w.ID()%len(allowed)]; w.CPU() != want {
			return fmt.Errorf("CPU() = %d, want %d", w.CPU(), want)
		}
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return err
		}
		if set.Count() != 1 || !set.IsSet(w.CPU()) {
			return fmt.Errorf("affinity has %d CPUs, want only CPU %d", set.Count(), w.CPU())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The pinned threads' masks did not leak: a Go task (an ordinary
	// goroutine) still sees every allowed CPU.
	res := make(chan int, 1)
	if err := rt.Go(func() {
		var set unix.CPUSet
		_ = unix.SchedGetaffinity(0, &set)
		res <- set.Count()
	}); err != nil {
		t.Fatal(err)
	}
	if n := <-res; n != len(allowed) {
		t.Fatalf("an ordinary goroutine's thread allows %d CPUs, want %d", n, len(allowed))
	}
}

// TestPinFailureStopsEverything: a CPU that cannot be pinned fails Start
// with no worker left running (goleak checks the package).
func TestPinFailureStopsEverything(t *testing.T) {
	s := &recorder{}
	restore := runtime.SetPinCPUsForTest([]int{primitives.Topology().Allowed[0], 1 << 20})
	defer restore()
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, Pin: true}, s)
	if err == nil || rt != nil {
		t.Fatalf("Start pinned to an impossible CPU = %v, %v", rt, err)
	}
	t.Logf("pin error: %v", err)
	if s.attached != 1 || s.detached != 1 {
		t.Fatalf("structure attached %d, detached %d; want 1, 1", s.attached, s.detached)
	}
}
