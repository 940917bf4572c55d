package trie

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustInsert[V any](t testing.TB, tr *Trie[V], k []byte, v V) bool {
	t.Helper()
	added, err := tr.Insert(k, v)
	if err != nil {
		t.Fatalf("insert %q: %v", k, err)
	}
	return added
}

func keysOf[V any](seq func(func([]byte, V) bool)) []string {
	var out []string
	for k := range seq {
		out = append(out, string(k))
	}
	return out
}

func TestEmptyAndZeroByteKeys(t *testing.T) {
	tr := mustNew[string]()
	if _, ok := tr.Get(nil); ok || tr.Len() != 0 || len(keysOf(tr.All())) != 0 {
		t.Fatal("empty trie not empty")
	}
	keys := [][]byte{{}, {0}, {0, 0}, {0, 'a'}, {'a'}, {'a', 0}, {'a', 0, 0}, {0xff}, {0xff, 0}}
	for _, k := range keys {
		if !mustInsert(t, tr, k, fmt.Sprintf("%x", k)) {
			t.Fatalf("%q not added", k)
		}
	}
	if mustInsert(t, tr, []byte{}, "replaced") {
		t.Fatal("empty key added twice")
	}
	if v, ok := tr.Get(nil); !ok || v != "replaced" {
		t.Fatalf("Get(nil) = %q,%v", v, ok)
	}
	want := []string{"", "\x00", "\x00\x00", "\x00a", "a", "a\x00", "a\x00\x00", "\xff", "\xff\x00"}
	if got := keysOf(tr.All()); !slices.Equal(got, want) {
		t.Fatalf("All = %q want %q", got, want)
	}
	if got := keysOf(tr.Prefix([]byte{0})); !slices.Equal(got, want[1:4]) {
		t.Fatalf("Prefix(0) = %q", got)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := tr.Delete(k); !ok {
			t.Fatalf("delete %q", k)
		}
		if err := tr.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	if s := tr.Stats(); s.Keys != 0 || s.Nodes != 0 || s.ArenaBytes != 0 {
		t.Fatalf("not empty: %+v", s)
	}
}

func TestKeyLimits(t *testing.T) {
	tr := mustNew[int]()
	long := bytes.Repeat([]byte{'x'}, MaxKeyLen)
	if !mustInsert(t, tr, long, 1) {
		t.Fatal("MaxKeyLen key not added")
	}
	// A sibling diverging at the very end, and a prefix of it.
	long2 := bytes.Clone(long)
	long2[MaxKeyLen-1] = 'y'
	mustInsert(t, tr, long2, 2)
	mustInsert(t, tr, long[:MaxKeyLen/2], 3)
	for i, k := range [][]byte{long, long2, long[:MaxKeyLen/2]} {
		if v, ok := tr.Get(k); !ok || v != i+1 {
			t.Fatalf("key %d: %v,%v", i, v, ok)
		}
	}
	_, err := tr.Insert(append(long, 'z'), 4)
	if !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("over-long insert: %v", err)
	}
	if _, ok := tr.Get(append(long, 'z')); ok {
		t.Fatal("over-long key found")
	}
	if _, ok := tr.Delete(append(long, 'z')); ok {
		t.Fatal("over-long key deleted")
	}
	if got := keysOf(tr.Seek(long[:MaxKeyLen-1])); len(got) != 2 || got[0] != string(long) {
		t.Fatalf("Seek near the end: %d keys", len(got))
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{long, long2, long[:MaxKeyLen/2]} {
		tr.Delete(k)
	}
	if s := tr.Stats(); s.Nodes != 0 || s.ArenaBytes != 0 {
		t.Fatalf("not empty: %+v", s)
	}
}

func TestDenseNodes(t *testing.T) {
	tr := mustNew[int]()
	// 256 children under one node, then back down (dense -> sparse).
	for i := range 256 {
		mustInsert(t, tr, []byte{'d', byte(i)}, i)
		mustInsert(t, tr, []byte{'d', byte(i), 'x'}, -i)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		if v, ok := tr.Get([]byte{'d', byte(i)}); !ok || v != i {
			t.Fatalf("get %d: %v,%v", i, v, ok)
		}
	}
	got := keysOf(tr.All())
	if len(got) != 512 || !slices.IsSorted(got) {
		t.Fatalf("All: %d keys, sorted=%v", len(got), slices.IsSorted(got))
	}
	for i := 255; i >= 10; i-- {
		tr.Delete([]byte{'d', byte(i)})
		tr.Delete([]byte{'d', byte(i), 'x'})
		if err := tr.CheckInvariants(); err != nil {
			t.Fatalf("after deleting %d: %v", i, err)
		}
	}
	f := tr.Freeze()
	if err := f.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	if f.Len() != 20 || !slices.Equal(keysOf(f.All()), keysOf(tr.All())) {
		t.Fatal("frozen differs")
	}
}

// TestModifyDuringIteration checks the documented semantics: the loop body
// may insert and delete; iteration resumes after the last yielded key.
func TestModifyDuringIteration(t *testing.T) {
	tr := mustNew[int]()
	for i := range 1000 {
		mustInsert(t, tr, fmt.Appendf(nil, "k%04d", i), i)
	}
	// Delete every key as it is yielded, and insert keys behind and ahead.
	var seen []string
	for k := range tr.All() {
		seen = append(seen, string(k))
		if _, ok := tr.Delete(k); !ok {
			t.Fatalf("delete %q during iteration", k)
		}
		if string(k) == "k0500" {
			mustInsert(t, tr, []byte("k0000"), -1)  // behind: not seen
			mustInsert(t, tr, []byte("k0500x"), -2) // ahead: seen
		}
	}
	if len(seen) != 1001 || seen[501] != "k0500x" || !slices.IsSorted(seen) {
		t.Fatalf("seen %d keys, [501]=%q sorted=%v", len(seen), seen[501], slices.IsSorted(seen))
	}
	if got := keysOf(tr.All()); !slices.Equal(got, []string{"k0000"}) {
		t.Fatalf("left %q", got)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestIteratorKeyBuffer(t *testing.T) {
	tr := mustNew[int]()
	for _, k := range []string{"a", "ab", "abc", "b"} {
		mustInsert(t, tr, []byte(k), 0)
	}
	for k := range tr.All() {
		if cap(k) != len(k) {
			t.Fatalf("key %q: capacity %d not clipped", k, cap(k))
		}
		_ = append(k, "junk"...) // must not disturb the iterator
	}
	if got := keysOf(tr.All()); !slices.Equal(got, []string{"a", "ab", "abc", "b"}) {
		t.Fatalf("got %q", got)
	}
	// Early break and an empty range.
	for range tr.All() {
		break
	}
	if got := keysOf(tr.Range([]byte("b"), []byte("a"))); len(got) != 0 {
		t.Fatalf("inverted range: %q", got)
	}
}

func TestSetForms(t *testing.T) {
	s := mustNew[struct{}]()
	w := mustNew[int](Config{NoValues: true})
	for i := range 1000 {
		k := fmt.Appendf(nil, "%d", i*7919%1000)
		mustInsert(t, s, k, struct{}{})
		mustInsert(t, w, k, i)
	}
	for _, st := range []Stats{s.Stats(), w.Stats()} {
		if st.ValueBytes != 0 || st.Keys != 1000 {
			t.Fatalf("set stats: %+v", st)
		}
	}
	if v, ok := w.Get([]byte("7")); !ok || v != 0 {
		t.Fatalf("WithoutValues Get = %v,%v", v, ok)
	}
	if err := w.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestArenaCap(t *testing.T) {
	cfg := pool.MemoryOptimized()
	cfg.MaxBytes = int64(cfg.ChunkSize)
	tr := mustNew[int](Config{Pool: cfg})
	var err error
	n := 0
	for ; n < 1_000_000; n++ {
		if _, err = tr.Insert(fmt.Appendf(nil, "key-%08d", n*7919), n); err != nil {
			break
		}
	}
	if !errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("after %d keys: %v", n, err)
	}
	if tr.Len() != n {
		t.Fatalf("Len %d after %d successful inserts", tr.Len(), n)
	}
	if cerr := tr.CheckInvariants(); cerr != nil {
		t.Fatal(cerr)
	}
	// Deleting everything still works (merges that cannot allocate leave
	// valid non-canonical nodes; here memory is freed as we go).
	for i := range n {
		if _, ok := tr.Delete(fmt.Appendf(nil, "key-%08d", i*7919)); !ok {
			t.Fatalf("delete %d", i)
		}
	}
	if s := tr.Stats(); s.Keys != 0 || s.ArenaBytes != 0 {
		t.Fatalf("not empty: %+v", s)
	}
}

// TestInvalidPoolConfig: a configuration the pool rejects is an error
// wrapping pool.ErrInvalidConfig from every constructor (New panicked
// before issue 22).
func TestInvalidPoolConfig(t *testing.T) {
	bad := Config{Pool: pool.Config{Alignment: 3}}
	_, errNew := New[int](bad)
	_, errShared := NewShared[int](bad)
	_, errBuilder := NewBuilder[int](bad)
	_, errConc := NewConcurrent[int](primitives.OneWriteMultiRead, bad)
	_, errCB := NewConcurrentBuilder[int](primitives.MultiWriteMultiRead, bad)
	for name, err := range map[string]error{"New": errNew, "NewShared": errShared, "NewBuilder": errBuilder, "NewConcurrent": errConc, "NewConcurrentBuilder": errCB} {
		if !errors.Is(err, pool.ErrInvalidConfig) {
			t.Errorf("%s: %v, want pool.ErrInvalidConfig", name, err)
		}
	}
}

// TestMemoryReuse checks that deleting every key returns the arena to
// empty and that a second fill reuses the memory instead of growing.
func TestMemoryReuse(t *testing.T) {
	tr := mustNew[int]()
	n := 50_000
	if raceEnabled {
		n = 5_000
	}
	r := rand.New(rand.NewPCG(1, 2))
	fill := func() {
		for i := range n {
			mustInsert(t, tr, fmt.Appendf(nil, "user/%d/%x", i%97, r.Uint32()), i)
		}
	}
	fill()
	capacity := tr.Stats().ArenaCapacity
	for round := range 3 {
		for k := range tr.All() {
			tr.Delete(k)
		}
		if s := tr.Stats(); s.Keys != 0 || s.Nodes != 0 || s.ArenaBytes != 0 {
			t.Fatalf("round %d: after deleting all: %+v", round, s)
		}
		fill()
		if c := tr.Stats().ArenaCapacity; c > capacity*5/4 {
			t.Fatalf("round %d: arena grew from %d to %d bytes", round, capacity, c)
		}
	}
}

// TestHeapObjects checks that the number of heap objects does not grow with
// the number of keys: nodes are arena memory, values one slice. Under -race
// (which CI runs) it is scaled down 10x: 10k, then 100k keys.
func TestHeapObjects(t *testing.T) {
	small, large := 100_000, 1_000_000
	if raceEnabled || testing.Short() {
		small, large = 10_000, 100_000
	}
	heapObjects := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapObjects
	}
	tr := mustNew[uint64]()
	key := make([]byte, 0, 16)
	insert := func(from, to int) {
		for i := from; i < to; i++ {
			key = fmt.Appendf(key[:0], "key_%07d", i)
			mustInsert(t, tr, key, uint64(i))
		}
	}
	base := heapObjects()
	insert(0, small)
	atSmall := heapObjects()
	insert(small, large)
	atLarge := heapObjects()
	t.Logf("heap objects: empty %d, %d keys %d, %d keys %d (%+v)", base, small, atSmall, large, atLarge, tr.Stats())
	// The further keys may add arena chunks (1 MiB each) but not objects
	// per key or per node.
	if grow := int64(atLarge) - int64(atSmall); grow > 100 {
		t.Fatalf("heap objects grew by %d for %d keys", grow, large-small)
	}
	runtime.KeepAlive(tr)
}

// TestFrozenConcurrentReaders reads one Frozen from many goroutines.
func TestFrozenConcurrentReaders(t *testing.T) {
	tr := mustNew[int]()
	n := 20_000
	if raceEnabled {
		n = 2_000
	}
	for i := range n {
		mustInsert(t, tr, fmt.Appendf(nil, "f/%06d", i), i)
	}
	f := tr.Freeze()
	if fs, ts := f.Stats(), tr.Stats(); fs.ArenaBytes > ts.ArenaBytes {
		t.Fatalf("frozen %d arena bytes > trie %d", fs.ArenaBytes, ts.ArenaBytes)
	}
	for i := range n { // the source stays independent
		tr.Delete(fmt.Appendf(nil, "f/%06d", i))
	}
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 64} {
		var wg sync.WaitGroup
		errs := make(chan error, g)
		for w := range g {
			wg.Go(func() {
				sum := 0
				for k, v := range f.Prefix([]byte("f/0")) {
					if string(k) != fmt.Sprintf("f/%06d", v) {
						errs <- fmt.Errorf("key %q value %d", k, v)
						return
					}
					sum += v
				}
				for i := w; i < n; i += g {
					if v, ok := f.Get(fmt.Appendf(nil, "f/%06d", i)); !ok || v != i {
						errs <- fmt.Errorf("get %d = %d,%v", i, v, ok)
						return
					}
				}
				// Conservation: every reader sees every key once.
				if want := min(n, 100_000) * (min(n, 100_000) - 1) / 2; sum != want {
					errs <- fmt.Errorf("sum %d want %d", sum, want)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%d readers: %v", g, err)
		}
	}
}
