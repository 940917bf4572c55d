package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
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
		if !errors.Is(err, errUsage) {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
	}
}
