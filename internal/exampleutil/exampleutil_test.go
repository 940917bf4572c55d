package exampleutil

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zipora-go/zipora/internal/testutil"
)

func lines(t *testing.T, in string, maxLen int) ([]string, error) {
	t.Helper()
	var got []string
	err := ReadLines(strings.NewReader(in), maxLen, func(line []byte, n int) error {
		if n != len(got)+1 {
			t.Fatalf("line number %d, want %d", n, len(got)+1)
		}
		got = append(got, string(line))
		return nil
	})
	return got, err
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\nb\r\n\nlast", []string{"a", "b", "", "last"}},
		{"\n\n", []string{"", ""}},
		{"one\n" + long + "\ntwo\n", []string{"one", long, "two"}},
		{long + "\r\n", []string{long}},
	} {
		got, err := lines(t, c.in, 0)
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("ReadLines(%.20q): %d lines %v", c.in, len(got), err)
		}
	}
}

func TestReadLinesLimit(t *testing.T) {
	const max = 1 << 16
	exact := strings.Repeat("e", max)
	got, err := lines(t, "a\n"+exact+"\r\n"+exact, max)
	if err != nil || len(got) != 3 || got[1] != exact || got[2] != exact {
		t.Fatalf("lines of exactly the limit: %d lines, %v", len(got), err)
	}
	for _, size := range []int{max + 1, 2 << 20} {
		in := "a\nb\n" + strings.Repeat("z", size) + "\nc\n"
		got, err := lines(t, in, max)
		var le *LineError
		if !errors.As(err, &le) || le.Line != 3 || !errors.Is(err, ErrLineTooLong) || len(got) != 2 {
			t.Fatalf("size %d: %v after %d lines", size, err, len(got))
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "line 3: ") || !strings.Contains(msg, "bytes, over the limit of 65536") || len(msg) > 200 {
			t.Fatalf("message: %s", msg)
		}
	}
	stop := errors.New("stop")
	err = ReadLines(strings.NewReader("a\nb\n"), 0, func([]byte, int) error { return stop })
	if err != stop {
		t.Fatalf("fn's error: %v", err)
	}
	err = ReadLines(io.MultiReader(strings.NewReader("a\n"), errReader{}), 0, func([]byte, int) error { return nil })
	if !errors.Is(err, errBroken) {
		t.Fatalf("read error: %v", err)
	}
}

var errBroken = errors.New("broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestQuoteKey(t *testing.T) {
	if got := QuoteKey([]byte("abc")); got != `"abc"` {
		t.Fatal(got)
	}
	got := QuoteKey(bytes.Repeat([]byte("k"), 100_000))
	if !strings.HasSuffix(got, `"... (100000 bytes)`) || len(got) > 100 {
		t.Fatal(got)
	}
}

func TestParseAndExitCodes(t *testing.T) {
	var errOut bytes.Buffer
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(&errOut)
		fs.Int("n", 1, "a number")
		return fs
	}
	run := func() RunFunc {
		return func(ctx context.Context, a []string, _ io.Reader, _, _ io.Writer) error {
			return Parse(newFS(), a, 0)
		}
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, 0}, {[]string{"-h"}, 0}, {[]string{"-help"}, 0},
		{[]string{"-n", "x"}, 2}, {[]string{"-bogus"}, 2}, {[]string{"extra"}, 2},
	} {
		errOut.Reset()
		if code := Main(context.Background(), "x", c.args, nil, io.Discard, &errOut, run()); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errOut.String())
		}
		if c.args != nil && c.code == 0 && !strings.Contains(errOut.String(), "-n int") {
			t.Errorf("%v: no usage printed: %s", c.args, errOut.String())
		}
	}
	errOut.Reset()
	failing := func(context.Context, []string, io.Reader, io.Writer, io.Writer) error { return errors.New("boom") }
	if code := Main(context.Background(), "x", nil, nil, io.Discard, &errOut, failing); code != 1 || errOut.String() != "x: boom\n" {
		t.Fatalf("failure: exit %d, %q", code, errOut.String())
	}
}

func TestLoggerPlainWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelInfo).Info("hello", "k", 1)
	NewLogger(&buf, slog.LevelWarn).Info("hidden")
	if s := buf.String(); strings.Contains(s, "\x1b[") || !strings.Contains(s, "msg=hello k=1") || strings.Contains(s, "hidden") {
		t.Fatalf("%q", s)
	}
	if IsTerminal(&buf) {
		t.Fatal("a buffer is no terminal")
	}
}

// TestContextReader: the data comes through unchanged (iotest), and a
// Read blocked on a pipe that stays open returns ctx's error once ctx ends.
func TestContextReader(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef\n"), 20_000)
	if err := iotest.TestReader(ContextReader(context.Background(), bytes.NewReader(content)), content); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close() // ends the read left behind
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader(ctx, pr)
	go pw.Write([]byte("first\n"))
	var got []string
	errc := make(chan error, 1)
	go func() {
		errc <- ReadLines(r, 0, func(line []byte, _ int) error {
			got = append(got, string(line))
			if len(got) == 1 {
				cancel() // the next read would wait forever: the pipe stays open
			}
			return nil
		})
	}()
	testutil.Within(t, "a read of an open pipe after ctx ended", func() {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("ReadLines: %v, want context.Canceled", err)
		}
	})
	if len(got) != 1 || got[0] != "first" {
		t.Fatalf("lines %q", got)
	}
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a later Read: %v", err)
	}
}
