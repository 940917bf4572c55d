package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func TestBuiltinList(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-limit", "3", "-workers", "2"}, strings.NewReader("pa\nre\nzzz\nlock\n"), &out, &errOut)
	if err != nil {
		t.Fatal(err, errOut.String())
	}
	want := []string{
		"pa: padding park parker",
		"re: reader reclaim retire",
		"zzz: no completion",
		"lock: lock lockfree",
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w+"\n") {
			t.Fatalf("missing %q in\n%s", w, out.String())
		}
	}
}

func TestWordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "words")
	if err := os.WriteFile(file, []byte("Go go gopher golang\nrust\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{file}, strings.NewReader("go\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4 words loaded") || !strings.Contains(out.String(), "go: go(2) golang gopher\n") {
		t.Fatalf("%s", out.String())
	}
	err := run(context.Background(), []string{"/no/such/words"}, strings.NewReader(""), &out, &errOut)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing word file: %v", err)
	}
	if err := run(context.Background(), []string{"-limit", "0"}, strings.NewReader(""), &out, &errOut); !errors.Is(err, exampleutil.ErrUsage) {
		t.Fatalf("bad limit: %v", err)
	}
}

func TestExitCodesAndLongLines(t *testing.T) {
	dir := t.TempDir()
	many := filepath.Join(dir, "many")
	// One 300 KB line of short words: over bufio.Scanner's default token size.
	if err := os.WriteFile(many, []byte(strings.Repeat("alpha beta gamma ", 300_000/17)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("one\ntwo\n"+strings.Repeat("w", 2<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args      []string
		code      int
		out, errs string
	}{
		{[]string{"-h"}, 0, "", "-limit"},
		{[]string{"-limit", "0"}, 2, "", "usage"},
		{[]string{"a", "b"}, 2, "", `unexpected argument "b"`},
		{[]string{"-workers", "2", many}, 0, "3 words loaded", ""},
		{[]string{"-workers", "2", bad}, 1, "", `bad: line 3: word "wwww`},
	} {
		var out, errOut bytes.Buffer
		code := exampleutil.Main(context.Background(), "autocomplete", c.args, strings.NewReader("al\n"), &out, &errOut, run)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errs) {
			t.Errorf("%v: exit %d, want %d\n%s\n%s", c.args, code, c.code, out.String(), errOut.String())
		}
		if c.code == 1 && !strings.Contains(errOut.String(), "(2097152 bytes) over the limit of 65536 bytes") {
			t.Errorf("%v: %s", c.args, errOut.String())
		}
	}
}

// notifyWriter collects output and reports when it contains want.
type notifyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, _ := w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return n, nil
}

// TestInterrupt: a signal (the context) ends the prompt loop while stdin is
// still open, with a summary and exit 0.
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	out := &notifyWriter{want: "pa: padding", seen: make(chan struct{})}
	seen := out.seen
	exited := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		exited <- exampleutil.Main(ctx, "autocomplete", []string{"-workers", "2"}, pr, out, &errOut, run)
	}()
	if _, err := pw.Write([]byte("pa\n")); err != nil {
		t.Fatal(err)
	}
	<-seen
	cancel()
	if code := <-exited; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	pw.Close() // lets the stdin reader end
	out.mu.Lock()
	defer out.mu.Unlock()
	if !strings.Contains(out.buf.String(), "answered 1 prefixes\n") {
		t.Fatalf("%s", out.buf.String())
	}
}

// TestInterruptReadingWordsFromOpenPipe (issue 19, case 14): the word
// list is `-` (stdin), a pipe that stays open; Ctrl-C arrives while the
// read waits for more: it stops at once, says so and exits 0.
func TestInterruptReadingWordsFromOpenPipe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := testutil.NewStallingReader("apple apricot\nbanana\n", cancel)
	defer in.Release()
	var out, errOut bytes.Buffer
	testutil.Within(t, "autocomplete - after Ctrl-C on an open pipe", func() {
		if code := exampleutil.Main(ctx, "autocomplete", []string{"-workers", "2", "-"}, in, &out, &errOut, run); code != 0 {
			t.Errorf("exit %d: %s", code, errOut.String())
		}
	})
	if !strings.Contains(out.String(), "interrupted while reading -: 3 words read, none answered") {
		t.Fatalf("%s", out.String())
	}
}
