package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func TestRun(t *testing.T) {
	for _, workers := range []string{"1", "3"} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"-workers", workers, "-records", "2000"}, nil, &out, &errOut); err != nil {
			t.Fatal(err, errOut.String())
		}
		s := out.String()
		if !strings.Contains(s, "corrupted: 0") || !strings.Contains(s, "bytes still in use: 0") {
			t.Fatalf("%s", s)
		}
		if workers == "3" && !strings.Contains(s, "0    2000   2000       0") {
			t.Fatalf("every record freed on its shard: %s", s)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-size", "8"}, nil, &out, &errOut); !errors.Is(err, exampleutil.ErrUsage) {
		t.Fatalf("bad size: %v", err)
	}
}

func TestExitCodesAndInterrupt(t *testing.T) {
	var errOut bytes.Buffer
	if code := exampleutil.Main(context.Background(), "pool", []string{"-h"}, nil, io.Discard, &errOut, run); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	// A signal before the start: no record allocated, nothing leaked, exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	code := exampleutil.Main(ctx, "pool", []string{"-workers", "2", "-records", "5000"}, nil, &out, &errOut, run)
	if code != 0 || !strings.Contains(out.String(), "interrupted: 0 of 10000 records allocated") || !strings.Contains(out.String(), "bytes still in use: 0") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
}
