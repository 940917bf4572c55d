package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func TestRun(t *testing.T) {
	for _, workers := range []string{"1", "3"} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"-workers", workers, "-records", "2000"}, &out, &errOut); err != nil {
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
	if err := run(context.Background(), []string{"-size", "8"}, &out, &errOut); !errors.Is(err, errUsage) {
		t.Fatalf("bad size: %v", err)
	}
}
