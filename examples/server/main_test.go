package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// get fetches path from base and decodes the JSON body into out.
func get(t *testing.T, base, path string, out any) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode
}

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-backend", "btree"}, 2},
		{[]string{"-workers", "-1"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-addr", "127.0.0.1:-5"}, 1},
	} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "server", c.args, nil, io.Discard, &errOut, run); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errOut.String())
		}
	}
}

// serveWith runs the service as main does (Main, with its signal handling)
// on ln, with the given flags.
func serveWith(ln net.Listener, stdin io.Reader, args ...string) func(ctx context.Context, _ []string, _ io.Reader, _, stderr io.Writer) error {
	return func(ctx context.Context, _ []string, _ io.Reader, _, stderr io.Writer) error {
		o, err := parse(args, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, o, ln, stdin, stderr)
	}
}

func TestKeysFileAndLongLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("a\n"+strings.Repeat("x", 2<<20)+"\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := exampleutil.Main(context.Background(), "server", nil, nil, io.Discard, &errOut, serveWith(ln, nil, "-keys", bad, "-workers", "2"))
	if code != 1 || !strings.Contains(errOut.String(), "bad: line 2: line too long: 2097152 bytes, over the limit of 65536") {
		t.Fatalf("exit %d:\n%s", code, errOut.String())
	}
}

// TestSignalStopsCleanly runs the server as main does, loads keys from
// stdin, holds a PUT in flight, sends the process SIGTERM, and checks that
// the PUT still completes, the server then refuses connections, and the
// exit code is 0 after the final stats.
func TestSignalStopsCleanly(t *testing.T) {
	if !haveSIGTERM {
		t.Skip("no SIGTERM on this system")
	}
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + ln.Addr().String()
			var errOut bytes.Buffer
			exited := make(chan int, 1)
			go func() {
				exited <- exampleutil.Main(context.Background(), "server", nil, nil, io.Discard, &errOut,
					serveWith(ln, strings.NewReader("apple\napricot\n\nbanana\n"), "-keys", "-", "-backend", backend, "-workers", "2", "-drain", "1m"))
			}()
			// The server answers: Main's signal handler is installed.
			var comp struct{ Keys []string }
			if code := get(t, base, "/complete?prefix=ap", &comp); code != 200 || !slices.Equal(comp.Keys, []string{"apple", "apricot"}) {
				t.Fatalf("%d %q", code, comp.Keys)
			}
			// A PUT whose body arrives only after the signal. With
			// Expect: 100-continue the client sends the body once the
			// handler reads it: the first write to pw returning means the
			// handler is running.
			pr, pw := io.Pipe()
			req, _ := http.NewRequest("PUT", base+"/keys/late", pr)
			req.Header.Set("Expect", "100-continue")
			tr := &http.Transport{ExpectContinueTimeout: time.Minute}
			defer tr.CloseIdleConnections()
			type result struct {
				code int
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := tr.RoundTrip(req)
				if err != nil {
					done <- result{0, err}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done <- result{resp.StatusCode, nil}
			}()
			if _, err := pw.Write([]byte("in ")); err != nil {
				t.Fatal(err)
			}
			terminate(t)
			// Shutdown closes the listener first: wait until it refuses.
			for {
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					break
				}
				conn.Close()
				select {
				case code := <-exited:
					t.Fatalf("exited (%d) before the request in flight finished", code)
				default:
				}
				goruntime.Gosched()
			}
			pw.Write([]byte("flight"))
			pw.Close()
			if r := <-done; r.err != nil || r.code != 201 {
				t.Fatalf("in-flight PUT: %d %v", r.code, r.err)
			}
			if code := <-exited; code != 0 {
				t.Fatalf("exit %d:\n%s", code, errOut.String())
			}
			log := errOut.String()
			for _, want := range []string{"loaded", "empty_skipped=1", "keys=3", "stopping", `msg="final stats" backend=` + backend + " keys=4"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			if strings.Count(log, "runtime started") > 1 || strings.Contains(log, "\x1b[") {
				t.Errorf("log: %s", log)
			}
		})
	}
}

// TestInterruptLoadingFromOpenPipe (issue 19, case 14): `-keys -` from a
// pipe that stays open; Ctrl-C arrives while the load waits for more. The
// server stops reading at once, applies what it read, logs the summary
// and exits 0 without serving.
func TestInterruptLoadingFromOpenPipe(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := testutil.NewStallingReader("apple\n\xff\xfe\napricot\n\nbanana\n", cancel)
			defer in.Release()
			var errOut bytes.Buffer
			testutil.Within(t, "server -keys - after Ctrl-C on an open pipe", func() {
				if code := exampleutil.Main(ctx, "server", nil, nil, io.Discard, &errOut, serveWith(ln, in, "-keys", "-", "-backend", backend, "-workers", "2")); code != 0 {
					t.Errorf("exit %d", code)
				}
			})
			log := errOut.String()
			for _, want := range []string{"lines=5 empty_skipped=1 not_utf8_skipped=1 keys=3", "interrupted=true", "skipped lines that are not valid UTF-8", "first=2", `msg="final stats" backend=` + backend + " keys=3"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			if strings.Contains(log, "listening") {
				t.Errorf("served after Ctrl-C:\n%s", log)
			}
		})
	}
}
