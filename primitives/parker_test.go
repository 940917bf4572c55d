package primitives_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

// parkers are the two park/unpark primitives the shared tests run on.
var parkers = []struct {
	name string
	new  func() parker
}{
	{"Parker", func() parker { return new(primitives.Parker) }},
	{"GoParker", func() parker { return new(primitives.GoParker) }},
}

func TestParkerUnparkBeforeParkIsKept(t *testing.T) {
	for _, k := range parkers {
		p := k.new()
		p.Unpark()
		p.Unpark() // notifications do not accumulate
		if !p.Park(0) {
			t.Fatalf("%s: Park after Unpark reported a timeout", k.name)
		}
		if p.Park(time.Millisecond) {
			t.Fatalf("%s: second Park consumed a notification that was absorbed", k.name)
		}
	}
}

func TestParkerTimeout(t *testing.T) {
	for _, k := range parkers {
		p := k.new()
		const d = 10 * time.Millisecond
		start := time.Now()
		if p.Park(d) {
			t.Fatalf("%s: Park without Unpark returned true", k.name)
		}
		if el := time.Since(start); el < d {
			t.Fatalf("%s: Park returned after %v, before %v", k.name, el, d)
		}
		if p.Park(-1) {
			t.Fatalf("%s: Park(-1) without a notification returned true", k.name)
		}
		p.Unpark()
		if !p.Park(-1) {
			t.Fatalf("%s: Park(-1) did not consume a pending notification", k.name)
		}
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

// parker is what Parker and GoParker share.
type parker interface {
	Park(timeout time.Duration) bool
	Unpark()
}

// TestParkerHandoffs passes a token back and forth between two goroutines
// through two Parkers; a lost wake-up would stall a side (caught by the
// watchdog timeout) and a spurious true would break the sequence check.
func TestParkerHandoffs(t *testing.T) {
	// 1,000,000 handoffs in all (a tenth under -race or -short), half with
	// an immediate sleep, half with the default spin.
	for _, spin := range []int{1, 0} {
		var ping, pong primitives.Parker
		ping.SetSpin(spin)
		pong.SetSpin(spin)
		testHandoffs(t, &ping, &pong)
	}
}

// testHandoffs passes a token back and forth between two goroutines through
// ping and pong.
func testHandoffs(t *testing.T, ping, pong parker) {
	handoffs := 500_000 / scale
	if testing.Short() {
		handoffs /= 10
	}
	var seq atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
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
	})
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

// TestParkerManyUnparkers: many goroutines each publish items and Unpark; the
// consumer parks whenever it has seen everything published so far. Every item
// must be seen (a lost wake-up stalls the consumer).
func TestParkerManyUnparkers(t *testing.T) {
	testManyUnparkers(t, func() parker { return new(primitives.Parker) })
}

func testManyUnparkers(t *testing.T, newParker func() parker) {
	for _, producers := range goroutineCounts() {
		perProducer := 20_000 / scale
		p := newParker()
		var published atomic.Int64
		var wg sync.WaitGroup
		for range producers {
			wg.Go(func() {
				for range perProducer {
					published.Add(1)
					p.Unpark()
				}
			})
		}
		want := int64(producers * perProducer)
		for {
			seen := published.Load()
			if seen == want {
				break
			}
			if !p.Park(30*time.Second) && published.Load() == seen {
				t.Fatalf("producers=%d: consumer stalled at %d of %d", producers, seen, want)
			}
		}
		wg.Wait()
	}
}
