// Package exampleutil holds what every example program under examples/
// shares, so that they behave alike as command-line tools: the exit-code
// convention (Main), flag parsing where -h exits 0 (Parse), a logger that
// colours only a terminal (NewLogger), and a line reader that takes lines of
// any length and names the line of a key that is too long (ReadLines).
package exampleutil

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// ErrUsage marks a command-line error: Main exits 2 for it.
var ErrUsage = errors.New("usage")

// RunFunc is an example's main body: it parses args, does its work and
// returns nil after a clean finish, including a clean stop after ctx ended
// (a signal).
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Main runs an example's body under a context that ends on SIGINT or
// SIGTERM and returns the process exit code: 0 after success, a clean stop
// on a signal, or -h; 2 for a usage error (ErrUsage); 1 for any other
// error, which it prints to stderr after the program's name. Once the
// context has ended, a second signal has its default effect (it ends a
// clean stop that takes too long).
func Main(parent context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer, run RunFunc) int {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done() // a signal, parent, or the deferred stop
		stop()
	}()
	err := run(ctx, args, stdin, stdout, stderr)
	return ExitCode(name, err, stderr)
}

// ExitCode maps run's error to an exit code as Main does, printing it.
func ExitCode(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}

// Parse parses args with fs (which must use flag.ContinueOnError). It
// returns flag.ErrHelp for -h/-help (the usage is printed; Main exits 0),
// an error wrapping ErrUsage for a bad flag or any positional argument
// beyond maxArgs.
func Parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > maxArgs {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(maxArgs))
	}
	return nil
}

// Usagef returns an error wrapping ErrUsage.
func Usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// IsTerminal reports whether w is a terminal (an *os.File on a tty).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewLogger returns a logger writing to w at level: coloured (tint) when w
// is a terminal, plain slog text otherwise, so that no colour codes land in
// a redirected file.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	if IsTerminal(w) {
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// QuoteKey quotes at most the first 64 bytes of key, followed by its length
// when it is longer: for error messages about keys of any size.
func QuoteKey(key []byte) string {
	const show = 64
	if len(key) <= show {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q... (%d bytes)", key[:show], len(key))
}

// LineError reports a line that cannot be used; Line counts from 1.
type LineError struct {
	Line int
	Err  error
}

// Error implements error: "line N: cause".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// ErrLineTooLong is matched (errors.Is) by the error ReadLines returns for
// a line longer than its limit.
var ErrLineTooLong = errors.New("line too long")

// ReadLines calls fn with each line of r (without its "\n" or "\r\n") and
// its number, counting from 1; a last line without a newline counts too.
// Lines of any length are read (no bufio.Scanner token limit); a line
// longer than maxLen bytes (maxLen > 0) stops the reading with a
// *LineError naming its number, wrapping ErrLineTooLong, quoting its start
// and giving its length, without holding more than maxLen+1 bytes of it.
// An error from fn stops the reading and is returned as is. The line slice
// is valid only during the call.
func ReadLines(r io.Reader, maxLen int, fn func(line []byte, n int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	keep := math.MaxInt // bytes of a long line kept: enough to see "\r\n" past maxLen
	if maxLen > 0 {
		keep = maxLen + 2
	}
	var buf []byte // a line longer than br's buffer
	for n := 1; ; n++ {
		frag, err := br.ReadSlice('\n')
		total, line := len(frag), frag
		if err == bufio.ErrBufferFull {
			buf = append(buf[:0], frag...)
			for err == bufio.ErrBufferFull {
				frag, err = br.ReadSlice('\n')
				total += len(frag)
				if room := keep - len(buf); room > 0 {
					buf = append(buf, frag[:min(len(frag), room)]...)
				}
			}
			line = buf
		}
		if err != nil && err != io.EOF {
			return err
		}
		if total == 0 { // end of input
			return nil
		}
		whole := len(line) == total
		if err == nil { // the line ends with "\n"
			total--
			if whole {
				line = line[:len(line)-1]
				if len(line) > 0 && line[len(line)-1] == '\r' {
					line = line[:len(line)-1]
					total--
				}
			}
		}
		if maxLen > 0 && total > maxLen {
			return &LineError{n, fmt.Errorf("%w: %d bytes, over the limit of %d (starts %s)",
				ErrLineTooLong, total, maxLen, QuoteKey(line[:min(len(line), 64)]))}
		}
		if ferr := fn(line, n); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// Open opens the input file name, or returns stdin for "-", as a reader
// that ctx interrupts (ContextReader): a signal stops the reading even
// while the input has nothing to say (a pipe that stays open, a terminal,
// a FIFO). close closes the file (and does nothing for stdin).
func Open(ctx context.Context, name string, stdin io.Reader) (r io.Reader, close func() error, err error) {
	if name == "-" {
		return ContextReader(ctx, stdin), func() error { return nil }, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return ContextReader(ctx, f), f.Close, nil
}

// ContextReader returns a reader of r whose Read returns ctx.Err() as soon
// as ctx ends, even while a Read of r is blocked. Each Read of r runs on a
// goroutine of its own, one at a time, into a buffer of the reader; a Read
// still blocked when ctx ends is left to finish (or to end with the
// process: a read of a pipe or a terminal cannot be interrupted portably)
// and its data is dropped. Once r or ctx has returned an error, every Read
// returns it. Not safe for concurrent use, as most readers.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r, res: make(chan readResult, 1)}
}

type readResult struct {
	n   int
	err error
}

type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	res      chan readResult // buffered: a read left behind never blocks
	buf      []byte          // owned by the read in flight while pending
	off, end int             // unread data: buf[off:end]
	pending  bool
	err      error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.off < c.end {
		n := copy(p, c.buf[c.off:c.end])
		c.off += n
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	if !c.pending {
		if len(c.buf) < len(p) {
			c.buf = make([]byte, min(max(len(p), 4<<10), 64<<10))
		}
		c.pending = true
		buf, r, res := c.buf, c.r, c.res
		go func() {
			n, err := r.Read(buf)
			res <- readResult{n, err}
		}()
	}
	select {
	case rr := <-c.res:
		c.pending = false
		c.off, c.end = 0, rr.n
		if rr.err != nil {
			c.err = rr.err
		}
		n := copy(p, c.buf[:c.end])
		c.off = n
		if n == 0 && c.err != nil {
			return 0, c.err
		}
		return n, nil
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return 0, c.err
	}
}
