// Command shardedtrie is zipora's main example: it starts a runtime with a
// sharded trie registered, ingests keys (one per line from a file or stdin,
// or a generated set of file-system style paths), routing each key's write
// to the worker that owns its shard in per-shard batches, then answers a
// prefix query with lock-free reads and prints a per-shard table and the
// ingest throughput.
//
//	go run ./examples/shardedtrie                        # 300,000 generated paths
//	go run ./examples/shardedtrie -keys words.txt -prefix ab -limit 10
//	cat keys.txt | go run ./examples/shardedtrie -keys -
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/lmittmann/tint"

	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shardedtrie:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

type options struct {
	keys, prefix, router string
	n, limit, workers    int
	batch                int
	pin, quiet, procs    bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("shardedtrie", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.keys, "keys", "", "file of keys, one per line (- for stdin); empty: generate -n paths")
	fs.IntVar(&o.n, "n", 300_000, "number of generated paths when -keys is empty")
	fs.StringVar(&o.prefix, "prefix", "usr/lib/", "prefix to query after the ingest")
	fs.IntVar(&o.limit, "limit", 10, "how many keys of the prefix to print")
	fs.IntVar(&o.workers, "workers", 0, "workers = shards (0 = one per usable CPU)")
	fs.IntVar(&o.batch, "batch", 4096, "keys per batch commit")
	fs.StringVar(&o.router, "router", "hash", "key routing: hash, or range (shards own contiguous key ranges)")
	fs.BoolVar(&o.pin, "pin", false, "bind each worker to one CPU")
	fs.BoolVar(&o.procs, "procs", true, "one extra P per worker while the runtime runs (runtime.Config.DedicatedProcs)")
	fs.BoolVar(&o.quiet, "quiet", false, "log warnings only")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case o.n < 0 || o.limit < 0 || o.workers < 0:
		return o, fmt.Errorf("%w: -n, -limit and -workers must be >= 0", errUsage)
	case o.batch <= 0:
		return o, fmt.Errorf("%w: -batch must be > 0", errUsage)
	case o.router != "hash" && o.router != "range":
		return o, fmt.Errorf("%w: -router must be hash or range, not %q", errUsage, o.router)
	}
	return o, nil
}

// source yields the keys to ingest, each once, in input order. Keys read
// from a file are fresh slices (the batch copies them anyway).
type source func(yield func([]byte) bool) error

func open(o options, stdin io.Reader) (source, func(), error) {
	if o.keys == "" {
		keys := workload.Paths(o.n, 1)
		return func(yield func([]byte) bool) error {
			for _, k := range keys {
				if !yield(k) {
					break
				}
			}
			return nil
		}, func() {}, nil
	}
	r, closeFn := stdin, func() {}
	if o.keys != "-" {
		f, err := os.Open(o.keys)
		if err != nil {
			return nil, nil, err
		}
		r, closeFn = f, func() { f.Close() }
	}
	return func(yield func([]byte) bool) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if !yield(sc.Bytes()) {
				break
			}
		}
		return sc.Err()
	}, closeFn, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	src, closeSrc, err := open(o, stdin)
	if err != nil {
		return err
	}
	defer closeSrc()

	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(tint.NewTextHandler(stderr, &tint.Options{Level: level, TimeFormat: time.TimeOnly}))

	var router shards.Router = &shards.HashRouter{}
	if o.router == "range" {
		// Shard boundaries from a sample: the generated set when there is
		// one, otherwise evenly spread first bytes.
		router = rangeRouter(o)
	}
	tr := shards.NewTrie[uint32](shards.WithRouter(router))
	rt, err := runtime.Start(ctx, runtime.Config{Workers: o.workers, Pin: o.pin, DedicatedProcs: o.procs, Logger: logger}, tr)
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())
	logger.Info("runtime started", "workers", rt.Workers(), "router", o.router, "pin", o.pin)

	lines, elapsed, err := ingest(ctx, tr, src, o.batch, rt.Workers(), logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ingested %d lines, %d distinct keys in %v: %.2f M keys/s on %d workers\n",
		lines, tr.Len(), elapsed.Round(time.Millisecond), float64(lines)/elapsed.Seconds()/1e6, rt.Workers())

	// Prefix query: lock-free reads, merged in order across shards.
	count := 0
	var first []string
	for k := range tr.Prefix([]byte(o.prefix)) {
		if count < o.limit {
			first = append(first, string(k))
		}
		count++
	}
	fmt.Fprintf(stdout, "%d keys with prefix %q", count, o.prefix)
	if len(first) > 0 {
		fmt.Fprintf(stdout, "; the first %d:\n", len(first))
		for _, k := range first {
			fmt.Fprintf(stdout, "  %s\n", k)
		}
	} else {
		fmt.Fprintln(stdout)
	}

	printShards(stdout, tr, rt)
	return rt.Stop(ctx)
}

func rangeRouter(o options) shards.Router {
	if o.keys == "" {
		return shards.NewSampleRouter(workload.Paths(min(o.n, 10_000), 1))
	}
	var sample [][]byte
	for c := 0; c < 256; c += 4 {
		sample = append(sample, []byte{byte(c)})
	}
	return shards.NewSampleRouter(sample)
}

// ingest commits the keys in batches of size batch from several committing
// goroutines (so every shard always has work queued), logging progress every
// second. A key's value is its line number.
func ingest(ctx context.Context, tr *shards.Trie[uint32], src source, batch, workers int, logger *slog.Logger) (lines int, elapsed time.Duration, err error) {
	batches := make(chan *shards.Batch[uint32], 2)
	free := make(chan *shards.Batch[uint32], 2*workers+2)
	for range cap(free) {
		free <- tr.Batch()
	}
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var commitErr error
	for range max(2, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := b.Commit(ctx); err != nil {
					errMu.Lock()
					commitErr = errors.Join(commitErr, err)
					errMu.Unlock()
				}
				free <- b
			}
		}()
	}

	start := time.Now()
	lastLog := start
	cur := <-free
	srcErr := src(func(k []byte) bool {
		cur.Insert(k, uint32(lines))
		lines++
		if cur.Len() == batch {
			batches <- cur
			cur = <-free
			if now := time.Now(); now.Sub(lastLog) >= time.Second {
				logger.Info("ingesting", "lines", lines, "keys/s", int(float64(lines)/now.Sub(start).Seconds()))
				lastLog = now
			}
		}
		return true
	})
	if cur.Len() > 0 {
		batches <- cur
	}
	close(batches)
	wg.Wait()
	elapsed = time.Since(start)
	if err := errors.Join(srcErr, commitErr); err != nil {
		return lines, elapsed, err
	}
	return lines, elapsed, nil
}

func printShards(w io.Writer, tr *shards.Trie[uint32], rt *runtime.Runtime) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shard\tkeys\tarena bytes\tbytes/key\ttenures\twrites\tcombined\t")
	var keys, bytes int
	var tenures, writes, combined uint64
	for _, s := range tr.Stats() {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t\n", s.Shard, s.Trie.Keys, s.Trie.ArenaBytes,
			s.Trie.BytesPerKey, s.Tenures, s.Writes, s.Combined)
		keys += s.Trie.Keys
		bytes += s.Trie.ArenaBytes
		tenures += s.Tenures
		writes += s.Writes
		combined += s.Combined
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t\t%d\t%d\t%d\t\n", keys, bytes, tenures, writes, combined)
	tw.Flush()
}
