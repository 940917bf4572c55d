//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestTwoServersOneDataDir: a second server on a -data directory a running
// server uses is refused at start, naming the holder's pid, and leaves the
// first's files alone (before: it started, removed the first's temporary
// file of a save in progress, so that save failed, and both numbered
// their snapshots from the same sequence, each overwriting and deleting
// the other's). Once the first stopped, the directory is free.
func TestTwoServersOneDataDir(t *testing.T) {
	dir := t.TempDir()
	base, log, stop, _ := startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	put(t, base, "first", "1")
	inFlight := filepath.Join(dir, ".snapshot-42.tmp") // the first's save in progress
	os.WriteFile(inFlight, []byte("half a save"), 0o600)

	_, log2, stop2, _ := startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	testutil.Eventually(t, "the second server's start or refusal", testutil.HangLimit, func() bool {
		return strings.Contains(log2.String(), "listening") || strings.Contains(log2.String(), "in use")
	})
	code := stop2()
	if code != 1 || !strings.Contains(log2.String(), "in use by another server (pid "+fmt.Sprint(os.Getpid())) {
		t.Fatalf("second server: exit %d:\n%s", code, log2)
	}
	if _, err := os.Stat(inFlight); err != nil {
		t.Fatalf("the second server removed the first's temporary file: %v", err)
	}
	os.Remove(inFlight)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	base, log, stop, _ = startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	var kv struct{ Value string }
	if code := get(t, base, "/keys/first", &kv); code != 200 || kv.Value != "1" {
		t.Fatalf("after a restart: %d %q", code, kv.Value)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
}
