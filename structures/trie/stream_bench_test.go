package trie

import (
	"bytes"
	"encoding/gob"
	"io"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"

	"github.com/zipora-go/zipora/primitives"
)

// BenchmarkPersist: saving and loading a whole trie, side by side with the
// peers a Go user would write instead — inserting the sorted keys one by
// one (the load goal: >= 2x its rate) and encoding/gob of the same pairs
// (the save goal: >= 5x faster and smaller). One op is one whole trie;
// ns/key and bytes/key are reported as metrics. Workloads as in bench_test.go
// (keys-seq: 1M key_%06d; paths: 500k long shared-prefix paths), uint64
// values.
//
//	go test -run '^$' -bench 'Persist' -benchtime 3x -count 3 ./structures/trie
func BenchmarkPersist(b *testing.B) {
	for _, wl := range []string{"keys-seq", "paths"} {
		keys := sortedList(workloads()[wl])
		src := mustNew[uint64]()
		for i := range keys.len() {
			src.Insert(keys.at(i), uint64(i))
		}
		var stream bytes.Buffer
		if _, err := Save(&stream, src.All(), Uint64Codec()); err != nil {
			b.Fatal(err)
		}
		n := float64(keys.len())
		// perKey reports wall and process CPU time per key (CPU time is
		// what the ratios use: on a shared machine wall time mostly
		// measures the neighbours).
		perKey := func(b *testing.B, cpu0 time.Duration) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
			if cpu := testutil.ProcessCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/n, "cpu-ns/key")
			}
		}
		b.Run("load/"+wl+"/Load", func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				if _, err := Load(bytes.NewReader(stream.Bytes()), Uint64Codec(), Config{}); err != nil {
					b.Fatal(err)
				}
			}
			perKey(b, cpu0)
		})
		b.Run("load/"+wl+"/Insert-sorted", func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				t := mustNew[uint64]()
				for i := range keys.len() {
					t.Insert(keys.at(i), uint64(i))
				}
			}
			perKey(b, cpu0)
		})
		b.Run("load/"+wl+"/LoadConcurrent-ow", func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				if _, err := LoadConcurrent(bytes.NewReader(stream.Bytes()), primitives.OneWriteMultiRead, Uint64Codec(), Config{}); err != nil {
					b.Fatal(err)
				}
			}
			perKey(b, cpu0)
		})
		b.Run("load/"+wl+"/Concurrent-InsertNow-sorted", func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				c, _ := NewConcurrent[uint64](primitives.OneWriteMultiRead, Config{})
				w, _ := c.LockWriter(b.Context())
				for i := range keys.len() {
					w.InsertNow(keys.at(i), uint64(i))
				}
				w.Unlock()
			}
			perKey(b, cpu0)
		})
		// saveRow measures one way of writing the whole trie: process CPU
		// and bytes per key.
		saveRow := func(name string, save func(w io.Writer) error) {
			b.Run("save/"+wl+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				cpu0 := testutil.ProcessCPU()
				var cw countWriter
				for b.Loop() {
					cw = 0
					if err := save(&cw); err != nil {
						b.Fatal(err)
					}
				}
				perKey(b, cpu0)
				b.ReportMetric(float64(cw)/n, "bytes/key")
			})
		}
		saveRow("Save", func(w io.Writer) error { _, err := Save(w, src.All(), Uint64Codec()); return err })
		saveRow("Trie.Save", func(w io.Writer) error { _, err := src.Save(w, Uint64Codec()); return err })
		// The concurrent form's save: a Snapshot of a one-writer trie
		// holding the same keys, saved by its node walk and through its
		// iterator (what the concurrent forms had before Snapshot.Save).
		cc, err := LoadConcurrent(bytes.NewReader(stream.Bytes()), primitives.OneWriteMultiRead, Uint64Codec(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := cc.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		saveRow("Snapshot.Save", func(w io.Writer) error { _, err := snap.Save(w, Uint64Codec()); return err })
		saveRow("Save-Snapshot.All", func(w io.Writer) error { _, err := Save(w, snap.All(), Uint64Codec()); return err })
		snap.Close()
		b.Run("save/"+wl+"/iterate-only", func(b *testing.B) { // the floor every save pays
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			var sum uint64
			for b.Loop() {
				for k, v := range src.All() {
					sum += uint64(len(k)) + v
				}
			}
			perKey(b, cpu0)
		})
		type pair struct {
			K []byte
			V uint64
		}
		saveRow("gob-slice", func(w io.Writer) error {
			pairs := make([]pair, 0, src.Len())
			for k, v := range src.All() {
				pairs = append(pairs, pair{append([]byte(nil), k...), v})
			}
			return gob.NewEncoder(w).Encode(pairs)
		})
		saveRow("gob-stream", func(w io.Writer) error {
			enc := gob.NewEncoder(w)
			for k, v := range src.All() {
				if err := enc.Encode(pair{k, v}); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// sortedList returns l's keys in ascending order.
func sortedList(l keyList) keyList {
	t := mustNew[struct{}]()
	for i := range l.len() {
		t.Insert(l.at(i), struct{}{})
	}
	var out keyList
	for k := range t.All() {
		out.buf = append(out.buf, k...)
		out.ends = append(out.ends, uint32(len(out.buf)))
	}
	return out
}
