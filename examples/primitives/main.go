// Command primitives is a tour of zipora's low-level building blocks: it
// prints the CPU topology, measures a wake-up round trip between two
// goroutines locked to OS threads (futex Parker against a channel), and shows
// version-based reclamation with reader and writer tokens.
//
//	go run ./examples/primitives [-rounds N]
//
// Ctrl-C cuts the measurement short (within microseconds), skips the
// parts not yet begun, prints what was measured and exits 0; a second
// Ctrl-C exits at once; -h exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/primitives"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "primitives", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

// run is the tour. A signal (ctx ending) skips the parts not yet begun and
// exits 0 after saying so.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("primitives", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 20000, "wake-up round trips per mechanism")
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return err
	}
	if *rounds <= 0 {
		return exampleutil.Usagef("-rounds must be positive")
	}

	t := primitives.Topology()
	fmt.Fprintf(stdout, "CPU: %s (%s), %d logical CPUs, %d physical cores, %d-byte cache lines, may run on %v\n",
		t.Brand, t.Vendor, t.LogicalCPUs, t.PhysicalCores, t.CacheLine, t.Allowed)
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "interrupted: the wake-up and reclamation parts were skipped")
		return nil
	}

	parker, np := roundTrips(ctx, *rounds, func() (func(), func(), func(), func()) {
		var a, b primitives.Parker
		return a.Unpark, func() { a.Park(0) }, b.Unpark, func() { b.Park(0) }
	})
	channel, nc := roundTrips(ctx, *rounds, func() (func(), func(), func(), func()) {
		a, b := make(chan struct{}, 1), make(chan struct{}, 1)
		return func() { a <- struct{}{} }, func() { <-a }, func() { b <- struct{}{} }, func() { <-b }
	})
	done := fmt.Sprintf("%d rounds", *rounds)
	if min(np, nc) < *rounds {
		done = fmt.Sprintf("%d and %d of %d rounds", np, nc, *rounds)
	}
	fmt.Fprintf(stdout, "wake-up round trip between two OS-thread-locked goroutines (%s):\n", done)
	if np > 0 && nc > 0 {
		fmt.Fprintf(stdout, "  futex Parker %8.2f µs\n  channel      %8.2f µs  (Parker is %.1fx faster)\n",
			us(parker), us(channel), float64(channel)/float64(parker))
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "interrupted: the wake-up part was cut short, the reclamation part skipped")
		return nil
	}
	return reclamation(stdout)
}

// checkEvery is how many round trips run between two looks at ctx: a
// signal stops the measurement within microseconds.
const checkEvery = 1024

// roundTrips runs up to n ping-pong rounds between the caller and a
// partner goroutine, both locked to OS threads, and returns the mean round
// trip and the rounds done: fewer than n when ctx ended. The last ping
// then tells the partner to stop instead of answering.
func roundTrips(ctx context.Context, n int, mk func() (ping, waitPing, pong, waitPong func())) (time.Duration, int) {
	ping, waitPing, pong, waitPong := mk()
	var stop atomic.Bool // written before the last ping, read after its wake-up
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		for range n {
			waitPing()
			if stop.Load() {
				return
			}
			pong()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	i := 0
	for ; i < n; i++ {
		if i%checkEvery == checkEvery-1 && ctx.Err() != nil {
			stop.Store(true)
			ping()
			break
		}
		ping()
		waitPong()
	}
	el := time.Since(start)
	<-done
	if i == 0 {
		return 0, 0
	}
	return el / time.Duration(i), i
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// reclamation publishes new versions of a value while a reader holds an old
// one, and shows that the old value is handed back only after the reader
// releases its token.
func reclamation(out io.Writer) error {
	m, err := primitives.NewTokenManager(primitives.OneWriteMultiRead)
	if err != nil {
		return err
	}
	var cur atomic.Pointer[string]
	first := "config v1"
	cur.Store(&first)
	var retired primitives.RetireList[*string]

	reader, _ := m.Reader()
	fmt.Fprintf(out, "reader pinned version %d and sees %q\n", reader.Version(), *cur.Load())
	for i := 2; i <= 3; i++ {
		_ = m.WithWriter(context.Background(), func(w *primitives.WriterToken) error {
			next := fmt.Sprintf("config v%d", i)
			retired.Retire(w.Version(), cur.Swap(&next))
			fmt.Fprintf(out, "writer published version %d (%q)\n", w.Publish(), next)
			return nil
		})
	}
	free := func(s *string) { fmt.Fprintf(out, "  reclaimed %q\n", *s) }
	fmt.Fprintf(out, "reclaim while the reader is live: %d items (oldest active version %d)\n",
		retired.Reclaim(m, free), m.MinActiveVersion())
	reader.Release()
	fmt.Fprintln(out, "reader released")
	n := retired.Reclaim(m, free)
	fmt.Fprintf(out, "reclaim after release: %d items\n", n)
	return nil
}
