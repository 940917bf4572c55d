package trie

import (
	"fmt"
	"iter"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// BenchmarkScan measures ordered iteration (the cursor's work) in every
// form side by side in one run: the single-owner Trie, a Frozen copy, and
// a Concurrent at both levels, each built once per workload with the same
// 1,000,000 keys (keys-seq, keys-shuf) or 500,000 paths. One op is one
// key.
//
//	op=all     All over the whole trie, restarted at the end
//	op=prefix  Prefix walks of 10 keys (the key's last byte cut off), at
//	           keys in workload order: the seek's share of a short walk
//	           (keys-seq and keys-shuf; the harness calls the iterators
//	           through func values, so each walk allocates its closures)
func BenchmarkScan(b *testing.B) {
	wl := workloads()
	type form struct {
		name   string
		all    func() iter.Seq2[[]byte, uint64]
		prefix func(p []byte) iter.Seq2[[]byte, uint64]
	}
	forms := func(keys keyList) []form {
		t := mustNew[uint64]()
		ow, err := NewConcurrent[uint64](primitives.OneWriteMultiRead, Config{})
		if err != nil {
			b.Fatal(err)
		}
		mw, err := NewConcurrent[uint64](primitives.MultiWriteMultiRead, Config{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range keys.len() {
			k := keys.at(i)
			for _, ins := range []func([]byte, uint64) (bool, error){t.Insert, ow.Insert, mw.Insert} {
				if _, err := ins(k, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		}
		f := t.Freeze()
		return []form{
			{"trie", t.All, t.Prefix},
			{"frozen", f.All, f.Prefix},
			{"onewriter", ow.All, ow.Prefix},
			{"multiwriter", mw.All, mw.Prefix},
		}
	}
	for _, wname := range []string{"keys-seq", "keys-shuf", "paths"} {
		keys := wl[wname]
		fs := forms(keys)
		for _, f := range fs {
			ops := []struct {
				name string
				walk func(i int) iter.Seq2[[]byte, uint64] // the i-th walk
			}{
				{"all", func(int) iter.Seq2[[]byte, uint64] { return f.all() }},
				{"prefix", func(i int) iter.Seq2[[]byte, uint64] {
					k := keys.at(i % keys.len())
					return f.prefix(k[:len(k)-1])
				}},
			}
			for _, op := range ops {
				if wname == "paths" && op.name == "prefix" {
					continue
				}
				b.Run(fmt.Sprintf("form=%s/workload=%s/op=%s", f.name, wname, op.name), func(b *testing.B) {
					b.ReportAllocs()
					n := 0
					var sum uint64
					cpu0 := testutil.ProcessCPU()
					for i := 0; n < b.N; i++ {
						for k, v := range op.walk(i) {
							sum += v + uint64(len(k))
							if n++; n == b.N {
								break
							}
						}
					}
					reportRates(b, cpu0)
					if sum == 0 {
						b.Fatal("iterated nothing")
					}
				})
			}
		}
	}
}
