package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/exampleutil"
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
