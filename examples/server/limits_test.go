package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zipora-go/zipora/examples/server/httpindex"
	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
)

// running is a server run by serve (as main runs it) for one test.
type running struct {
	t    *testing.T
	addr string
	log  *bytes.Buffer // read only after the server has stopped
}

// start runs the service with args on a fresh port; it is stopped (as by
// a signal) and must exit 0 when the test ends.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, addr: ln.Addr().String(), log: new(bytes.Buffer)}
	exited := make(chan int, 1)
	go func() {
		exited <- exampleutil.Main(ctx, "server", nil, nil, io.Discard, r.log, serveWith(ln, nil, append([]string{"-workers", "2", "-drain", "5s"}, args...)...))
	}()
	t.Cleanup(func() {
		cancel()
		testutil.Within(t, "the server's clean stop", func() {
			if code := <-exited; code != 0 {
				t.Errorf("exit %d:\n%s", code, r.log.String())
			}
		})
		if t.Failed() {
			for _, l := range strings.Split(r.log.String(), "\n") {
				if !strings.Contains(l, "level=INFO") {
					t.Logf("server: %.300s", l)
				}
			}
		}
	})
	return r
}

// limits reads the limits part of /stats.
func (r *running) limits() httpindex.Limits {
	r.t.Helper()
	var rep httpindex.Report
	if code := get(r.t, "http://"+r.addr, "/stats", &rep); code != 200 {
		r.t.Fatalf("/stats: %d", code)
	}
	return rep.Limits
}

// dial opens a raw connection: a client as slow as a test wants.
func (r *running) dial() net.Conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// cut reads c until the server ends the connection (EOF or a reset) and
// returns what it sent.
func cut(t *testing.T, what string, c net.Conn) string {
	t.Helper()
	var got []byte
	testutil.Within(t, what, func() { got, _ = io.ReadAll(c) })
	return string(got)
}

// waitFor polls cond every millisecond until it holds, under the hang
// guard: for what the server does at its own pace (a timeout).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Within(t, what, func() {
		for !cond() {
			time.Sleep(5 * time.Millisecond) // a poll interval, not a synchronization
		}
	})
}

// TestSlowClientsAreCut (issue 19, case 11): with short timeouts, a client
// that sends its headers slowly, one that sends a body slowly, and an idle
// keep-alive connection are all closed by the server.
func TestSlowClientsAreCut(t *testing.T) {
	r := start(t, "-header-timeout", "150ms", "-read-timeout", "300ms", "-write-timeout", "400ms", "-idle-timeout", "150ms")

	headers := r.dial()
	fmt.Fprint(headers, "GET /stats HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	cut(t, "a connection whose headers never end", headers)

	body := r.dial()
	fmt.Fprint(body, "PUT /keys/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx") // 1 of 1000 bytes
	if got := cut(t, "a connection whose body stalls", body); got != "" && !strings.Contains(got, "timeout") {
		t.Fatalf("answer to a stalled body: %q", got)
	}
	if code := get(t, "http://"+r.addr, "/keys/slow", new(any)); code != 404 {
		t.Fatalf("the stalled PUT was applied: GET %d", code)
	}

	idle := r.dial()
	fmt.Fprint(idle, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive answer: %d close %v", resp.StatusCode, resp.Close)
	}
	testutil.Within(t, "an idle keep-alive connection", func() {
		if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("idle connection: read %d, %v", n, err)
		}
	})
}

// TestSlowReaderIsCut (issue 19, case 11): a client that asks for a large
// answer and never reads it holds its handler (and the answer's bytes) only
// until -write-timeout.
func TestSlowReaderIsCut(t *testing.T) {
	var keys strings.Builder
	for i := range 150 { // 150 keys of 60 KiB: a 9 MiB answer, more than the socket buffers hold (4 MiB + the 4 KiB set below)
		fmt.Fprintf(&keys, "k%03d%s\n", i, strings.Repeat("x", 60<<10))
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(keys.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, "-keys", file, "-complete-bytes", fmt.Sprint(16<<20), "-write-timeout", "3s", "-read-timeout", "500ms")
	c := r.dial()
	if err := c.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil { // no autotuning: the answer cannot hide in a large buffer
		t.Fatal(err)
	}
	fmt.Fprint(c, "GET /complete?prefix=k&limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	// The answer's bytes are charged to -memory while it is written (its
	// slot is already given back): they come back when the write is cut.
	waitFor(t, "the answer being written", func() bool { return r.limits().MemoryInUse >= 8<<20 })
	waitFor(t, "the answer cut by -write-timeout", func() bool { return r.limits().MemoryInUse == 0 })
	// (What the kernel already queued still trickles into the 4 KiB
	// buffer: reading it all would only measure that.)
}

// TestConnectionLimit (issue 19, case 11): with -max-conns open
// connections (idle, as a slowloris holds them), one more is answered 503
// with a JSON error and closed; once one closes, new ones are served.
func TestConnectionLimit(t *testing.T) {
	r := start(t, "-max-conns", "2", "-header-timeout", "1m")
	held := []net.Conn{r.dial(), r.dial()}
	for _, c := range held {
		fmt.Fprint(c, "GET /st") // a request that never ends
	}
	extra := r.dial()
	fmt.Fprint(extra, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
	got := cut(t, "a connection over the limit", extra)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatalf("%q: %v", got, err)
	}
	var e struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error, "too many connections") {
		t.Fatalf("over the limit: %d %q %v", resp.StatusCode, e.Error, err)
	}
	held[0].Close()
	waitFor(t, "a place freed by a closed connection", func() bool {
		resp, err := http.Get("http://" + r.addr + "/keys/none")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 404
	})
	http.DefaultClient.CloseIdleConnections()
}

// TestLimitFlags: the limits are flags, listed by -h, with their bounds.
func TestLimitFlags(t *testing.T) {
	var errOut bytes.Buffer
	if code := exampleutil.Main(context.Background(), "server", []string{"-h"}, nil, io.Discard, &errOut, run); code != 0 {
		t.Fatal(code)
	}
	for _, f := range []string{"-complete-bytes", "-max-inflight", "-memory", "-max-conns", "-header-timeout", "-read-timeout", "-write-timeout", "-idle-timeout"} {
		if !strings.Contains(errOut.String(), "  "+f+" ") {
			t.Errorf("-h lacks %s:\n%s", f, errOut.String())
		}
	}
	for _, args := range [][]string{{"-complete-bytes", "1000"}, {"-max-inflight", "0"}, {"-max-conns", "0"}, {"-memory", "10"}, {"-read-timeout", "0s"}} {
		if code := exampleutil.Main(context.Background(), "server", args, nil, io.Discard, io.Discard, run); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
