// Command server is an HTTP index service over a sharded trie
// (shards.Trie[string]): prefix completion, single-key reads and writes,
// NDJSON batches, per-shard statistics and a small search page.
//
//	go run ./examples/server -addr 127.0.0.1:8080 -keys /usr/share/dict/words
//	make serve                                  # the same, with the word list when there is one
//	go run ./examples/server -backend locked    # one trie behind a sync.RWMutex, for comparison
//
// Then open http://127.0.0.1:8080/ or try
//
//	curl 'localhost:8080/complete?prefix=ab&limit=5'
//	curl -X PUT --data-binary 'a value' localhost:8080/keys/some/key
//	curl localhost:8080/keys/some/key
//	curl -X DELETE localhost:8080/keys/some/key
//	printf '%s\n' '{"op":"put","key":"k","value":"v"}' '{"op":"delete","key":"old"}' | curl --data-binary @- localhost:8080/batch
//	curl localhost:8080/stats; curl localhost:8080/debug/vars
//
// API (JSON; errors are 4xx with {"error": "..."}, and nothing is applied):
//
//	GET    /complete?prefix=P&limit=N  {"prefix":P,"keys":[...],"more":bool}, byte order; limit 1..1000, default 10
//	GET    /keys/{key}                 200 {"key":K,"value":V}, 404
//	PUT    /keys/{key}                 body = value (<= 1 MiB): 201 created, 200 replaced
//	DELETE /keys/{key}                 204, 404
//	POST   /batch                      NDJSON {"op":"put"|"delete","key":K,"value":V} per line: 200 {"applied":n};
//	                                   a bad line: 400 naming it, nothing applied
//	GET    /stats, /debug/vars         per-shard keys, writes, mailbox depth, memory
//	GET    /                           the search page
//
// Keys are the rest of the path after /keys/ (slashes included, percent-
// decoded, not cleaned: "a//b" and ".." are keys too), 1 to 65536 bytes.
// JSON carries invalid UTF-8 as U+FFFD: keys and values that are UTF-8
// come back exactly.
//
// SIGINT or SIGTERM stops accepting connections, finishes the requests in
// flight (up to -drain), stops the runtime, logs the final statistics and
// exits 0; a second signal ends it at once. -h exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/zipora-go/zipora/examples/server/httpindex"
	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "server", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

type options struct {
	addr, keys, backend string
	router              string
	workers, batch      int
	procs, quiet        bool
	drain               time.Duration
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.keys, "keys", "", "file of keys to load, one per line (- for stdin; empty lines are skipped)")
	fs.StringVar(&o.backend, "backend", "sharded", "sharded (shards.Trie over the runtime's workers) or locked (one trie behind a sync.RWMutex)")
	fs.StringVar(&o.router, "router", "auto", "sharded backend's key routing: auto (range when -keys is a file, sampled from it; else hash), hash, or range")
	fs.IntVar(&o.workers, "workers", 0, "workers = shards of the sharded backend (0 = one per usable CPU)")
	fs.IntVar(&o.batch, "batch", 4096, "keys per batch while loading -keys")
	fs.BoolVar(&o.procs, "procs", false, "one extra P per worker while the runtime runs (runtime.Config.DedicatedProcs)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "on a signal, how long to wait for the requests in flight")
	fs.BoolVar(&o.quiet, "quiet", false, "log warnings only")
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return o, err
	}
	switch {
	case o.backend != "sharded" && o.backend != "locked":
		return o, exampleutil.Usagef("-backend must be sharded or locked, not %q", o.backend)
	case o.router != "auto" && o.router != "hash" && o.router != "range":
		return o, exampleutil.Usagef("-router must be auto, hash or range, not %q", o.router)
	case o.workers < 0:
		return o, exampleutil.Usagef("-workers must be >= 0")
	case o.batch <= 0:
		return o, exampleutil.Usagef("-batch must be > 0")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	return serve(ctx, o, ln, stdin, stderr)
}

// serve runs the service on ln until ctx ends, then stops cleanly: no new
// connections, the requests in flight finished (up to o.drain), the runtime
// stopped, the final statistics logged. It closes ln.
func serve(ctx context.Context, o options, ln net.Listener, stdin io.Reader, stderr io.Writer) error {
	defer ln.Close()
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	logger := exampleutil.NewLogger(stderr, level)

	var idx httpindex.Index
	stopIndex := func() error { return nil }
	if o.backend == "locked" {
		idx = httpindex.NewLocked()
		logger.Info("backend locked: one trie behind a sync.RWMutex")
	} else {
		router, err := chooseRouter(o, logger)
		if err != nil {
			return err
		}
		tr := shards.NewTrie[string](shards.WithRouter(router))
		rt, err := runtime.Start(ctx, runtime.Config{Workers: o.workers, DedicatedProcs: o.procs, Logger: logger}, tr)
		if err != nil {
			return err
		}
		defer rt.Stop(context.Background()) // a no-op after stopIndex
		idx = httpindex.NewSharded(rt, tr)
		stopIndex = func() error { return rt.Stop(context.Background()) }
	}
	if o.keys != "" {
		if err := loadKeys(ctx, idx, o, stdin, logger); err != nil {
			return err
		}
	}

	h := httpindex.New(idx)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "url", "http://"+ln.Addr().String()+"/", "backend", idx.Name(), "keys", idx.Len())

	select {
	case err := <-served: // Serve failed on its own (not by Shutdown)
		stopIndex()
		return err
	case <-ctx.Done():
	}
	logger.Info("stopping: no new connections, finishing the requests in flight", "drain", o.drain)
	sctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		shutErr = errors.Join(shutErr, err)
	}
	stopErr := stopIndex()
	rep := h.Report()
	logger.Info("final stats", "backend", rep.Backend, "keys", rep.Keys, "requests", rep.Requests,
		"uptime", rep.Uptime, "arena_bytes", rep.Memory.ArenaBytes, "heap_alloc", rep.Memory.HeapAlloc)
	for _, sh := range rep.Shards {
		logger.Info("shard", "shard", sh.Shard, "keys", sh.Keys, "writes", sh.Writes, "tenures", sh.Tenures, "combined", sh.Combined, "bytes_per_key", fmt.Sprintf("%.1f", sh.BytesPerKey))
	}
	if shutErr != nil {
		return fmt.Errorf("shutdown: %w", shutErr)
	}
	return stopErr
}

// loadKeys loads o.keys (a file, or - for stdin) into idx in batches of
// o.batch, logging progress every second. Empty lines are skipped (the API
// has no empty key); a line over trie.MaxKeyLen is an error naming it. A
// ctx that ends stops the load early (the server still starts, to be
// stopped at once).
func loadKeys(ctx context.Context, idx httpindex.Index, o options, stdin io.Reader, logger *slog.Logger) error {
	r, closeKeys, err := exampleutil.Open(o.keys, stdin)
	if err != nil {
		return err
	}
	defer closeKeys()
	start := time.Now()
	last := start
	lines, skipped := 0, 0
	ops := make([]httpindex.Op, 0, o.batch)
	flush := func() error {
		err := idx.Apply(context.Background(), ops)
		clear(ops)
		ops = ops[:0]
		return err
	}
	errStop := errors.New("stopped")
	err = exampleutil.ReadLines(r, trie.MaxKeyLen, func(line []byte, n int) error {
		lines = n
		if len(line) == 0 {
			skipped++
			return nil
		}
		ops = append(ops, httpindex.Op{Key: string(line)})
		if len(ops) < o.batch {
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		if now := time.Now(); now.Sub(last) >= time.Second {
			logger.Info("loading", "lines", n, "keys/s", int(float64(n)/now.Sub(start).Seconds()))
			last = now
		}
		if ctx.Err() != nil {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return fmt.Errorf("%s: %w", o.keys, err)
	}
	if err := flush(); err != nil {
		return err
	}
	el := time.Since(start)
	logger.Info("loaded", "file", o.keys, "lines", lines, "empty_skipped", skipped, "keys", idx.Len(),
		"elapsed", el.Round(time.Millisecond), "keys/s", int(float64(lines)/max(el.Seconds(), 1e-9)), "interrupted", err == errStop)
	return nil
}
