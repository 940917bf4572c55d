// Command tasks shows zipora's runtime at work: it starts workers —
// ordinary goroutines by default, thread-locked with -threads, pinned to
// CPUs with -pin — with a logger (coloured on a terminal), spreads CPU tasks over
// them, keeps per-worker results in worker-owned slots (no locks), reads
// them back with Calls, runs blocking work (simulated I/O) with Go that
// hands its results back to workers, shows a recovered panic, prints
// per-worker statistics and stops cleanly.
//
//	go run ./examples/tasks [-workers N] [-tasks N] [-span N] [-io N] [-threads] [-pin]
//
// Ctrl-C stops submitting, lets the submitted work finish, prints the
// summary and exits 0; -h exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/runtime"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "tasks", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

type options struct {
	workers, tasks, span, io int
	pin, threads             bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.workers, "workers", 0, "workers (0 = one per usable CPU)")
	fs.IntVar(&o.tasks, "tasks", 5000, "CPU tasks to submit")
	fs.IntVar(&o.span, "span", 500, "numbers each CPU task tests for primality")
	fs.IntVar(&o.io, "io", 32, "blocking jobs (5 ms of simulated I/O each) to run with Go")
	fs.BoolVar(&o.threads, "threads", false, "workers locked to OS threads of their own, parked on futexes (runtime.Threads)")
	fs.BoolVar(&o.pin, "pin", false, "bind each worker to one CPU (implies -threads)")
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return o, err
	}
	if o.workers < 0 || o.tasks < 0 || o.span <= 0 || o.io < 0 {
		return o, exampleutil.Usagef("-workers, -tasks and -io must be >= 0, -span > 0")
	}
	return o, nil
}

// tally is one worker's results: written only by tasks on that worker.
type tally struct {
	primes, tasks, ioDone int
}

// run is the example. A signal (ctx ending) stops the submission of CPU
// tasks; what was submitted still runs, and the summary says how much.
// The runtime's own waits use a context that the signal does not end: the
// work left is bounded and short.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	sig := ctx
	ctx = context.WithoutCancel(ctx)
	logger := exampleutil.NewLogger(stderr, slog.LevelInfo)
	mode := runtime.Goroutines
	if o.threads {
		mode = runtime.Threads
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: o.workers, Mode: mode, Pin: o.pin, Logger: logger})
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())    // a no-op after the Stop below
	tallies := make([]tally, rt.Workers()) // tallies[i] owned by worker i

	// 1. CPU tasks, spread over the workers by Submit.
	start := time.Now()
	for i := range o.tasks {
		if sig.Err() != nil {
			fmt.Fprintf(stdout, "interrupted: %d of %d CPU tasks submitted\n", i, o.tasks)
			break
		}
		lo := i * o.span
		if err := rt.Submit(func(w *runtime.Worker) {
			t := &tallies[w.ID()]
			t.primes += countPrimes(lo, lo+o.span)
			t.tasks++
		}); err != nil {
			return err
		}
	}

	// 2. Blocking work on the Go pool; each job hands its result back to a
	// worker, which owns the tally.
	for i := range o.io {
		if err := rt.Go(func() {
			time.Sleep(5 * time.Millisecond) // simulated I/O: never on a worker
			if err := rt.SubmitTo(i%rt.Workers(), func(w *runtime.Worker) { tallies[w.ID()].ioDone++ }); err != nil {
				logger.Error("hand back", "err", err)
			}
		}); err != nil {
			return err
		}
	}

	// 3. A panicking task is recovered and reported; the worker goes on.
	_, perr := runtime.Call(ctx, rt, 0, func(*runtime.Worker) (int, error) {
		return 0, fmt.Errorf("never returned: %d", []int{}[rt.Workers()]) // index out of range: panics
	})
	fmt.Fprintf(stdout, "a panicking task returned: %v (is ErrPanic: %t)\n", perr, errors.Is(perr, runtime.ErrPanic))

	// 4. Read each worker's tally with a Call: the read runs on the owner,
	// after every task submitted to it before.
	if err := rt.Each(ctx, func(*runtime.Worker) error { return nil }); err != nil { // barrier for Submit
		return err
	}
	elapsed := time.Since(start)
	primes, tasks := 0, 0
	for i := range rt.Workers() {
		t, err := runtime.Call(ctx, rt, i, func(w *runtime.Worker) (tally, error) { return tallies[w.ID()], nil })
		if err != nil {
			return err
		}
		primes += t.primes
		tasks += t.tasks
	}
	fmt.Fprintf(stdout, "%d CPU tasks: %d primes below %d in %v (%.0f tasks/s)\n",
		tasks, primes, o.tasks*o.span, elapsed.Round(time.Millisecond), float64(tasks)/elapsed.Seconds())

	// 5. Stop: waits for the Go jobs (they still hand back their results),
	// drains every mailbox, joins every worker.
	if err := rt.Stop(ctx); err != nil {
		return err
	}
	ioDone := 0
	for _, t := range tallies {
		ioDone += t.ioDone
	}
	fmt.Fprintf(stdout, "%d blocking jobs done, results handed back to workers\n", ioDone)
	printStats(stdout, rt.Stats())
	return nil
}

// countPrimes counts the primes in [lo, hi) by trial division: honest CPU
// work.
func countPrimes(lo, hi int) int {
	n := 0
	for v := max(lo, 2); v < hi; v++ {
		prime := true
		for d := 2; d*d <= v; d++ {
			if v%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			n++
		}
	}
	return n
}

func printStats(w io.Writer, s runtime.Stats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tcpu\ttasks\tbatches\tpanics\tparks\twake-ups\tbusy\t")
	for _, ws := range s.Workers {
		cpu := "-"
		if ws.CPU >= 0 {
			cpu = fmt.Sprint(ws.CPU)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%v\t\n",
			ws.ID, cpu, ws.Tasks, ws.Batches, ws.Panics, ws.Parks, ws.Wakeups, ws.Busy.Round(time.Microsecond))
	}
	tw.Flush()
	fmt.Fprintf(w, "blocking pool: %d jobs, %d panics, capacity %d\n", s.Blocking.Submitted, s.Blocking.Panics, s.Blocking.Cap)
}
