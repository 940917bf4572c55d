package shards_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// BenchmarkShardedPersist: Trie.Load of a stream against committing the
// same sorted pairs in batches of 4,096 into an empty sharded trie (what a
// user without Load writes), and Trie.Save against encoding/gob of the
// pairs collected from All. One op is a whole trie (a runtime started and
// stopped around each build, on both sides); ns/key and process CPU
// ns/key are metrics. Keys: -bench.keys (1M) key_%06d, sorted; the zero
// runtime Config (a worker per P).
//
//	go test -run '^$' -bench 'ShardedPersist' -benchtime 3x -count 6 ./shards
func BenchmarkShardedPersist(b *testing.B) {
	ctx := context.Background()
	n := *benchKeys
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key_%06d", i)
	}
	build := func(f func(t *shards.Trie[uint64]), cfg ...shards.TrieConfig) {
		t := mustTrie[uint64](cfg...)
		rt, err := startRT(0, t)
		if err != nil {
			b.Fatal(err)
		}
		f(t)
		rt.Stop(ctx)
	}
	batches := func(t *shards.Trie[uint64]) {
		bt := t.Batch()
		for i, k := range keys {
			bt.Insert(k, uint64(i))
			if bt.Len() == 4096 || i == n-1 {
				if err := bt.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				bt = t.Batch()
			}
		}
	}
	var stream bytes.Buffer
	build(func(t *shards.Trie[uint64]) {
		batches(t)
		if _, err := t.Save(ctx, &stream, trie.Uint64Codec()); err != nil {
			b.Fatal(err)
		}
	})
	perKey := func(b *testing.B, cpu0 time.Duration) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		if cpu := testutil.ProcessCPU() - cpu0; cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/key")
		}
	}
	b.Run("load/Load", func(b *testing.B) {
		cpu0 := testutil.ProcessCPU()
		for b.Loop() {
			build(func(t *shards.Trie[uint64]) {
				if err := t.Load(ctx, bytes.NewReader(stream.Bytes()), trie.Uint64Codec()); err != nil {
					b.Fatal(err)
				}
			})
		}
		perKey(b, cpu0)
	})
	b.Run("load/Batch-sorted", func(b *testing.B) {
		cpu0 := testutil.ProcessCPU()
		for b.Loop() {
			build(batches)
		}
		perKey(b, cpu0)
	})
	// save runs t.Save and returns its last stream.
	save := func(b *testing.B, t *shards.Trie[uint64]) []byte {
		cpu0 := testutil.ProcessCPU()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if _, err := t.Save(ctx, &buf, trie.Uint64Codec()); err != nil {
				b.Fatal(err)
			}
		}
		perKey(b, cpu0)
		b.ReportMetric(float64(buf.Len())/float64(n), "bytes/key")
		return buf.Bytes()
	}
	build(func(t *shards.Trie[uint64]) {
		batches(t)
		b.Run("save/Save", func(b *testing.B) { save(b, t) })
		b.Run("save/gob-slice", func(b *testing.B) {
			type pair struct {
				K []byte
				V uint64
			}
			cpu0 := testutil.ProcessCPU()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				pairs := make([]pair, 0, n)
				for k, v := range t.All() {
					pairs = append(pairs, pair{append([]byte(nil), k...), v})
				}
				if err := gob.NewEncoder(&buf).Encode(pairs); err != nil {
					b.Fatal(err)
				}
			}
			perKey(b, cpu0)
			b.ReportMetric(float64(buf.Len())/float64(n), "bytes/key")
		})
	})
	// Range routing: the shards hold ascending ranges and Save walks their
	// snapshots one after another (trie.SaveSnapshots), no merge.
	sample := make([][]byte, 0, 4096)
	for i := 0; i < n; i += max(n/4096, 1) {
		sample = append(sample, keys[i])
	}
	build(func(t *shards.Trie[uint64]) {
		batches(t)
		b.Run("save/Save-range", func(b *testing.B) {
			if !bytes.Equal(save(b, t), stream.Bytes()) {
				b.Fatal("the range-routed save differs from the hash-routed one")
			}
		})
	}, shards.TrieConfig{Router: shards.NewSampleRouter(sample)})
}
