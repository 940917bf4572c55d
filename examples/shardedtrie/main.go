// Command shardedtrie is zipora's main example: it starts a runtime with a
// sharded trie registered, ingests keys (one per line from a file or stdin,
// or a generated set of file-system style paths) in batches committed from
// several goroutines — each batch's writes to a shard are applied under
// that shard's ownership word by the committing goroutine, or by the one
// holding the word — then answers a prefix query with lock-free reads and
// prints a per-shard table and the ingest throughput.
//
//	go run ./examples/shardedtrie                        # 300,000 generated paths
//	go run ./examples/shardedtrie -keys words.txt -prefix ab -limit 10
//	cat keys.txt | go run ./examples/shardedtrie -keys -
//	go run ./examples/shardedtrie -keys paths.txt -router range -prefix /usr/
//
// With -router range the shard boundaries are quantiles of a sample of the
// input itself (shards.NewSampleRouter), so keys that all start alike (paths
// starting with "/") still spread over the shards. Lines may be of any
// length; a key over trie.MaxKeyLen (64 KiB) stops the run with an error
// naming its line. Ctrl-C stops the ingest at once (also the reading of a
// pipe that stays open), commits what was read, prints the summary and
// exits 0; a second Ctrl-C exits at once; -h exits 0.
package main

import (
	"bytes"
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

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "shardedtrie", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

type options struct {
	keys, prefix, router string
	n, limit, workers    int
	batch, sample        int
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
	fs.StringVar(&o.router, "router", "hash", "key routing: hash, or range (shards own contiguous key ranges, boundaries from a sample of the input)")
	fs.IntVar(&o.sample, "sample", 10_000, "keys sampled from the input for the range router's boundaries")
	fs.BoolVar(&o.pin, "pin", false, "bind each worker to one CPU")
	fs.BoolVar(&o.procs, "procs", false, "one extra P per worker while the runtime runs (runtime.Config.DedicatedProcs)")
	fs.BoolVar(&o.quiet, "quiet", false, "log warnings only")
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return o, err
	}
	switch {
	case o.n < 0 || o.limit < 0 || o.workers < 0:
		return o, exampleutil.Usagef("-n, -limit and -workers must be >= 0")
	case o.batch <= 0 || o.sample <= 0:
		return o, exampleutil.Usagef("-batch and -sample must be > 0")
	case o.router != "hash" && o.router != "range":
		return o, exampleutil.Usagef("-router must be hash or range, not %q", o.router)
	}
	return o, nil
}

// source yields the keys to ingest, each once, in input order, until yield
// returns false. The key slice is valid during the call only (the batch
// copies it).
type source func(yield func([]byte) bool) error

// open returns the input's keys and, for -router range, the sample its
// boundaries come from. Generated paths are in memory already. A file or
// stdin is read line by line (lines of any length; a key over
// trie.MaxKeyLen is an error naming its line) — except under -router range,
// where the keys are read into memory first so that the sample is taken
// evenly over the whole input, whatever its order (the trie holds every key
// anyway).
//
// A ctx that ends stops the reading at once, even of a pipe that stays
// open: the source then ends without an error.
func open(ctx context.Context, o options, stdin io.Reader) (src source, sample [][]byte, closeFn func() error, err error) {
	if o.keys == "" {
		keys := workload.Paths(o.n, 1)
		if o.router == "range" {
			sample = every(keys, o.sample)
		}
		return inMemory(keys), sample, func() error { return nil }, nil
	}
	r, closeFn, err := exampleutil.Open(ctx, o.keys, stdin)
	if err != nil {
		return nil, nil, nil, err
	}
	lines := func(yield func([]byte) bool) error {
		errStop := errors.New("stop")
		err := exampleutil.ReadLines(r, trie.MaxKeyLen, func(line []byte, _ int) error {
			if !yield(line) {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			return fmt.Errorf("%s: %w", o.keys, err)
		}
		return nil
	}
	if o.router != "range" {
		return lines, nil, closeFn, nil
	}
	var keys [][]byte
	if err := lines(func(k []byte) bool { keys = append(keys, bytes.Clone(k)); return true }); err != nil {
		closeFn()
		return nil, nil, nil, err
	}
	return inMemory(keys), every(keys, o.sample), closeFn, nil
}

func inMemory(keys [][]byte) source {
	return func(yield func([]byte) bool) error {
		for _, k := range keys {
			if !yield(k) {
				break
			}
		}
		return nil
	}
}

// every returns about n keys spread evenly over keys.
func every(keys [][]byte, n int) [][]byte {
	step := max(1, len(keys)/n)
	var out [][]byte
	for i := 0; i < len(keys); i += step {
		out = append(out, keys[i])
	}
	return out
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	src, sample, closeSrc, err := open(ctx, o, stdin)
	if err != nil {
		return err
	}
	defer closeSrc()

	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	logger := exampleutil.NewLogger(stderr, level)

	var router shards.Router = &shards.HashRouter{}
	if o.router == "range" {
		if len(sample) == 0 {
			sample = [][]byte{{}} // empty input: every boundary is the empty key
		}
		router = shards.NewSampleRouter(sample)
	}
	tr, err := shards.NewTrie[uint32](shards.TrieConfig{Router: router})
	if err != nil {
		return err
	}
	// The runtime logs "runtime started", with the worker count, itself.
	rt, err := runtime.Start(context.WithoutCancel(ctx), runtime.Config{Workers: o.workers, Pin: o.pin, DedicatedProcs: o.procs, Logger: logger}, tr) // a signal during the reading still gets its summary
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())
	logger.Info("ingesting", "router", o.router, "sample", len(sample), "batch", o.batch)

	lines, elapsed, err := ingest(ctx, tr, src, o.batch, rt.Workers(), logger)
	if err != nil {
		return err
	}
	interrupted := ""
	if ctx.Err() != nil {
		interrupted = " (interrupted: the keys read so far)"
	}
	fmt.Fprintf(stdout, "ingested %d lines, %d distinct keys in %v: %.2f M keys/s on %d workers%s\n",
		lines, tr.Len(), elapsed.Round(time.Millisecond), float64(lines)/elapsed.Seconds()/1e6, rt.Workers(), interrupted)

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
	return rt.Stop(context.Background())
}

// ingest commits the keys in batches of size batch from several committing
// goroutines (so every shard always has work queued), logging progress every
// second. A key's value is its line number. When ctx ends (a signal) it
// stops reading and commits what it has read: the summary then describes
// exactly that.
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
				if err := b.Commit(context.WithoutCancel(ctx)); err != nil {
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
			return ctx.Err() == nil
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
