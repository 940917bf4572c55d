package primitives_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

func TestParkerUnparkBeforeParkIsKept(t *testing.T) {
	var p primitives.Parker
	p.Unpark()
	p.Unpark() // notifications do not accumulate
	if !p.Park(0) {
		t.Fatal("Park after Unpark reported a timeout")
	}
	if p.Park(time.Millisecond) {
		t.Fatal("second Park consumed a notification that was absorbed")
	}
}

func TestParkerTimeout(t *testing.T) {
	var p primitives.Parker
	const d = 10 * time.Millisecond
	start := time.Now()
	if p.Park(d) {
		t.Fatal("Park without Unpark returned true")
	}
	if el := time.Since(start); el < d {
		t.Fatalf("Park returned after %v, before %v", el, d)
	}
	if p.Park(-1) {
		t.Fatal("Park(-1) without a notification returned true")
	}
	p.Unpark()
	if !p.Park(-1) {
		t.Fatal("Park(-1) did not consume a pending notification")
	}
}

func TestParkerWakesSleeper(t *testing.T) {
	var p primitives.Parker
	p.SetSpin(1)
	done := make(chan bool)
	go func() { done <- p.Park(0) }()
	for !p.Parked() {
		// Wait for the consumer to be asleep so the wake goes through Wake.
		runtimeGosched()
	}
	p.Unpark()
	if !<-done {
		t.Fatal("Park returned false")
	}
}

// TestParkerHandoffs passes a token back and forth between two goroutines
// through two Parkers; a lost wake-up would stall a side (caught by the
// watchdog timeout) and a spurious true would break the sequence check.
func TestParkerHandoffs(t *testing.T) {
	// 1,000,000 handoffs in all (a tenth under -race or -short), half with
	// an immediate sleep, half with the default spin.
	handoffs := 500_000 / scale
	if testing.Short() {
		handoffs /= 10
	}
	for _, spin := range []int{1, 0} {
		var ping, pong primitives.Parker
		ping.SetSpin(spin)
		pong.SetSpin(spin)
		var seq atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= int64(handoffs); i++ {
				if !pong.Park(30 * time.Second) {
					t.Errorf("lost wake-up at handoff %d", i)
					return
				}
				if got := seq.Load(); got != 2*i-1 {
					t.Errorf("pong saw %d, want %d", got, 2*i-1)
					return
				}
				seq.Store(2 * i)
				ping.Unpark()
			}
		}()
		for i := int64(1); i <= int64(handoffs); i++ {
			seq.Store(2*i - 1)
			pong.Unpark()
			if !ping.Park(30 * time.Second) {
				t.Fatalf("lost wake-up at handoff %d", i)
			}
			if got := seq.Load(); got != 2*i {
				t.Fatalf("ping saw %d, want %d", got, 2*i)
			}
		}
		wg.Wait()
	}
}

// TestParkerManyUnparkers: many goroutines each publish items and Unpark; the
// consumer parks whenever it has seen everything published so far. Every item
// must be seen (a lost wake-up stalls the consumer).
func TestParkerManyUnparkers(t *testing.T) {
	for _, producers := range goroutineCounts() {
		perProducer := 20_000 / scale
		var p primitives.Parker
		var published atomic.Int64
		var wg sync.WaitGroup
		for range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perProducer {
					published.Add(1)
					p.Unpark()
				}
			}()
		}
		want := int64(producers * perProducer)
		for published.Load() < want {
			seen := published.Load()
			if seen < want && published.Load() == seen {
				if !p.Park(30*time.Second) && published.Load() == seen {
					t.Fatalf("producers=%d: consumer stalled at %d of %d", producers, seen, want)
				}
			}
		}
		wg.Wait()
	}
}
