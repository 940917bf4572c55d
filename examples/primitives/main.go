// Command primitives is a tour of zipora's low-level building blocks: it
// prints the CPU topology, measures a wake-up round trip between two
// goroutines locked to OS threads (futex Parker against a channel), and shows
// version-based reclamation with reader and writer tokens.
//
//	go run ./examples/primitives [-rounds N]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

func main() {
	rounds := flag.Int("rounds", 20000, "wake-up round trips per mechanism")
	flag.Parse()
	if *rounds <= 0 {
		fmt.Fprintln(os.Stderr, "primitives: -rounds must be positive")
		os.Exit(2)
	}

	t := primitives.Topology()
	fmt.Printf("CPU: %s (%s), %d logical CPUs, %d physical cores, %d-byte cache lines, may run on %v\n",
		t.Brand, t.Vendor, t.LogicalCPUs, t.PhysicalCores, t.CacheLine, t.Allowed)

	parker := roundTrips(*rounds, func() (func(), func(), func(), func()) {
		var a, b primitives.Parker
		return a.Unpark, func() { a.Park(0) }, b.Unpark, func() { b.Park(0) }
	})
	channel := roundTrips(*rounds, func() (func(), func(), func(), func()) {
		a, b := make(chan struct{}, 1), make(chan struct{}, 1)
		return func() { a <- struct{}{} }, func() { <-a }, func() { b <- struct{}{} }, func() { <-b }
	})
	fmt.Printf("wake-up round trip between two OS-thread-locked goroutines (%d rounds):\n", *rounds)
	fmt.Printf("  futex Parker %8.2f µs\n  channel      %8.2f µs  (Parker is %.1fx faster)\n",
		us(parker), us(channel), float64(channel)/float64(parker))

	reclamation()
}

// roundTrips runs n ping-pong rounds between the caller and a partner
// goroutine, both locked to OS threads, and returns the mean round trip.
func roundTrips(n int, mk func() (ping, waitPing, pong, waitPong func())) time.Duration {
	ping, waitPing, pong, waitPong := mk()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		for range n {
			waitPing()
			pong()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	for range n {
		ping()
		waitPong()
	}
	el := time.Since(start)
	<-done
	return el / time.Duration(n)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// reclamation publishes new versions of a value while a reader holds an old
// one, and shows that the old value is handed back only after the reader
// releases its token.
func reclamation() {
	m, err := primitives.NewTokenManager(primitives.OneWriteMultiRead)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var cur atomic.Pointer[string]
	first := "config v1"
	cur.Store(&first)
	var retired primitives.RetireList[*string]

	reader, _ := m.Reader()
	fmt.Printf("reader pinned version %d and sees %q\n", reader.Version(), *cur.Load())
	for i := 2; i <= 3; i++ {
		_ = m.WithWriter(context.Background(), func(w *primitives.WriterToken) error {
			next := fmt.Sprintf("config v%d", i)
			retired.Retire(w.Version(), cur.Swap(&next))
			fmt.Printf("writer published version %d (%q)\n", w.Publish(), next)
			return nil
		})
	}
	free := func(s *string) { fmt.Printf("  reclaimed %q\n", *s) }
	fmt.Printf("reclaim while the reader is live: %d items (oldest active version %d)\n",
		retired.Reclaim(m, free), m.MinActiveVersion())
	reader.Release()
	fmt.Println("reader released")
	n := retired.Reclaim(m, free)
	fmt.Printf("reclaim after release: %d items\n", n)
}
