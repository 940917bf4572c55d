// Command pool shows the worker-local memory level: every worker of a
// runtime allocates records from its own pool shard, hands some of them to
// another worker (which reads them and frees them — a remote free, applied
// to the owning shard at once under its ownership word), and frees the
// rest itself. It prints per-shard statistics and
// checks that every byte came back.
//
//	go run ./examples/pool [-workers N] [-records N] [-size N]
//
// Ctrl-C stops the allocation, frees and checks what was allocated, prints
// the summary and exits 0; -h exits 0.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "pool", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

// run is the example. A signal (ctx ending) makes every worker stop
// allocating; the records allocated so far are still freed and checked, and
// the summary covers them.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workers := fs.Int("workers", 0, "workers = pool shards (0 = one per usable CPU)")
	records := fs.Int("records", 200_000, "records each worker allocates")
	size := fs.Int("size", 48, "record size in bytes (>= 16)")
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return err
	}
	if *workers < 0 || *records <= 0 || *size < 16 {
		return exampleutil.Usagef("pool [-workers N>=0] [-records N>0] [-size N>=16]")
	}
	sig := ctx
	ctx = context.WithoutCancel(ctx)

	mem, err := shards.NewPool(shards.PoolConfig{Pool: pool.MemoryOptimized()})
	if err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: *workers}, mem)
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())
	n := rt.Workers()
	allocated := make([]int, n) // allocated[i] written by worker i only

	// Phase 1, on every worker: allocate records, stamp each with its owner
	// and sequence number, free every other one locally and pass the rest to
	// the next worker.
	start := time.Now()
	var handed sync.WaitGroup
	var badMu sync.Mutex
	bad := 0
	err = rt.Each(ctx, func(w *runtime.Worker) error {
		var keep []shards.Offset
		for i := range *records {
			if i%1024 == 0 && sig.Err() != nil {
				break
			}
			allocated[w.ID()]++
			off, err := mem.Alloc(ctx, w.ID(), *size)
			if err != nil {
				return err
			}
			b, _ := mem.Bytes(off, *size)
			binary.LittleEndian.PutUint64(b, uint64(w.ID()))
			binary.LittleEndian.PutUint64(b[8:], uint64(i))
			if i%2 == 0 {
				if err := mem.Free(ctx, off, *size); err != nil {
					return err
				}
			} else {
				keep = append(keep, off)
			}
		}
		// Check our own records before handing them over.
		for j, off := range keep {
			b, _ := mem.Bytes(off, *size)
			if binary.LittleEndian.Uint64(b) != uint64(w.ID()) || binary.LittleEndian.Uint64(b[8:]) != uint64(2*j+1) {
				badMu.Lock()
				bad++
				badMu.Unlock()
			}
		}
		// Phase 2, on the next worker: free them there (remote frees).
		handed.Add(1)
		return rt.SubmitTo((w.ID()+1)%n, func(*runtime.Worker) {
			defer handed.Done()
			for _, off := range keep {
				if err := mem.Free(ctx, off, *size); err != nil {
					rt.Logger().Error("free", "err", err)
				}
			}
		})
	})
	if err != nil {
		return err
	}
	handed.Wait() // every free has returned: each was applied to its shard
	elapsed := time.Since(start)

	st, err := mem.Stats(ctx)
	if err != nil {
		return err
	}
	total := 0
	for _, a := range allocated {
		total += a
	}
	if sig.Err() != nil {
		fmt.Fprintf(stdout, "interrupted: %d of %d records allocated\n", total, n**records)
	}
	fmt.Fprintf(stdout, "%d workers allocated and freed %d records of %d bytes in %v (%.1f M alloc+free pairs/s); corrupted: %d\n",
		n, total, *size, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, bad)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shard\tallocs\tfrees\tin use\tcapacity\t")
	for i, s := range st.Shards {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", i, s.Allocs, s.Frees, s.InUse, s.Capacity)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "bytes still in use: %d\n", st.InUse())
	if bad > 0 || st.InUse() != 0 {
		return fmt.Errorf("%d corrupted records, %d bytes leaked", bad, st.InUse())
	}
	return rt.Stop(ctx)
}
