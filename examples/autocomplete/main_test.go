package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
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
	if err := run(context.Background(), []string{"-limit", "0"}, strings.NewReader(""), &out, &errOut); !errors.Is(err, errUsage) {
		t.Fatalf("bad limit: %v", err)
	}
}
