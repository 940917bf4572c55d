package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// TestRun runs the example with Goroutines workers and with -threads.
func TestRun(t *testing.T) {
	for _, mode := range [][]string{nil, {"-threads"}} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) { testRun(t, mode) })
	}
}

func testRun(t *testing.T, mode []string) {
	var out, errOut bytes.Buffer
	args := append([]string{"-workers", "2", "-tasks", "100", "-span", "100", "-io", "4"}, mode...)
	if err := run(context.Background(), args, nil, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	got := out.String()
	// 1229 primes below 10,000, counted independently of the runtime.
	for _, want := range []string{
		"is ErrPanic: true",
		"100 CPU tasks: 1229 primes below 10000",
		"4 blocking jobs done",
		"blocking pool: 4 jobs, 0 panics",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if countPrimes(0, 10000) != 1229 {
		t.Fatal("countPrimes is wrong")
	}
	// One stats row per worker; tasks = 100 CPU tasks + the panicking Call
	// + Each (2) + Calls (2) + hand-backs (4) = 109.
	tasks := 0
	rows := 0
	for line := range strings.Lines(got) {
		var id, n int
		var cpu string
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%d %s %d", &id, &cpu, &n); err == nil {
			rows++
			tasks += n
		}
	}
	if rows != 2 || tasks != 109 {
		t.Errorf("stats: %d rows, %d tasks; want 2, 109:\n%s", rows, tasks, got)
	}
	if !strings.Contains(errOut.String(), "runtime started") || !strings.Contains(errOut.String(), "task panicked") {
		t.Errorf("log lacks start or panic records:\n%s", errOut.String())
	}
}

func TestBadInput(t *testing.T) {
	for _, args := range [][]string{{"-tasks", "-1"}, {"-span", "0"}, {"-nope"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, nil, &out, &errOut); !errors.Is(err, exampleutil.ErrUsage) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestExitCodesAndInterrupt(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"-h"}, 0}, {[]string{"-span", "0"}, 2}} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "tasks", c.args, nil, io.Discard, &errOut, run); code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, errOut.String())
		}
	}
	// A signal before the first submission: nothing is submitted, the
	// blocking jobs and the summary still run, exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := exampleutil.Main(ctx, "tasks", []string{"-workers", "2", "-tasks", "1000", "-io", "2"}, nil, &out, &errOut, run)
	if code != 0 || !strings.Contains(out.String(), "interrupted: 0 of 1000 CPU tasks submitted") ||
		!strings.Contains(out.String(), "0 CPU tasks: 0 primes") || !strings.Contains(out.String(), "2 blocking jobs done") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if log := errOut.String(); strings.Count(log, "runtime started") != 1 || strings.Contains(log, "\x1b[") {
		t.Fatalf("log:\n%s", log)
	}
}
