// Command server is an HTTP index service over a sharded trie
// (shards.Trie[string]): prefix completion, single-key reads and writes,
// NDJSON batches, per-shard statistics and a small search page.
//
//	go run ./examples/server -addr 127.0.0.1:8080 -keys /usr/share/dict/words
//	make serve                                  # the same, built, with the word list when there is one
//	go run ./examples/server -backend locked    # one trie behind a sync.RWMutex, for comparison
//	go run ./examples/server -data ./data       # keeps its keys across restarts (see Data)
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
// # API
//
// Every answer is JSON but the page at /; an error is {"error": "..."}.
//
//	GET    /complete?prefix=P&limit=N  {"prefix":P,"keys":[...],"more":bool}, byte order; limit 1..1000, default 10;
//	        [&after=K]                 "more" is also true when the answer was cut at -complete-bytes;
//	                                   after=K lists only keys > K: the next page is after=<the last key>
//	GET    /keys/{key}                 200 {"key":K,"value":V}, 404
//	PUT    /keys/{key}                 body = value (<= 1 MiB): 201 created, 200 replaced
//	DELETE /keys/{key}                 204, 404
//	POST   /batch                      NDJSON {"op":"put"|"delete","key":K,"value":V} per line (<= 64 MiB,
//	                                   <= 1,048,576 writes): 200 {"applied":n}; every line is checked first:
//	                                   a bad line is a 400 naming it, nothing applied
//	GET    /stats, /debug/vars         per-shard keys, writes, tenures, memory; the limits and their use
//	GET    /                           the search page
//
// Keys are the rest of the path after /keys/ (slashes included, percent-
// decoded, not cleaned: "a//b" and ".." are keys too), 1 to 65536 bytes.
// Keys, values and prefixes must be valid UTF-8 (in a batch line, raw and
// after \u escapes: an escaped lone surrogate such as "\ud800" is refused
// too): anything else is a 400, never rewritten, so what goes in comes back
// byte for byte. Lines of -keys that are not UTF-8 are skipped and counted.
//
// What a failure leaves behind:
//
//	400, 404, 405, 413  nothing applied
//	503 + Retry-After   a limit was reached (the error starts "busy:"): nothing applied; retry later
//	503 without it      the index is stopping (the runtime stopped): a PUT or DELETE was not
//	                    applied; a batch may be partly applied, its answer then says how much
//	                    ({"error":..., "applied":n, "failed":m}): re-read its keys or send it
//	                    again (a batch of puts and deletes is idempotent)
//
// A client that goes away does not cancel its write: a write whose request
// was read is applied (or fails as above) whether or not the answer is read.
// Errors of the HTTP layer itself (a malformed request, headers over 256 KiB:
// 400 and 431) are net/http's plain text.
//
// # Limits
//
// One client cannot take the server down (each bound is a flag; /stats
// shows them and their use under "limits"):
//
//   - a /complete answer holds at most -complete-bytes of keys ("more": true
//     when cut);
//   - at most -max-inflight answers (/complete, /stats, /debug/vars) are
//     computed at once, and -max-inflight batches parsed and applied: one
//     more is answered 503 with Retry-After: 1 at once. A slot is held for
//     the work only, never while a client is slow to send or to read;
//   - what requests hold while clients send and read (PUT values and batch
//     bodies as they arrive, parsed batches, answers over 64 KiB until
//     written) is at most -memory together: beyond it 503 with Retry-After, or 413 for a
//     request that alone needs more. A slow client holds only its bytes;
//   - headers must arrive within -header-timeout, a whole request within
//     -read-timeout, an answer must be written within -write-timeout; an
//     idle keep-alive connection is closed after -idle-timeout;
//   - at most -max-conns connections are open: one more is answered 503
//     (JSON, Retry-After) and closed.
//
// # Data
//
// With -data DIR the index survives restarts: at start the newest snapshot
// in DIR is loaded (before -keys, which then adds to it); while serving a
// snapshot is saved every -save-every (default 1m; 0: none) without
// stopping the service — it walks the index while writes go on, so a
// periodic snapshot holds each key as it was at some moment during the
// save, not one instant; and at a clean stop (a signal) a last snapshot
// is saved once the requests in flight are finished, so it holds every
// acknowledged write. Each save is atomic (a temporary file in DIR,
// fsynced, renamed, DIR fsynced); the newest -keep (default 2) are kept.
// On a crash (kill -9, power loss) the writes acknowledged since the last
// completed save are lost: a durable log comes with replication. A
// snapshot that does not load (damaged, truncated, of another format)
// stops the start with an error naming it, rather than serving — and
// later saving — an empty index; move it away to start from the previous
// one. A failed periodic save is logged and retried at the next tick; a
// failed final save makes the exit code 1. One server per DIR: the
// server holds a lock on DIR/LOCK (flock, on Unix) and a second one is
// refused at start, naming the holder's pid; the lock goes with the
// process, kill -9 included.
// Snapshot files are readable by their owner only (0600).
//
// SIGINT or SIGTERM stops the loading of -keys (also from a pipe that
// stays open) or, once serving, stops accepting connections, finishes the
// requests in flight (up to -drain), saves the last snapshot (-data),
// stops the runtime, logs the final statistics and exits 0; a second
// signal ends it at once. -h lists the flags and exits 0.
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
	"unicode/utf8"

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
	limits              httpindex.Config
	maxConns            int
	headerTimeout       time.Duration
	readTimeout         time.Duration
	writeTimeout        time.Duration
	idleTimeout         time.Duration
	data                string
	saveEvery           time.Duration
	keep                int
	cluster             clusterOptions // cluster.go
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
	fs.IntVar(&o.limits.CompleteBytes, "complete-bytes", httpindex.DefaultCompleteBytes, "bytes of keys (JSON-encoded) in one /complete answer; a cut answer says \"more\": true (the next page: after=<last key>)")
	fs.IntVar(&o.limits.InFlight, "max-inflight", httpindex.DefaultInFlight, "expensive work at once, per kind (answers computed: /complete, /stats, /debug/vars; batches parsed and applied); one more gets 503 + Retry-After")
	fs.Int64Var(&o.limits.Memory, "memory", httpindex.DefaultMemory, "bytes that requests may hold together: PUT values and batch bodies as they arrive, parsed batches (+1 per byte, +128 per write), answers over 64 KiB until written; beyond: 503 + Retry-After")
	fs.IntVar(&o.maxConns, "max-conns", 1024, "open connections at most; one more is answered 503 and closed")
	fs.DurationVar(&o.headerTimeout, "header-timeout", 10*time.Second, "time to read a request's headers")
	fs.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "time to read a whole request, body included (a 64 MiB batch needs about 2.2 MiB/s)")
	fs.DurationVar(&o.writeTimeout, "write-timeout", 60*time.Second, "time from the end of a request's headers to the end of its answer (at least -read-timeout)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 60*time.Second, "how long an idle keep-alive connection stays open")
	fs.StringVar(&o.data, "data", "", "directory of the index's data. Alone: snapshots — the newest is loaded at start (a damaged one stops the start), one is saved every -save-every and at a clean stop; on a crash the writes since the last save are lost. In cluster mode (-node-id, -raft-addr): this node's Raft logs and snapshots, so every acknowledged write survives a crash (for a durable single node, give -node-id and -raft-addr without -join)")
	fs.DurationVar(&o.saveEvery, "save-every", time.Minute, "with -data outside cluster mode, time between two periodic snapshots (0 = none: only at a clean stop)")
	fs.IntVar(&o.keep, "keep", 2, "with -data outside cluster mode, the snapshots kept (the newest; older ones are removed after each save)")
	o.cluster.register(fs) // cluster.go
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return o, err
	}
	if err := o.cluster.check(); err != nil {
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
	case o.limits.CompleteBytes < httpindex.MinCompleteBytes:
		return o, exampleutil.Usagef("-complete-bytes must be >= %d (a key of 65536 bytes, escaped)", httpindex.MinCompleteBytes)
	case o.limits.InFlight <= 0 || o.maxConns <= 0:
		return o, exampleutil.Usagef("-max-inflight and -max-conns must be > 0")
	case o.limits.Memory < 4<<20:
		return o, exampleutil.Usagef("-memory must be >= 4 MiB")
	case o.saveEvery < 0 || o.keep < 1:
		return o, exampleutil.Usagef("-save-every must be >= 0 and -keep >= 1")
	case o.headerTimeout <= 0 || o.readTimeout <= 0 || o.writeTimeout <= 0 || o.idleTimeout <= 0 || o.drain <= 0:
		return o, exampleutil.Usagef("-header-timeout, -read-timeout, -write-timeout, -idle-timeout and -drain must be > 0")
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
	var err error
	stopIndex := func() error { return nil }
	wrap := func(h http.Handler) http.Handler { return h }
	if o.cluster.on() { // cluster.go
		o.cluster.data = o.data
		if idx, stopIndex, wrap, err = startCluster(ctx, o.cluster, logger, stderr); err != nil {
			return err
		}
		defer stopIndex()
	} else if o.backend == "locked" {
		idx = httpindex.NewLocked()
		logger.Info("backend locked: one trie behind a sync.RWMutex")
	} else {
		router, err := chooseRouter(o, logger)
		if err != nil {
			return err
		}
		tr, err := shards.NewTrie[string](shards.TrieConfig{Router: router})
		if err != nil {
			return err
		}
		rt, err := runtime.Start(ctx, runtime.Config{Workers: o.workers, DedicatedProcs: o.procs, Logger: logger}, tr)
		if err != nil {
			return err
		}
		defer rt.Stop(context.Background()) // a no-op after stopIndex
		idx = httpindex.NewSharded(rt, tr)
		stopIndex = func() error { return rt.Stop(context.Background()) }
	}
	var st *store
	if o.data != "" && !o.cluster.on() { // in cluster mode -data is Raft's (cluster.go)
		if st, err = openStore(o.data, o.keep, logger); err != nil {
			return err
		}
		defer st.close()
		if err := st.restore(ctx, idx); err != nil {
			return err
		}
	}
	if o.keys != "" {
		if err := loadKeys(ctx, idx, o, stdin, logger); err != nil {
			return err
		}
	}

	h := httpindex.New(idx, o.limits)
	if ctx.Err() != nil { // a signal while loading: stop without serving
		return finish(h, finalSave(st, idx), stopIndex, logger)
	}
	srv := &http.Server{
		Handler:           wrap(h),
		ReadHeaderTimeout: o.headerTimeout,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limitConns(ln, o.maxConns)) }()
	stopSaves := func() {}
	if st != nil && o.saveEvery > 0 {
		sctx, cancel := context.WithCancel(context.Background())
		saverDone := make(chan struct{})
		go func() { defer close(saverDone); st.saveEvery(sctx, idx, o.saveEvery) }()
		stopSaves = func() { cancel(); <-saverDone }
	}
	logger.Info("listening", "url", "http://"+ln.Addr().String()+"/", "backend", idx.Name(), "keys", idx.Len(), "pid", os.Getpid())

	select {
	case err := <-served: // Serve failed on its own (not by Shutdown)
		stopSaves()
		err = errors.Join(err, finalSave(st, idx))
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
	// No request is in flight any more (unless -drain ran out): the last
	// snapshot holds every acknowledged write.
	stopSaves()
	return finish(h, errors.Join(shutErr, finalSave(st, idx)), stopIndex, logger)
}

// finalSave saves the last snapshot at a stop (nothing without -data).
func finalSave(st *store, idx httpindex.Index) error {
	if st == nil {
		return nil
	}
	if err := st.saveIndex(context.Background(), idx, "stop"); err != nil {
		return fmt.Errorf("final save failed, the writes since the last snapshot are lost: %w", err)
	}
	return nil
}

// maxHeaderBytes bounds a request's line and headers: a key of
// trie.MaxKeyLen bytes, every byte percent-encoded, and room for headers.
const maxHeaderBytes = 3*trie.MaxKeyLen + 64<<10

// finish stops the index and logs the final statistics.
func finish(h *httpindex.Server, shutErr error, stopIndex func() error, logger *slog.Logger) error {
	stopErr := stopIndex()
	rep := h.Report()
	logger.Info("final stats", "backend", rep.Backend, "keys", rep.Keys, "requests", rep.Requests, "busy", rep.Limits.Busy,
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
// has no empty key), and so are lines that are not valid UTF-8 (the API
// refuses them: they could not be read back); both are counted. A line
// over trie.MaxKeyLen is an error naming it. A ctx that ends (a signal)
// stops the reading at once, even of a pipe that stays open: what was
// read is applied and the count logged.
func loadKeys(ctx context.Context, idx httpindex.Index, o options, stdin io.Reader, logger *slog.Logger) error {
	r, closeKeys, err := exampleutil.Open(ctx, o.keys, stdin)
	if err != nil {
		return err
	}
	defer closeKeys()
	start := time.Now()
	last := start
	lines, skipped, notUTF8, firstBad := 0, 0, 0, 0
	ops := make([]httpindex.Op, 0, o.batch)
	flush := func() error {
		err := idx.Apply(context.Background(), ops)
		clear(ops)
		ops = ops[:0]
		return err
	}
	err = exampleutil.ReadLines(r, trie.MaxKeyLen, func(line []byte, n int) error {
		lines = n
		switch {
		case len(line) == 0:
			skipped++
			return nil
		case !utf8.Valid(line):
			if notUTF8++; notUTF8 == 1 {
				firstBad = n
			}
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
		return ctx.Err()
	})
	interrupted := ctx.Err() != nil && errors.Is(err, ctx.Err())
	if err != nil && !interrupted {
		return fmt.Errorf("%s: %w", o.keys, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if notUTF8 > 0 {
		logger.Warn("skipped lines that are not valid UTF-8", "file", o.keys, "lines", notUTF8, "first", firstBad)
	}
	el := time.Since(start)
	logger.Info("loaded", "file", o.keys, "lines", lines, "empty_skipped", skipped, "not_utf8_skipped", notUTF8, "keys", idx.Len(),
		"elapsed", el.Round(time.Millisecond), "keys/s", int(float64(lines)/max(el.Seconds(), 1e-9)), "interrupted", interrupted)
	return nil
}
