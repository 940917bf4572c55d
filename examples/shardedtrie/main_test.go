package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/internal/workload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func runOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

func TestGeneratedPaths(t *testing.T) {
	for _, router := range []string{"hash", "range"} {
		out := runOK(t, "", "-n", "5000", "-workers", "3", "-quiet", "-prefix", "usr/", "-limit", "4", "-router", router)
		if !strings.Contains(out, "ingested 5000 lines, 5000 distinct keys") {
			t.Fatalf("%s: %s", router, out)
		}
		m := regexp.MustCompile(`(\d+) keys with prefix "usr/"; the first 4:\n((?:  .*\n){4})`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no prefix answer in\n%s", router, out)
		}
		listed := strings.Fields(m[2])
		if !slices.IsSorted(listed) {
			t.Fatalf("prefix keys out of order: %v", listed)
		}
		for _, k := range listed {
			if !strings.HasPrefix(k, "usr/") {
				t.Fatalf("%q lacks the prefix", k)
			}
		}
		if !regexp.MustCompile(`(?m)^\s+all\s+5000\s`).MatchString(out) {
			t.Fatalf("%s: shard table does not add up to 5000 keys:\n%s", router, out)
		}
	}
}

func TestKeysFromStdinAndFile(t *testing.T) {
	input := "banana\napple\ncherry\napple\navocado\n\n"
	out := runOK(t, input, "-keys", "-", "-prefix", "a", "-limit", "10", "-quiet", "-workers", "2")
	if !strings.Contains(out, "ingested 6 lines, 5 distinct keys") { // the empty line is a key too
		t.Fatalf("%s", out)
	}
	if !strings.Contains(out, "2 keys with prefix \"a\"; the first 2:\n  apple\n  avocado\n") {
		t.Fatalf("%s", out)
	}
	file := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	out = runOK(t, "", "-keys", file, "-prefix", "c", "-quiet", "-workers", "1")
	if !strings.Contains(out, "1 keys with prefix \"c\"; the first 1:\n  cherry\n") {
		t.Fatalf("%s", out)
	}
}

func TestBadInput(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-keys", "/no/such/file"}, strings.NewReader(""), &out, &errOut)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, args := range [][]string{{"-bogus"}, {"-batch", "0"}, {"-router", "zigzag"}, {"extra"}, {"-n", "-1"}} {
		err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
		if !errors.Is(err, exampleutil.ErrUsage) {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestExitCodesAndLog(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"-h"}, 0}, {[]string{"-help"}, 0}, {[]string{"-router", "zigzag"}, 2}, {[]string{"-keys", "/no/such/file"}, 1}} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "shardedtrie", c.args, strings.NewReader(""), io.Discard, &errOut, run); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := exampleutil.Main(context.Background(), "shardedtrie", []string{"-n", "100", "-workers", "2"}, nil, &out, &errOut, run); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	log := errOut.String()
	if n := strings.Count(log, "runtime started"); n != 1 || strings.Contains(log, "\x1b[") {
		t.Fatalf("%d start records, colour codes %t in a log that is no terminal:\n%s", n, strings.Contains(log, "\x1b["), log)
	}
}

// TestLongLines: lines far over bufio.Scanner's default token size are
// read; a key over trie.MaxKeyLen fails with its line number, with either
// router (the range router reads the input first).
func TestLongLines(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	big := strings.Repeat("b", 1<<16) // exactly trie.MaxKeyLen
	if err := os.WriteFile(ok, []byte("a\n"+big+"\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runOK(t, "", "-keys", ok, "-prefix", "b", "-limit", "0", "-quiet", "-workers", "2")
	if !strings.Contains(out, "ingested 3 lines, 3 distinct keys") || !strings.Contains(out, "1 keys with prefix \"b\"") {
		t.Fatal(out)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("a\nb\n"+strings.Repeat("x", 2<<20)+"\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, router := range []string{"hash", "range"} {
		var errOut bytes.Buffer
		code := exampleutil.Main(context.Background(), "shardedtrie", []string{"-keys", bad, "-router", router, "-quiet", "-workers", "2"}, nil, io.Discard, &errOut, run)
		want := "shardedtrie: " + bad + ": line 3: line too long: 2097152 bytes, over the limit of 65536"
		if code != 1 || !strings.HasPrefix(errOut.String(), want) {
			t.Errorf("%s: exit %d, %q; want 1 and %q", router, code, errOut.String(), want)
		}
	}
}

// TestRangeRouterSpreadsPaths: absolute paths all start with "/"; the range
// router's boundaries come from the input, so every shard gets a fair share
// — also when the input is sorted.
func TestRangeRouterSpreadsPaths(t *testing.T) {
	var keys []string
	for _, k := range workload.Paths(8000, 7) {
		keys = append(keys, "/"+string(k))
	}
	slices.Sort(keys)
	file := filepath.Join(t.TempDir(), "paths")
	if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runOK(t, "", "-keys", file, "-router", "range", "-workers", "4", "-quiet", "-prefix", "/usr/", "-limit", "0")
	rows := regexp.MustCompile(`(?m)^\s+(\d)\s+(\d+)\s`).FindAllStringSubmatch(out, -1)
	if len(rows) != 4 {
		t.Fatalf("want 4 shard rows:\n%s", out)
	}
	for _, r := range rows {
		var n int
		fmt.Sscan(r[2], &n)
		if n < 8000/4*8/10 || n > 8000/4*12/10 {
			t.Errorf("shard %s holds %d of 8000 keys; want about 2000:\n%s", r[1], n, out)
		}
	}
	// The prefix answer agrees with the input.
	want := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "/usr/") {
			want++
		}
	}
	if !strings.Contains(out, fmt.Sprintf("%d keys with prefix \"/usr/\"", want)) {
		t.Errorf("want %d keys under /usr/:\n%s", want, out)
	}
}

// endless yields "k0\n", "k1\n", ... forever, and calls cancel once it has
// produced cancelAt lines: a run reading it stops only by its context.
type endless struct {
	n, cancelAt int
	cancel      func()
	buf         []byte
}

func (e *endless) Read(p []byte) (int, error) {
	for len(e.buf) < len(p) {
		e.buf = fmt.Appendf(e.buf, "k%d\n", e.n)
		e.n++
		if e.n == e.cancelAt {
			e.cancel()
		}
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

func TestInterruptPrintsSummary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &endless{cancelAt: 50_000, cancel: cancel}
	var out, errOut bytes.Buffer
	code := exampleutil.Main(ctx, "shardedtrie", []string{"-keys", "-", "-workers", "2", "-quiet", "-prefix", "k1", "-limit", "1"}, in, &out, &errOut, run)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`ingested (\d+) lines, (\d+) distinct keys .* \(interrupted`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] {
		t.Fatalf("no interrupted summary with every line read committed:\n%s", out.String())
	}
	var n int
	fmt.Sscan(m[1], &n)
	// The reader runs ahead of the ingest by up to a read buffer (64 KiB,
	// under 20,000 of these lines); the ingest stops within two batches.
	if n < 50_000-20_000 || n > 50_000+2*4096 {
		t.Fatalf("read %d lines, interrupted at line 50000", n)
	}
	if !regexp.MustCompile(`(?m)^\s+all\s+` + m[1] + `\s`).MatchString(out.String()) {
		t.Fatalf("shard table:\n%s", out.String())
	}
}

// TestInterruptOpenPipe (issue 19, case 14): `-keys -` from a pipe that
// stays open; Ctrl-C arrives while the read waits for more. The run stops
// reading at once, commits the lines read, prints the summary and exits 0,
// with either router (the range router reads the whole input first).
func TestInterruptOpenPipe(t *testing.T) {
	for _, router := range []string{"hash", "range"} {
		t.Run(router, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := testutil.NewStallingReader("apple\napricot\nbanana\n", cancel)
			defer in.Release()
			var out, errOut bytes.Buffer
			testutil.Within(t, "shardedtrie -keys - after Ctrl-C on an open pipe", func() {
				code := exampleutil.Main(ctx, "shardedtrie", []string{"-keys", "-", "-router", router, "-workers", "2", "-quiet", "-prefix", "ap"}, in, &out, &errOut, run)
				if code != 0 {
					t.Errorf("exit %d: %s", code, errOut.String())
				}
			})
			if !strings.Contains(out.String(), "ingested 3 lines, 3 distinct keys") || !strings.Contains(out.String(), "(interrupted") ||
				!strings.Contains(out.String(), "2 keys with prefix \"ap\"") {
				t.Fatalf("%s", out.String())
			}
		})
	}
}
