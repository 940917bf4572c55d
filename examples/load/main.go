// Command load is a load generator for examples/server: -concurrency
// clients, each with its own connection, send requests back to back for
// -duration — PUT /keys/{key} for a -write-ratio share, the rest split
// between GET /keys/{key} and GET /complete?prefix=… (-complete-ratio of
// the reads) — and it prints requests/s and p50/p90/p99 latency per
// operation (a request the server sheds, 503 with Retry-After, is counted
// in the busy column, not as an error). Keys come from -keys (one per
// line; the server should be loaded with the same file) or are generated
// file-system paths. Progress
// goes to stderr: one live line on a terminal, a line per -progress
// otherwise. Ctrl-C ends the run early and still prints the summary.
//
//	go run ./examples/server -keys /usr/share/dict/words &
//	go run ./examples/load -url http://127.0.0.1:8080 -keys /usr/share/dict/words -duration 10s -concurrency 64 -write-ratio 0.1
//	make load                        # the same against `make serve`
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/structures/trie"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "load", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

type options struct {
	url, keys                 string
	duration, progress        time.Duration
	concurrency, n, prefixLen int
	writeRatio, completeRatio float64
	seed                      uint64
	target                    // targets.go: -target, -consistency, -scan-limit, several URLs, -failover
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the server")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send requests")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients (one connection each)")
	fs.Float64Var(&o.writeRatio, "write-ratio", 0.1, "share of requests that are writes (PUT), 0..1")
	fs.Float64Var(&o.completeRatio, "complete-ratio", 0.5, "share of the reads that are completions (the rest are GETs), 0..1")
	fs.IntVar(&o.prefixLen, "prefix-len", 2, "bytes of a key used as the completion prefix (fewer where a character would be cut: the server takes only UTF-8)")
	fs.StringVar(&o.keys, "keys", "", "file of keys, one per line (empty: -n generated paths)")
	fs.IntVar(&o.n, "n", 100_000, "number of generated paths without -keys")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.DurationVar(&o.progress, "progress", 2*time.Second, "interval of the progress lines when stderr is not a terminal")
	o.target.register(fs)
	if err := exampleutil.Parse(fs, args, 0); err != nil {
		return o, err
	}
	switch {
	case o.target.check() != nil:
		return o, o.target.check()
	case o.duration <= 0 || o.progress <= 0:
		return o, exampleutil.Usagef("-duration and -progress must be > 0")
	case o.concurrency <= 0:
		return o, exampleutil.Usagef("-concurrency must be > 0")
	case o.writeRatio < 0 || o.writeRatio > 1 || o.completeRatio < 0 || o.completeRatio > 1:
		return o, exampleutil.Usagef("-write-ratio and -complete-ratio must be in [0, 1]")
	case o.prefixLen < 0 || o.n <= 0:
		return o, exampleutil.Usagef("-prefix-len must be >= 0, -n > 0")
	}
	for one := range strings.SplitSeq(o.url, ",") {
		u, err := url.Parse(one)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, exampleutil.Usagef("-url %q: want http://host:port (or several, comma-separated)", one)
		}
		o.urls = append(o.urls, strings.TrimSuffix(one, "/"))
	}
	o.url = o.urls[0]
	return o, nil
}

// The operations, in the order of the summary table.
const (
	opGet = iota
	opComplete
	opPut
	numOps
)

var opNames = [numOps]string{"get", "complete", "put"}

// stats is one client's record: latencies of the successful requests and
// error counts, per operation.
type stats struct {
	lat    [numOps][]time.Duration
	errors [numOps]int
	busy   [numOps]int // answered 503 with Retry-After: the server shed them
	first  error       // the first error seen
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	keys, err := loadKeys(ctx, o, stdin)
	if err != nil {
		return err
	}
	if ctx.Err() != nil { // a signal while reading the keys
		fmt.Fprintf(stdout, "interrupted while reading the keys (%d read): no request sent\n", len(keys))
		return nil
	}
	if len(keys) == 0 {
		return fmt.Errorf("%s: no keys", o.keys)
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: o.concurrency,
		MaxConnsPerHost:     o.concurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// The servers must answer before the clock starts.
	for _, u := range o.urls {
		if err := o.ping(ctx, client, u); err != nil {
			return err
		}
	}
	if o.failover {
		return runFailover(ctx, o, client, stdout)
	}
	fmt.Fprintf(stdout, "load: %s, %d clients, %v, write ratio %.2f, %d keys\n", o.url, o.concurrency, o.duration, o.writeRatio, len(keys))

	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var done atomic.Uint64 // requests finished, for the progress line
	var failed atomic.Uint64
	results := make([]stats, o.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.concurrency {
		wg.Go(func() {
			c := &clientRun{o: o, http: client, keys: keys, r: rand.New(rand.NewPCG(o.seed, uint64(i))), st: &results[i], id: i}
			c.loop(runCtx, &done, &failed)
		})
	}
	stopProgress := progress(stderr, o.progress, start, &done, &failed)
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	interrupted := ctx.Err() != nil
	report(stdout, results, elapsed, interrupted)
	for _, st := range results {
		if st.first != nil {
			return fmt.Errorf("%d requests failed; the first: %w", failed.Load(), st.first)
		}
	}
	return nil
}

// loadKeys reads -keys (skipping empty lines) or generates -n paths. A ctx
// that ends stops the reading at once (also of a pipe that stays open) and
// returns what was read.
func loadKeys(ctx context.Context, o options, stdin io.Reader) ([]string, error) {
	if o.keys == "" {
		var keys []string
		for _, k := range workload.Paths(o.n, o.seed) {
			keys = append(keys, "/"+string(k))
		}
		return keys, nil
	}
	r, closeKeys, err := exampleutil.Open(ctx, o.keys, stdin)
	if err != nil {
		return nil, err
	}
	defer closeKeys()
	var keys []string
	err = exampleutil.ReadLines(r, trie.MaxKeyLen, func(line []byte, _ int) error {
		if len(line) > 0 {
			keys = append(keys, string(line))
		}
		return nil
	})
	if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		return nil, fmt.Errorf("%s: %w", o.keys, err)
	}
	return keys, nil
}

func ping(ctx context.Context, client *http.Client, base, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("the server does not answer: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server answers GET %s with %s", path, resp.Status)
	}
	return nil
}

// clientRun is one client's loop state.
type clientRun struct {
	o    options
	http *http.Client
	keys []string
	r    *rand.Rand
	st   *stats
	id   int
	puts int
}

func (c *clientRun) loop(ctx context.Context, done, failed *atomic.Uint64) {
	for ctx.Err() == nil {
		key := c.keys[c.r.IntN(len(c.keys))]
		op := opGet
		switch {
		case c.r.Float64() < c.o.writeRatio:
			op = opPut
		case c.r.Float64() < c.o.completeRatio:
			op = opComplete
		}
		var arg string
		switch op {
		case opComplete:
			p := key[:min(len(key), c.o.prefixLen)]
			for !utf8.ValidString(p) { // not inside a character: the server refuses a prefix that is not UTF-8
				p = p[:len(p)-1]
			}
			key = p
		case opPut:
			c.puts++
			arg = fmt.Sprintf("load %d.%d", c.id, c.puts)
		}
		method, path, body := c.o.request(op, key, arg)
		t0 := time.Now()
		err := c.do(ctx, method, path, body, op)
		lat := time.Since(t0)
		if ctx.Err() != nil { // the run ended during the request: not counted
			return
		}
		done.Add(1)
		if errors.Is(err, errBusy) {
			c.st.busy[op]++
			continue
		}
		if err != nil {
			failed.Add(1)
			c.st.errors[op]++
			if c.st.first == nil {
				c.st.first = fmt.Errorf("%s %s: %w", method, path[:min(len(path), 80)], err)
			}
			continue
		}
		c.st.lat[op] = append(c.st.lat[op], lat)
	}
}

// errBusy is a 503 with Retry-After: the server's limits shed the request
// (see examples/server's -max-inflight and -memory); counted apart, not a
// failure.
var errBusy = errors.New("busy")

// do sends one request and checks its status: a GET of a key may find
// nothing (404: the key set may be larger than the server's).
func (c *clientRun) do(ctx context.Context, method, path string, body io.Reader, op int) error {
	req, err := http.NewRequestWithContext(ctx, method, c.o.urls[c.id%len(c.o.urls)]+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusOK,
		op == opPut && resp.StatusCode == http.StatusCreated,
		op == opGet && resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return errBusy
	}
	return errors.New(resp.Status)
}

// progress reports the request count and rate until the returned func is
// called: rewriting one line on a terminal, a line per every otherwise.
func progress(w io.Writer, every time.Duration, start time.Time, done, failed *atomic.Uint64) (stop func()) {
	tty := exampleutil.IsTerminal(w)
	if tty {
		every = 250 * time.Millisecond
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last, lastN := start, uint64(0)
		for {
			select {
			case <-quit:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case now := <-tick.C:
				n := done.Load()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				last, lastN = now, n
				line := fmt.Sprintf("%6.1fs  %9d requests  %8.0f req/s  %d errors", now.Sub(start).Seconds(), n, rate, failed.Load())
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

// percentile returns the q-quantile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// report prints the summary table: per operation and all together.
func report(w io.Writer, results []stats, elapsed time.Duration, interrupted bool) {
	var all []time.Duration
	var per [numOps][]time.Duration
	var errs, busy [numOps]int
	for _, st := range results {
		for op := range numOps {
			per[op] = append(per[op], st.lat[op]...)
			errs[op] += st.errors[op]
			busy[op] += st.busy[op]
		}
	}
	note := ""
	if interrupted {
		note = " (interrupted)"
	}
	fmt.Fprintf(w, "ran %v%s\n", elapsed.Round(time.Millisecond), note)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\treq/s\tp50\tp90\tp99\terrors\tbusy\t")
	row := func(name string, lat []time.Duration, nerr, nbusy int) {
		slices.Sort(lat)
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t%v\t%d\t%d\t\n", name, len(lat), float64(len(lat))/elapsed.Seconds(),
			us(percentile(lat, 0.50)), us(percentile(lat, 0.90)), us(percentile(lat, 0.99)), nerr, nbusy)
	}
	totalErr, totalBusy := 0, 0
	for op := range numOps {
		row(opNames[op], per[op], errs[op], busy[op])
		all = append(all, per[op]...)
		totalErr += errs[op]
		totalBusy += busy[op]
	}
	row("all", all, totalErr, totalBusy)
	tw.Flush()
}

// us rounds a latency for the table.
func us(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
