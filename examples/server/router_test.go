package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/shards"
)

// TestChooseRouter: auto picks range routing when -keys is a file (its
// boundaries sampled from the file, the same each time) and hash routing
// for stdin or no keys; range without a file is a usage error.
func TestChooseRouter(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	var buf bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&buf, "k%05d\n\n", i)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := exampleutil.NewLogger(io.Discard, 0)
	for _, c := range []struct {
		router, keys string
		want         string // "hash", "range" or "usage"
	}{
		{"auto", file, "range"}, {"auto", "-", "hash"}, {"auto", "", "hash"},
		{"hash", file, "hash"}, {"range", file, "range"}, {"range", "-", "usage"},
		{"range", filepath.Join(dir, "missing"), "error"},
	} {
		r, err := chooseRouter(options{router: c.router, keys: c.keys}, logger)
		var got string
		switch rr := r.(type) {
		case *shards.HashRouter:
			got = "hash"
		case *shards.RangeRouter:
			got = "range"
			if err := rr.Init(4); err != nil {
				t.Fatal(err)
			}
			b := rr.Boundaries()
			if len(b) != 3 || !bytes.HasPrefix(b[0], []byte("k")) {
				t.Fatalf("boundaries %q", b)
			}
		}
		switch {
		case errors.Is(err, exampleutil.ErrUsage):
			got = "usage"
		case err != nil:
			got = "error"
		}
		if got != c.want {
			t.Errorf("-router %s -keys %q: %s (%v), want %s", c.router, c.keys, got, err, c.want)
		}
	}
}
