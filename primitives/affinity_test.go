package primitives_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

func TestPinThread(t *testing.T) {
	if !primitives.PinSupported {
		if err := primitives.PinThread(0); err == nil {
			t.Fatal("PinThread succeeded where unsupported")
		}
		return
	}
	allowed, err := primitives.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	target := allowed[len(allowed)-1]
	done := make(chan []int)
	go func() {
		// Lock and never unlock: the pinned thread is discarded when this
		// goroutine exits, so its narrowed mask cannot leak to other threads.
		runtime.LockOSThread()
		if err := primitives.PinThread(target); err != nil {
			t.Error(err)
			done <- nil
			return
		}
		got, err := primitives.AllowedCPUs()
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if got := <-done; !slices.Equal(got, []int{target}) {
		t.Fatalf("after pinning to %d the thread may run on %v", target, got)
	}
	if err := primitives.PinThread(-1); err == nil {
		t.Fatal("PinThread(-1) succeeded")
	}
	after, _ := primitives.AllowedCPUs()
	if !slices.Equal(after, allowed) && len(allowed) > 1 {
		// This goroutine's thread was never pinned; its mask must be intact.
		t.Fatalf("the test goroutine's mask changed to %v", after)
	}
}
