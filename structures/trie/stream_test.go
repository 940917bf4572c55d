package trie

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// dumpShape writes the tree at ref node by node: header fields, prefix,
// value index, labels (not arena offsets, which differ between builds).
func dumpShape(sb *strings.Builder, mem *arena, ref uint32, depth int) {
	if ref == 0 {
		return
	}
	fmt.Fprintf(sb, "%*s", 2*depth, "")
	if isLeafRef(ref) {
		fmt.Fprintf(sb, "leaf v%d\n", ref>>1)
		return
	}
	n := mem.at(ref)
	h := n.hdr()
	fmt.Fprintf(sb, "node p=%q n=%d class=%d dense=%v val=%v", n.prefix(h), h.count(), h.class(), h.dense(), h.hasValue())
	if h.hasValue() {
		fmt.Fprintf(sb, " v%d", n.valueIdx())
	}
	sb.WriteByte('\n')
	forChildren(n, h, func(l byte, r uint32) {
		fmt.Fprintf(sb, "%*s'%c'\n", 2*depth+1, "", l)
		dumpShape(sb, mem, r, depth+1)
	})
}

func shapeOf[V any](t *Trie[V]) string {
	var sb strings.Builder
	dumpShape(&sb, t.c.mem, t.c.root, 0)
	return sb.String()
}

func cshapeOf[V any](c *Concurrent[V]) string {
	var sb strings.Builder
	mem := c.w.core.mem
	if c.multi {
		mem = c.slots[0].w.core.mem
	}
	dumpShape(&sb, mem, c.root.Load(), 0)
	return sb.String()
}

// keySets are the key sets of the shape and round-trip tests: edge cases,
// then random sets over small and large alphabets.
func keySets() [][]string {
	sets := [][]string{
		{},
		{""},
		{"a"},
		{"", "a"},
		{"", "a", "ab", "abc"},
		{"abc", "abcd", "abd"},
		{"ab", "abc", "abd"},
		{"a", "b", "c"},
		{"aaaa", "aaab", "aab", "b"},
		{"x", "xa", "xb", "xc", "xd"},
		{strings.Repeat("k", MaxKeyLen), strings.Repeat("k", MaxKeyLen-1) + "l"},
	}
	var fan []string // a dense node (more than maxSparse children) with a value
	fan = append(fan, "f")
	for i := range 200 {
		fan = append(fan, "f"+string(rune(i%128))+fmt.Sprint(i/128))
	}
	sets = append(sets, fan)
	r := rand.New(rand.NewPCG(1, 2))
	for _, spec := range []struct{ n, alpha, maxLen int }{{20, 2, 6}, {100, 3, 8}, {300, 26, 5}, {500, 256, 4}, {2000, 4, 12}, {60, 60, 2}} {
		for range 4 {
			m := map[string]bool{}
			for range spec.n {
				k := make([]byte, r.IntN(spec.maxLen+1))
				for i := range k {
					k[i] = byte('a' + r.IntN(spec.alpha))
					if spec.alpha == 256 {
						k[i] = byte(r.IntN(256))
					}
				}
				m[string(k)] = true
			}
			var s []string
			for k := range m {
				s = append(s, k)
			}
			sets = append(sets, s)
		}
	}
	for i := range sets {
		slices.Sort(sets[i])
	}
	return sets
}

func saveStrings(t testing.TB, pairs iter.Seq2[[]byte, string]) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := Save(&buf, pairs, StringCodec())
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Save returned %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// TestLoadShape checks that Load and LoadConcurrent build exactly the trie
// that inserting the keys in ascending order builds: the same nodes (dump
// and Stats), the same contents.
func TestLoadShape(t *testing.T) {
	for si, keys := range keySets() {
		ins := mustNew[string]()
		for _, k := range keys {
			if _, err := ins.Insert([]byte(k), "v"+k); err != nil {
				t.Fatal(err)
			}
		}
		data := saveStrings(t, ins.All())
		checkTreeSave(t, ins, data)
		got, err := Load(bytes.NewReader(data), StringCodec(), Config{})
		if err != nil {
			t.Fatalf("set %d: %v", si, err)
		}
		if err := got.CheckInvariants(); err != nil {
			t.Fatalf("set %d: %v", si, err)
		}
		if a, b := shapeOf(ins), shapeOf(got); a != b {
			t.Fatalf("set %d (%d keys): shapes differ\ninsert:\n%.2000s\nload:\n%.2000s", si, len(keys), a, b)
		}
		is, gs := ins.Stats(), got.Stats()
		is.ArenaCapacity, gs.ArenaCapacity = 0, 0 // the builder never frees: less fragmentation
		if is != gs {
			t.Fatalf("set %d: stats %+v, inserted %+v", si, gs, is)
		}
		checkSame(t, fmt.Sprint("set ", si), ins.All(), got.All())
		if raceEnabled && si%3 != 0 {
			continue // the race build checks the concurrent forms on a third of the sets
		}
		for _, l := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
			c, err := LoadConcurrent(bytes.NewReader(data), l, StringCodec(), Config{})
			if err != nil {
				t.Fatalf("set %d %v: %v", si, l, err)
			}
			mustCheck(t, c)
			ci := newC[string](t, l)
			for _, k := range keys {
				if _, err := ci.Insert([]byte(k), "v"+k); err != nil {
					t.Fatal(err)
				}
			}
			if a, b := cshapeOf(ci), cshapeOf(c); stripValues(a) != stripValues(b) {
				t.Fatalf("set %d %v: shapes differ\ninsert:\n%.2000s\nload:\n%.2000s", si, l, a, b)
			}
			if err := ci.Reclaim(context.Background()); err != nil { // flushes the multi-writer slots' statistics
				t.Fatal(err)
			}
			cs, cis := c.Stats(), ci.Stats()
			if cs.Keys != cis.Keys || cs.Nodes != cis.Nodes || cs.ArenaBytes != cis.ArenaBytes {
				t.Fatalf("set %d %v: stats %+v, inserted %+v", si, l, cs, cis)
			}
			checkSame(t, fmt.Sprint("set ", si, l), ins.All(), c.All())
			for _, k := range keys {
				if v, ok := c.Get([]byte(k)); !ok || v != "v"+k {
					t.Fatalf("set %d %v: Get(%q) = %q, %v", si, l, k, v, ok)
				}
			}
		}
	}
}

// checkTreeSave checks that Trie.Save and Frozen.Save write exactly the
// bytes Save of All writes (want).
func checkTreeSave(t testing.TB, tr *Trie[string], want []byte) {
	t.Helper()
	var a, b bytes.Buffer
	if _, err := tr.Save(&a, StringCodec()); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Freeze().Save(&b, StringCodec()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), want) || !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("Trie.Save / Frozen.Save wrote %d / %d bytes unlike Save of All (%d)", a.Len(), b.Len(), len(want))
	}
}

// stripValues drops value indices from a dump (the concurrent forms hand
// value slots out in chunks per writer slot).
func stripValues(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, " v"); i >= 0 && strings.Contains(line, "val=true") {
			line = line[:i+2]
		}
		if strings.HasSuffix(strings.TrimSpace(line), "") && strings.HasPrefix(strings.TrimSpace(line), "leaf v") {
			line = "leaf"
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func checkSame[V comparable](t testing.TB, what string, want, got iter.Seq2[[]byte, V]) {
	t.Helper()
	type kv struct {
		k string
		v V
	}
	var a, b []kv
	for k, v := range want {
		a = append(a, kv{string(k), v})
	}
	for k, v := range got {
		b = append(b, kv{string(k), v})
	}
	if !slices.Equal(a, b) {
		t.Fatalf("%s: contents differ: want %d pairs, got %d", what, len(a), len(b))
	}
}

// TestLoadAfterWrites checks that a loaded trie takes later writes like any
// other (the shapes are the insert path's own).
func TestLoadAfterWrites(t *testing.T) {
	keys := keySets()[20]
	src := mustNew[string]()
	for _, k := range keys {
		src.Insert([]byte(k), k)
	}
	got, err := Load(bytes.NewReader(saveStrings(t, src.All())), StringCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		k := []byte(keys[r.IntN(len(keys))] + string(rune('a'+i%5)))
		if i%3 == 0 {
			got.Delete(k)
			src.Delete(k)
		} else {
			got.Insert(k, "x")
			src.Insert(k, "x")
		}
	}
	if err := got.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	checkSame(t, "after writes", src.All(), got.All())
}

func TestSaveErrors(t *testing.T) {
	seq := func(keys ...string) iter.Seq2[[]byte, string] {
		return func(yield func([]byte, string) bool) {
			for _, k := range keys {
				if !yield([]byte(k), k) {
					return
				}
			}
		}
	}
	for _, tc := range []struct {
		keys []string
		want error
	}{
		{[]string{"b", "a"}, ErrUnsorted},
		{[]string{"a", "a"}, ErrUnsorted},
		{[]string{"ab", "a"}, ErrUnsorted},
		{[]string{"", ""}, ErrUnsorted},
		{[]string{"a", strings.Repeat("x", MaxKeyLen+1)}, ErrKeyTooLong},
	} {
		_, err := Save(io.Discard, seq(tc.keys...), StringCodec())
		if !errors.Is(err, tc.want) {
			t.Errorf("%.20q: %v, want %v", tc.keys, err, tc.want)
		}
		if len(err.Error()) > 200 {
			t.Errorf("error too long: %d bytes", len(err.Error()))
		}
	}
	errCodec := errors.New("no such value")
	bad := Codec[string]{Append: func(dst []byte, v string) ([]byte, error) {
		if v == "bad" {
			return dst, errCodec
		}
		return append(dst, v...), nil
	}}
	if _, err := Save(io.Discard, seq("a", "bad"), bad); !errors.Is(err, errCodec) || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("codec error: %v", err)
	}
	if _, err := Save(io.Discard, seq("a"), Codec[string]{Decode: StringCodec().Decode}); err == nil {
		t.Error("codec without Append accepted")
	}
	tr := mustNew[string]()
	for _, k := range keySets()[22] {
		tr.Insert([]byte(k), "bad")
	}
	if _, err := tr.Save(io.Discard, bad); !errors.Is(err, errCodec) {
		t.Errorf("Trie.Save codec error: %v", err)
	}
	if _, err := tr.Save(&failWriter{left: 100}, StringCodec()); !errors.Is(err, errDiskFull) {
		t.Errorf("Trie.Save writer error: %v", err)
	}
	// A writer failing (or writing short) at every offset: Save reports it.
	data := saveStrings(t, seq(keySets()[22]...))
	for off := 0; off < len(data); off += max(1, len(data)/40) {
		fw := &failWriter{left: off}
		n, err := Save(fw, seq(keySets()[22]...), StringCodec())
		if !errors.Is(err, errDiskFull) || n > int64(off) {
			t.Fatalf("offset %d: n=%d err=%v", off, n, err)
		}
	}
}

var errDiskFull = errors.New("disk full")

// failWriter accepts left bytes, then fails (writing what fits).
type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) <= w.left {
		w.left -= len(p)
		return len(p), nil
	}
	n := w.left
	w.left = 0
	return n, errDiskFull
}

// TestLoadCorrupt: a truncation at every byte offset, a flipped bit at
// every byte, a reader failing at every offset, wrong magic and version:
// always an error, never a trie.
func TestLoadCorrupt(t *testing.T) {
	src := mustNew[string]()
	for i, k := range keySets()[16] {
		src.Insert([]byte(k), strings.Repeat("v", i%8))
	}
	var buf bytes.Buffer
	if _, err := saveBlocks(&buf, src.All(), StringCodec(), 300); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if blocks := countBlocks(t, data); blocks < 3 {
		t.Fatalf("want several blocks, got %d", blocks)
	}
	load := func(r io.Reader) error {
		tr, err := Load(r, StringCodec(), Config{})
		if (tr == nil) == (err == nil) {
			t.Fatalf("Load returned %v and %v", tr, err)
		}
		return err
	}
	if err := load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	step := 1
	if raceEnabled {
		step = 3
	}
	for n := 0; n < len(data); n += step {
		err := load(bytes.NewReader(data[:n]))
		if n < 8 && !errors.Is(err, ErrCorrupt) || n >= 8 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
	injected := errors.New("injected read error")
	for n := 0; n < len(data); n += step {
		err := load(io.MultiReader(bytes.NewReader(data[:n]), errReader{injected}))
		if !errors.Is(err, injected) {
			t.Fatalf("failing at %d: %v", n, err)
		}
	}
	for i := 0; i < len(data); i += step {
		c := slices.Clone(data)
		c[i] ^= 1 << (i % 8)
		if err := load(bytes.NewReader(c)); err == nil {
			t.Fatalf("flip at %d accepted", i)
		}
	}
	c := slices.Clone(data)
	c[0] = 'P'
	if err := load(bytes.NewReader(c)); !errors.Is(err, ErrNotStream) {
		t.Fatalf("magic: %v", err)
	}
	c = slices.Clone(data)
	c[8] = 2
	binary.LittleEndian.PutUint32(c[12:], crc32c(c[:12]))
	if err := load(bytes.NewReader(c)); !errors.Is(err, ErrVersion) {
		t.Fatalf("version: %v", err)
	}
	if err := load(strings.NewReader("")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("empty: %v", err)
	}
	// Trailing garbage after a complete stream is not read (and not an error).
	if err := load(io.MultiReader(bytes.NewReader(data), strings.NewReader("garbage"))); err != nil {
		t.Fatal(err)
	}
}

func crc32c(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// saveBlocks is Save with a small block size (tests of block boundaries).
func saveBlocks[V any](w io.Writer, pairs iter.Seq2[[]byte, V], c Codec[V], per int) (int64, error) {
	old := testBlockTarget
	testBlockTarget = per
	defer func() { testBlockTarget = old }()
	return Save(w, pairs, c)
}

func countBlocks(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	_, err := Scan(bytes.NewReader(data), Codec[string]{}, func([]byte, string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	p := data[headerLen:]
	for {
		cnt, k := binary.Uvarint(p)
		p = p[k:]
		if cnt == 0 {
			return n
		}
		size, k := binary.Uvarint(p)
		p = p[k+int(size)+4:]
		n++
	}
}

func TestLoadErrors(t *testing.T) {
	src := mustNew[string]()
	for _, k := range keySets()[18] {
		src.Insert([]byte(k), k)
	}
	data := saveStrings(t, src.All())
	errCodec := errors.New("rejected")
	bad := StringCodec()
	bad.Decode = func(src []byte) (string, error) {
		if len(src) == 3 {
			return "", errCodec
		}
		return string(src), nil
	}
	if _, err := Load(bytes.NewReader(data), bad, Config{}); !errors.Is(err, errCodec) {
		t.Fatalf("codec: %v", err)
	}
	if _, err := LoadConcurrent(bytes.NewReader(data), primitives.MultiWriteMultiRead, bad, Config{}); !errors.Is(err, errCodec) {
		t.Fatalf("codec: %v", err)
	}
	if _, err := LoadConcurrent(bytes.NewReader(data), primitives.NoWriteReadOnly, bad, Config{}); !errors.Is(err, ErrLevel) {
		t.Fatalf("level: %v", err)
	}
	// A pool cap hit mid-load.
	bigData := saveStrings(t, func(yield func([]byte, string) bool) {
		for i := range 40000 {
			if !yield(fmt.Appendf(nil, "key%09d", i*7), "") {
				return
			}
		}
	})
	capCfg := pool.Config{MaxBytes: 256 << 10, ChunkSize: 64 << 10, Alignment: 16, MaxFastBlock: 64 << 10}
	if _, err := Load(bytes.NewReader(bigData), StringCodec(), Config{Pool: capCfg}); !errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("cap: %v", err)
	}
	for _, l := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		if _, err := LoadConcurrent(bytes.NewReader(bigData), l, StringCodec(), Config{Pool: capCfg}); !errors.Is(err, pool.ErrExhausted) {
			t.Fatalf("%v cap: %v", l, err)
		}
	}
	if _, err := Load(bytes.NewReader(data), StringCodec(), Config{Pool: pool.Config{Alignment: 3}}); err == nil {
		t.Fatal("bad pool config accepted")
	}
}

// TestLoadFaultAlloc fails the n-th node allocation of a load, for every n.
func TestLoadFaultAlloc(t *testing.T) {
	src := mustNew[string]()
	for _, k := range keySets()[17] {
		src.Insert([]byte(k), k)
	}
	data := saveStrings(t, src.All())
	nodes := src.Stats().Nodes
	for fail := range nodes {
		b, err := NewBuilder[string](Config{})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		b.t.c.failAlloc = func() bool { calls++; return calls > fail }
		_, err = scan(bytes.NewReader(data), StringCodec(), true, b.b.addL)
		if err == nil {
			_, err = b.Trie()
		} else {
			b.discard()
		}
		if !errors.Is(err, pool.ErrExhausted) {
			t.Fatalf("fail at %d: %v", fail, err)
		}
		if err := b.Add([]byte("zzzz"), ""); err == nil {
			t.Fatal("dead builder accepted a key")
		}
	}
}

func TestCodecs(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 4, 5, 6, time.UTC)
	tt := mustNew[time.Time]()
	tt.Insert([]byte("a"), now)
	tt.Insert([]byte("b"), now.Add(time.Hour))
	var buf bytes.Buffer
	if _, err := Save(&buf, tt.All(), BinaryCodec[time.Time]()); err != nil {
		t.Fatal(err)
	}
	got, err := Load(&buf, BinaryCodec[time.Time](), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Get([]byte("b")); !v.Equal(now.Add(time.Hour)) {
		t.Fatalf("time: %v", v)
	}
	ut := mustNew[uint64]()
	for i := range uint64(100) {
		ut.Insert(binary.BigEndian.AppendUint64(nil, i), i*i)
	}
	buf.Reset()
	Save(&buf, ut.All(), Uint64Codec())
	gu, err := Load(&buf, Uint64Codec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "uint64", ut.All(), gu.All())
	if _, err := Uint64Codec().Decode([]byte{1, 2}); err == nil {
		t.Fatal("short uint64 accepted")
	}
	bt := mustNew[[]byte]()
	bt.Insert([]byte("k"), []byte("value"))
	bt.Insert([]byte("l"), nil)
	buf.Reset()
	Save(&buf, bt.All(), BytesCodec())
	gb, err := Load(&buf, BytesCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := gb.Get([]byte("k")); !ok || string(v) != "value" {
		t.Fatalf("bytes: %q", v)
	}
	// Keys only: a zero codec writes no values; loading one gives zero values.
	buf.Reset()
	if _, err := Save(&buf, bt.All(), Codec[[]byte]{}); err != nil {
		t.Fatal(err)
	}
	keysOnly := buf.Len()
	gk, err := Load(bytes.NewReader(buf.Bytes()), BytesCodec(), Config{})
	if err != nil || gk.Len() != 2 {
		t.Fatal(err)
	}
	if v, ok := gk.Get([]byte("k")); !ok || v != nil {
		t.Fatalf("keys only: %q %v", v, ok)
	}
	set, err := Load(bytes.NewReader(buf.Bytes()), Codec[struct{}]{}, Config{})
	if err != nil || set.Len() != 2 || !set.Contains([]byte("l")) {
		t.Fatal(err)
	}
	buf.Reset()
	Save(&buf, bt.All(), BytesCodec())
	if buf.Len() <= keysOnly {
		t.Fatalf("keys-only stream %d bytes, with values %d", keysOnly, buf.Len())
	}
	// WithoutValues: the codec's Decode is never called.
	never := Codec[[]byte]{Decode: func([]byte) ([]byte, error) { panic("decoded") }}
	if s, err := Load(bytes.NewReader(buf.Bytes()), never, Config{NoValues: true}); err != nil || s.Len() != 2 {
		t.Fatal(err)
	}
}

// TestStreamsBackToBack reads two streams from one bufio.Reader.
func TestStreamsBackToBack(t *testing.T) {
	a, b := mustNew[string](), mustNew[string]()
	a.Insert([]byte("a"), "1")
	b.Insert([]byte("b"), "2")
	var buf bytes.Buffer
	Save(&buf, a.All(), StringCodec())
	Save(&buf, b.All(), StringCodec())
	br := bufio.NewReader(&buf)
	ga, err := Load(br, StringCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := Load(br, StringCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !ga.Contains([]byte("a")) || !gb.Contains([]byte("b")) || gb.Len() != 1 {
		t.Fatal("wrong contents")
	}
}

func TestBuilder(t *testing.T) {
	b, err := NewBuilder[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"a", "b", "ba"} {
		if err := b.Add([]byte(k), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add([]byte("b"), 9); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("unsorted: %v", err)
	}
	if err := b.Add([]byte("c"), 9); err != nil {
		t.Fatal(err) // a refused key does not kill the builder
	}
	if err := b.Add(make([]byte, MaxKeyLen+1), 9); !errors.Is(err, ErrKeyTooLong) {
		t.Fatal(err)
	}
	tr, err := b.Trie()
	if err != nil || tr.Len() != 4 {
		t.Fatal(err)
	}
	if _, err := b.Trie(); err == nil {
		t.Fatal("second Trie accepted")
	}
	if err := b.Add([]byte("d"), 1); err == nil {
		t.Fatal("Add after Trie accepted")
	}
	e, _ := NewBuilder[int](Config{})
	if tr, err := e.Trie(); err != nil || tr.Len() != 0 {
		t.Fatal(err)
	}
	cb, err := NewConcurrentBuilder[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cb.Add([]byte("x"), 1)
	c, err := cb.Concurrent()
	if err != nil || c.Len() != 1 {
		t.Fatal(err)
	}
	if _, err := c.Insert([]byte("y"), 2); err != nil || c.Len() != 2 {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	src := mustNew[string]()
	for _, k := range keySets()[14] {
		src.Insert([]byte(k), k+"!")
	}
	data := saveStrings(t, src.All())
	var keys []string
	n, err := Scan(bytes.NewReader(data), StringCodec(), func(k []byte, v string) error {
		if v != string(k)+"!" {
			return fmt.Errorf("value %q for %q", v, k)
		}
		keys = append(keys, string(k))
		return nil
	})
	if err != nil || n != src.Len() || len(keys) != n {
		t.Fatal(n, err)
	}
	stop := errors.New("stop")
	if _, err := Scan(bytes.NewReader(data), StringCodec(), func([]byte, string) error { return stop }); err != stop {
		t.Fatal(err)
	}
}

func TestLCP(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for range 20000 {
		a := make([]byte, r.IntN(40))
		for i := range a {
			a[i] = byte(r.IntN(3))
		}
		b := append([]byte(nil), a[:r.IntN(len(a)+1)]...)
		for range r.IntN(20) {
			b = append(b, byte(r.IntN(3)))
		}
		if got, want := lcp(a, b), commonPrefix(a, b); got != want {
			t.Fatalf("lcp(%v, %v) = %d, want %d", a, b, got, want)
		}
	}
}

// TestLoadConcurrentFaultAlloc fails the n-th node allocation of a
// concurrent load, for every n, in both forms.
func TestLoadConcurrentFaultAlloc(t *testing.T) {
	src := mustNew[string]()
	for _, k := range keySets()[17] {
		src.Insert([]byte(k), k)
	}
	data := saveStrings(t, src.All())
	nodes := src.Stats().Nodes
	for _, l := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		for fail := range nodes {
			b, err := NewConcurrentBuilder[string](l, Config{})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			b.c.setFailAlloc(func() bool { calls++; return calls > fail })
			_, err = scan(bytes.NewReader(data), StringCodec(), true, b.b.addL)
			if err == nil {
				_, err = b.Concurrent()
			}
			if !errors.Is(err, pool.ErrExhausted) {
				t.Fatalf("%v, fail at %d: %v", l, fail, err)
			}
		}
	}
}

// TestSaveConcurrentUnderWrites saves a Concurrent's All while writers
// change it: the iterator's order guarantee makes the stream valid, and
// every key present for the whole save is in it.
func TestSaveConcurrentUnderWrites(t *testing.T) {
	for _, l := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		c := newC[uint64](t, l)
		stable := 5000
		if raceEnabled {
			stable = 1000
		}
		for i := range stable {
			c.Insert(fmt.Appendf(nil, "stable%05d", i), uint64(i))
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					k := fmt.Appendf(nil, "churn%d/%05d", g, i%3000)
					if i%2 == 0 {
						c.Insert(k, 1)
					} else {
						c.Delete(k)
					}
				}
			}()
		}
		for range 3 {
			var buf bytes.Buffer
			if _, err := Save(&buf, c.All(), Uint64Codec()); err != nil {
				t.Fatal(err)
			}
			got, err := Load(&buf, Uint64Codec(), Config{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range stable {
				if v, ok := got.Get(fmt.Appendf(nil, "stable%05d", i)); !ok || v != uint64(i) {
					t.Fatalf("%v: stable key %d missing from a save under writes", l, i)
				}
			}
		}
		stop.Store(true)
		wg.Wait()
	}
}
