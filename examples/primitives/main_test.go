package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := exampleutil.Main(context.Background(), "primitives", []string{"-rounds", "200"}, nil, &out, &errOut, run); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	// The reader's pin holds back both retired versions; its release frees
	// them.
	for _, want := range []string{"CPU: ", "(200 rounds)", "futex Parker", "reclaim while the reader is live: 0 items",
		`reclaimed "config v1"`, `reclaimed "config v2"`, "reclaim after release: 2 items"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExitCodesAndInterrupt(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"-h"}, 0}, {[]string{"-rounds", "0"}, 2}, {[]string{"x"}, 2}} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "primitives", c.args, nil, io.Discard, &errOut, run); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errOut.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if code := exampleutil.Main(ctx, "primitives", nil, nil, &out, io.Discard, run); code != 0 || !strings.Contains(out.String(), "interrupted: the wake-up and reclamation parts were skipped") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

// signalOnWrite cancels a context 10 ms after the first write of the
// tool's output (the topology line, printed just before the measurement
// starts), as a Ctrl-C at any moment would: the measurement has then
// started (or, on a stalled machine, not: both are accepted).
type signalOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	once   sync.Once
	cancel func()
}

func (w *signalOnWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { time.AfterFunc(10*time.Millisecond, w.cancel) })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *signalOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestInterruptDuringRounds (issue 19, case 14): a Ctrl-C during a long
// measurement (-rounds 2e9: hours) stops it, prints what was measured and
// exits 0.
func TestInterruptDuringRounds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &signalOnWrite{cancel: cancel}
	testutil.Within(t, "primitives -rounds 2000000000 after Ctrl-C", func() {
		if code := exampleutil.Main(ctx, "primitives", []string{"-rounds", "2000000000"}, nil, out, io.Discard, run); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	if !strings.Contains(out.String(), "interrupted: the wake-up part was cut short") && !strings.Contains(out.String(), "interrupted: the wake-up and reclamation parts were skipped") {
		t.Fatalf("%s", out.String())
	}
}
