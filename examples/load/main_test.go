package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/examples/server/httpindex"
	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// rows parses the summary table: op -> requests, errors.
func rows(t *testing.T, out string) map[string][2]int {
	t.Helper()
	got := map[string][2]int{}
	re := regexp.MustCompile(`(?m)^\s*(get|complete|put|all)\s+(\d+)\s+\d+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\d+\s*$`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		var n, e int
		fmt.Sscan(m[2], &n)
		fmt.Sscan(m[3], &e)
		got[m[1]] = [2]int{n, e}
	}
	if len(got) != 4 {
		t.Fatalf("no summary table in\n%s", out)
	}
	return got
}

func sharded(t *testing.T) (*httpindex.Server, func()) {
	tr, err := shards.NewTrie[string](shards.TrieConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, Spin: runtime.NoSpin}, tr)
	if err != nil {
		t.Fatal(err)
	}
	return httpindex.New(httpindex.NewSharded(rt, tr), httpindex.Config{}), func() { rt.Stop(context.Background()) }
}

// TestShortRun loads the real handler (both backends) for a moment and
// checks that every operation ran without errors and that the server saw
// the writes.
func TestShortRun(t *testing.T) {
	words := filepath.Join(t.TempDir(), "words")
	if err := os.WriteFile(words, []byte("apple\napricot\nbanana\n\nband\ncherry\nz/1\nz/2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			var h *httpindex.Server
			if backend == "locked" {
				h = httpindex.New(httpindex.NewLocked(), httpindex.Config{})
			} else {
				var stop func()
				h, stop = sharded(t)
				defer stop()
			}
			ts := httptest.NewServer(h)
			defer ts.Close()
			var out, errOut bytes.Buffer
			code := exampleutil.Main(context.Background(), "load", []string{"-url", ts.URL, "-keys", words, "-duration", "300ms",
				"-concurrency", "4", "-write-ratio", "0.3", "-progress", "100ms"}, nil, &out, &errOut, run)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
			}
			r := rows(t, out.String())
			for _, op := range []string{"get", "complete", "put"} {
				if r[op][0] == 0 || r[op][1] != 0 {
					t.Errorf("%s: %d requests, %d errors\n%s", op, r[op][0], r[op][1], out.String())
				}
			}
			if r["all"][0] != r["get"][0]+r["complete"][0]+r["put"][0] {
				t.Errorf("all is not the sum:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "7 keys") {
				t.Errorf("key count (empty line skipped):\n%s", out.String())
			}
			var writes uint64
			for _, sh := range h.Report().Shards {
				writes += sh.Writes
			}
			// Every counted PUT was applied; one cut short by the end of
			// the run may have been applied too.
			if writes < uint64(r["put"][0]) || writes > uint64(r["put"][0]+4) {
				t.Errorf("server applied %d writes, load counted %d puts", writes, r["put"][0])
			}
			if !strings.Contains(errOut.String(), "requests") || strings.Contains(errOut.String(), "\r") {
				t.Errorf("progress lines (not a terminal: plain lines):\n%q", errOut.String())
			}
		})
	}
}

// TestInterrupt ends the run from the server side (as a signal would) and
// checks the summary is still printed and the exit code is 0.
func TestInterrupt(t *testing.T) {
	h := httpindex.New(httpindex.NewLocked(), httpindex.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 200 {
			cancel()
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	var out, errOut bytes.Buffer
	code := exampleutil.Main(ctx, "load", []string{"-url", ts.URL, "-n", "1000", "-duration", "1h", "-concurrency", "3"}, nil, &out, &errOut, run)
	if code != 0 || !strings.Contains(out.String(), "(interrupted)") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if r := rows(t, out.String()); r["all"][0] < 150 || r["all"][1] != 0 {
		t.Fatalf("%v\n%s", r, out.String())
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "-write-ratio"},
		{[]string{"-write-ratio", "2"}, 2, "-write-ratio"},
		{[]string{"-concurrency", "0"}, 2, "-concurrency"},
		{[]string{"-url", "ftp://x"}, 2, "-url"},
		{[]string{"-keys", "/no/such/file"}, 1, "no such file"},
	} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "load", c.args, nil, io.Discard, &errOut, run); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", c.args, code, c.code, c.want, errOut.String())
		}
	}
	// No server: a clear error before the clock starts.
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	var errOut bytes.Buffer
	if code := exampleutil.Main(context.Background(), "load", []string{"-url", url, "-n", "10"}, nil, io.Discard, &errOut, run); code != 1 || !strings.Contains(errOut.String(), "does not answer") {
		t.Errorf("no server: exit %d\n%s", code, errOut.String())
	}
	// A server that fails requests: counted, and exit 1 naming the first.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" {
			return
		}
		http.Error(w, "nope", http.StatusTeapot)
	}))
	defer bad.Close()
	var out bytes.Buffer
	errOut.Reset()
	code := exampleutil.Main(context.Background(), "load", []string{"-url", bad.URL, "-n", "10", "-duration", "50ms", "-concurrency", "2"}, nil, &out, &errOut, run)
	if code != 1 || !strings.Contains(errOut.String(), "418 I'm a teapot") || rows(t, out.String())["all"][1] == 0 {
		t.Errorf("failing server: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.9: 90, 0.99: 99, 1: 100, 0: 1} {
		if got := percentile(d, q); got != want {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if percentile(nil, 0.5) != 0 || percentile(d[:1], 0.99) != 1 {
		t.Error("edge cases")
	}
}

// TestInterruptReadingKeysFromOpenPipe (issue 19, case 14): `-keys -` from
// a pipe that stays open; Ctrl-C arrives while the read waits for more:
// load stops at once, says so and exits 0, no request sent.
func TestInterruptReadingKeysFromOpenPipe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := testutil.NewStallingReader("apple\napricot\n", cancel)
	defer in.Release()
	var out, errOut bytes.Buffer
	testutil.Within(t, "load -keys - after Ctrl-C on an open pipe", func() {
		if code := exampleutil.Main(ctx, "load", []string{"-keys", "-", "-url", "http://127.0.0.1:1"}, in, &out, &errOut, run); code != 0 {
			t.Errorf("exit %d: %s", code, errOut.String())
		}
	})
	if !strings.Contains(out.String(), "interrupted while reading the keys (2 read)") {
		t.Fatalf("%s", out.String())
	}
}

// TestBusyIsNotAFailure: requests the server sheds (503 with Retry-After,
// its limits) are counted in the busy column, not as errors, and the run
// exits 0.
func TestBusyIsNotAFailure(t *testing.T) {
	h := httpindex.New(httpindex.NewLocked(), httpindex.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var completes atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/complete" {
			if completes.Add(1) == 100 {
				cancel()
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"busy: test"}`, http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	var out, errOut bytes.Buffer
	code := exampleutil.Main(ctx, "load", []string{"-url", ts.URL, "-n", "1000", "-duration", "1h", "-concurrency", "3"}, nil, &out, &errOut, run)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	r := rows(t, out.String())
	if r["complete"] != [2]int{0, 0} || r["all"][1] != 0 || !regexp.MustCompile(`(?m)^\s*complete\s+0\s.*\s0\s+(\d{2,})\s*$`).MatchString(out.String()) {
		t.Fatalf("%v\n%s", r, out.String())
	}
}

// TestPrefixNotCutInsideACharacter: -prefix-len counts bytes, but a
// prefix never ends inside a multi-byte character (the server refuses
// prefixes that are not UTF-8, so each would be an error).
func TestPrefixNotCutInsideACharacter(t *testing.T) {
	words := filepath.Join(t.TempDir(), "words")
	if err := os.WriteFile(words, []byte("éa\néb\n😀x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpindex.New(httpindex.NewLocked(), httpindex.Config{}))
	defer ts.Close()
	var out, errOut bytes.Buffer
	code := exampleutil.Main(context.Background(), "load", []string{"-url", ts.URL, "-keys", words, "-prefix-len", "1",
		"-write-ratio", "0", "-complete-ratio", "1", "-duration", "200ms", "-concurrency", "2"}, nil, &out, &errOut, run)
	if r := rows(t, out.String()); code != 0 || r["complete"][0] == 0 || r["all"][1] != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, r, out.String(), errOut.String())
	}
}
