package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/examples/server/httpindex"
	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
)

func newTestIndex(t *testing.T, backend string) httpindex.Index {
	t.Helper()
	if backend == "locked" {
		return httpindex.NewLocked()
	}
	tr, err := shards.NewTrie[string](shards.TrieConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, Spin: runtime.NoSpin}, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Stop(context.Background()) })
	return httpindex.NewSharded(rt, tr)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func snapNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "LOCK" { // lockDir's, always there
			out = append(out, e.Name())
		}
	}
	return out
}

var errDiskFull = errors.New("no space left on device (simulated)")

// fullDisk accepts limit bytes, then fails as a full disk does.
type fullDisk struct {
	w     io.Writer
	limit int
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) > d.limit {
		n, _ := d.w.Write(p[:d.limit])
		d.limit = 0
		return n, errDiskFull
	}
	d.limit -= len(p)
	return d.w.Write(p)
}

// TestStoreSaveFailsCleanly: a save whose writes fail (a full disk) at
// any point leaves the directory as it was: the previous snapshot, no
// temporary file; restore loads the previous snapshot.
func TestStoreSaveFailsCleanly(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			st, err := openStore(dir, 2, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			idx := newTestIndex(t, backend)
			for i := range 3000 {
				idx.Put(ctx, fmt.Sprintf("key%05d", i), "v")
			}
			_, size, err := st.save(func(w io.Writer) (int64, error) { return idx.Save(ctx, w) })
			if err != nil {
				t.Fatal(err)
			}
			before := snapNames(t, dir)
			idx.Put(ctx, "later", "v")
			for _, limit := range []int{0, 10, 100, int(size) / 2, int(size)} {
				_, _, err := st.save(func(w io.Writer) (int64, error) { return idx.Save(ctx, &fullDisk{w, limit}) })
				if !errors.Is(err, errDiskFull) {
					t.Fatalf("limit %d: %v", limit, err)
				}
				if got := snapNames(t, dir); !equalStrings(got, before) {
					t.Fatalf("limit %d: directory %v, want %v", limit, got, before)
				}
			}
			st.close()
			again := newTestIndex(t, backend)
			st2, err := openStore(dir, 2, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer st2.close()
			if err := st2.restore(ctx, again); err != nil {
				t.Fatal(err)
			}
			if again.Len() != 3000 {
				t.Fatalf("restored %d keys, want 3000", again.Len())
			}
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestStoreKeepsNewest: -keep N keeps the newest N snapshots; a stray
// temporary file (a crash mid-save) is removed at the next open.
func TestStoreKeepsNewest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := openStore(dir, 2, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	idx := newTestIndex(t, "locked")
	for i := range 4 {
		idx.Put(ctx, fmt.Sprint("k", i), "v")
		if err := st.saveIndex(ctx, idx, "test"); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"snapshot-00000000000000000003.trie", "snapshot-00000000000000000004.trie"}
	if got := snapNames(t, dir); !equalStrings(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	os.WriteFile(filepath.Join(dir, ".snapshot-123.tmp"), []byte("half a save"), 0o644)
	st.close()
	st, err = openStore(dir, 2, quietLogger())
	if err != nil || st.seq != 4 {
		t.Fatal(err, st.seq)
	}
	defer st.close()
	if got := snapNames(t, dir); !equalStrings(got, want) {
		t.Fatalf("%v after reopening, want %v", got, want)
	}
	again := newTestIndex(t, "sharded")
	if err := st.restore(ctx, again); err != nil || again.Len() != 4 {
		t.Fatal(err, again.Len())
	}
}

// blockingWriter blocks its first Write until release is closed.
type blockingWriter struct {
	w        io.Writer
	once     sync.Once
	entered  chan struct{}
	released chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.released
	})
	return b.w.Write(p)
}

// TestSaveDoesNotStopServing: while a save is stuck writing, writes and
// reads are answered.
func TestSaveDoesNotStopServing(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			st, err := openStore(t.TempDir(), 1, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			idx := newTestIndex(t, backend)
			for i := range 100 {
				idx.Put(ctx, fmt.Sprint("k", i), "v")
			}
			bw := &blockingWriter{entered: make(chan struct{}), released: make(chan struct{})}
			saved := make(chan error, 1)
			go func() {
				_, _, err := st.save(func(w io.Writer) (int64, error) { bw.w = w; return idx.Save(ctx, bw) })
				saved <- err
			}()
			<-bw.entered
			testutil.Within(t, "a write during a save", func() {
				if _, err := idx.Put(ctx, "during", "save"); err != nil {
					t.Error(err)
				}
				if v, ok := idx.Get("during"); !ok || v != "save" {
					t.Error("read during a save")
				}
			})
			close(bw.released)
			if err := <-saved; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startInProcess runs the server as main does, on a fresh listener, with
// args; stop ends it (as a signal would) and returns its exit code; wait
// returns the exit code of a server that ends on its own.
func startInProcess(t *testing.T, args ...string) (base string, log *syncBuffer, stop, wait func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log = &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- exampleutil.Main(ctx, "server", nil, nil, io.Discard, log, serveWith(ln, nil, args...))
	}()
	wait = func() int {
		defer cancel()
		var code int
		testutil.Within(t, "the server's exit", func() { code = <-exited })
		return code
	}
	stop = func() int {
		cancel()
		return wait()
	}
	return "http://" + ln.Addr().String(), log, stop, wait
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func put(t *testing.T, base, key, value string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/keys/"+key, strings.NewReader(value))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		t.Fatalf("PUT %s: %d", key, resp.StatusCode)
	}
}

// TestDamagedSnapshotStopsStart: a snapshot that does not load (a flipped
// byte, a truncation, another file) stops the start with an error naming
// the file and the way out; with an older good snapshot the hint names it.
func TestDamagedSnapshotStopsStart(t *testing.T) {
	dir := t.TempDir()
	base, log, stop, _ := startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	put(t, base, "kept", "1")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	base, log, stop, _ = startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	put(t, base, "kept2", "2")
	if code := stop(); code != 0 || !strings.Contains(log.String(), "restored") {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	newest := filepath.Join(dir, "snapshot-00000000000000000002.trie")
	good, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	for name, damaged := range map[string][]byte{
		"flipped":   append(append([]byte{}, good[:len(good)/2]...), append([]byte{good[len(good)/2] ^ 4}, good[len(good)/2+1:]...)...),
		"truncated": good[:len(good)-3],
		"other":     []byte("not a snapshot at all\n"),
	} {
		if err := os.WriteFile(newest, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		_, log, _, wait := startInProcess(t, "-data", dir, "-workers", "2")
		code := wait()
		msg := log.String()
		if code != 1 || !strings.Contains(msg, "snapshot-00000000000000000002.trie does not load, not starting") ||
			!strings.Contains(msg, "start from the one before it (snapshot-00000000000000000001.trie)") || strings.Contains(msg, "listening") {
			t.Fatalf("%s: exit %d:\n%s", name, code, msg)
		}
	}
	os.Remove(newest)
	base, log, stop, _ = startInProcess(t, "-data", dir, "-workers", "2", "-save-every", "0")
	var kv struct{ Value string }
	if code := get(t, base, "/keys/kept", &kv); code != 200 || kv.Value != "1" {
		t.Fatalf("older snapshot: %d %q", code, kv.Value)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
}

// TestDataDirAttacks: -data that cannot be a writable directory is refused
// at start with a clear error.
func TestDataDirAttacks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	cases := map[string]string{"under a file": filepath.Join(file, "sub"), "a file": file}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		cases["read-only"] = ro
	}
	for name, data := range cases {
		var errOut bytes.Buffer
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		code := exampleutil.Main(context.Background(), "server", nil, nil, io.Discard, &errOut, serveWith(ln, nil, "-data", data, "-workers", "2"))
		if code != 1 || !strings.Contains(errOut.String(), "server: data: ") || strings.Contains(errOut.String(), "listening") {
			t.Errorf("%s: exit %d:\n%s", name, code, errOut.String())
		}
	}
	for _, args := range [][]string{{"-keep", "0"}, {"-save-every", "-1s"}} {
		var errOut bytes.Buffer
		if code := exampleutil.Main(context.Background(), "server", args, nil, io.Discard, &errOut, run); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
