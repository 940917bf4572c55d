package primitives_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

func TestFutexMismatchReturnsAtOnce(t *testing.T) {
	var f primitives.Futex
	f.Store(7)
	if err := f.Wait(6, 0); err != nil {
		t.Fatalf("Wait with a stale value: %v", err)
	}
	if err := f.Wait(6, time.Hour); err != nil {
		t.Fatalf("Wait with a stale value and a timeout: %v", err)
	}
}

func TestFutexTimeout(t *testing.T) {
	var f primitives.Futex
	const d = 20 * time.Millisecond
	start := time.Now()
	err := f.Wait(0, d)
	if !errors.Is(err, primitives.ErrTimeout) {
		t.Fatalf("Wait timed out with %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("Wait returned after %v, before its %v deadline", el, d)
	}
	if err := f.Wait(0, -time.Second); !errors.Is(err, primitives.ErrTimeout) {
		t.Fatalf("negative timeout: %v, want ErrTimeout", err)
	}
}

func TestFutexWakeReleasesWaiter(t *testing.T) {
	var f primitives.Futex
	done := make(chan error)
	go func() {
		for f.Load() == 0 {
			if err := f.Wait(0, 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	f.Store(1)
	f.Wake(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFutexWakeNonPositiveWakesNobody(t *testing.T) {
	var f primitives.Futex
	if n := f.Wake(0); n != 0 {
		t.Fatalf("Wake(0) = %d", n)
	}
	if n := f.Wake(-3); n != 0 {
		t.Fatalf("Wake(-3) = %d", n)
	}
}

// TestFutexWakeAtMostN checks that Wake(n) never wakes more than n waiters
// and that the remaining ones are woken by later calls: the number of waiters
// that return equals the sum of Wake's results.
func TestFutexWakeAtMostN(t *testing.T) {
	var f primitives.Futex
	const waiters, n = 6, 2
	returned := make(chan struct{}, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.Wait(0, 0); err != nil {
				t.Error(err)
			}
			returned <- struct{}{}
		}()
	}
	total := 0
	for total < waiters {
		r := f.Wake(n)
		if r > n {
			t.Fatalf("Wake(%d) woke %d", n, r)
		}
		for range r {
			<-returned // each woken waiter returns exactly once
		}
		total += r
		if r == 0 {
			runtime.Gosched() // let the remaining waiters reach Wait
		}
	}
	wg.Wait()
	if len(returned) != 0 {
		t.Fatalf("%d waiters returned without a wake", len(returned))
	}
}
