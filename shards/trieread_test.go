package shards_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// readKeys returns n distinct keys over a small alphabet that includes
// 0x00 and 0xff (so prefixes nest and straddle shard boundaries), the
// empty key, and two keys of trie.MaxKeyLen bytes.
func readKeys(rng *rand.Rand, n int) [][]byte {
	alpha := []byte{0x00, 'a', 'b', 'c', 0xfe, 0xff}
	set := map[string]bool{"": true}
	for len(set) < n {
		k := make([]byte, 1+rng.IntN(6))
		for i := range k {
			k[i] = alpha[rng.IntN(len(alpha))]
		}
		set[string(k)] = true
	}
	for _, b := range []byte{'b', 0xff} {
		set[string(bytes.Repeat([]byte{b}, trie.MaxKeyLen))] = true
	}
	out := make([][]byte, 0, len(set))
	for k := range set {
		out = append(out, []byte(k))
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// readRouters: hash routing, and range routing with boundaries sampled
// from the keys themselves.
func readRouters(keys [][]byte) map[string]func() shards.Router {
	return map[string]func() shards.Router{
		"hash":  func() shards.Router { return &shards.HashRouter{} },
		"range": func() shards.Router { return shards.NewSampleRouter(keys) },
	}
}

// queryBounds are the bounds the tests query with: every length-0..2
// string over the alphabet, keys themselves, and keys past the end.
func queryBounds(rng *rand.Rand, keys [][]byte) [][]byte {
	qs := [][]byte{nil, {}, {0x00}, {0xff}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0xff, 0x00}, bytes.Repeat([]byte{0xff}, trie.MaxKeyLen)}
	for _, a := range []byte{0x00, 'a', 'c', 'd', 0xfe, 0xff} {
		qs = append(qs, []byte{a})
		for _, b := range []byte{0x00, 'b', 0xff} {
			qs = append(qs, []byte{a, b})
		}
	}
	for range 20 {
		k := keys[rng.IntN(len(keys))]
		qs = append(qs, k, k[:len(k)/2], append(bytes.Clone(k), 0x00))
	}
	return qs
}

// take collects up to limit keys and values of seq (limit < 0: all),
// breaking out of the loop early.
func take(seq func(func([]byte, uint64) bool), limit int) (keys []string, vals []uint64) {
	if limit == 0 {
		return nil, nil
	}
	for k, v := range seq {
		keys = append(keys, string(k))
		vals = append(vals, v)
		if len(keys) == limit {
			break
		}
	}
	return keys, vals
}

// checkSame compares every read of tr with the locked trie's, with early
// breaks at random limits.
func checkSame(t *testing.T, rng *rand.Rand, tr *shards.Trie[uint64], ref *lockedShard[uint64], qs [][]byte) {
	t.Helper()
	type read struct {
		name      string
		got, want func(func([]byte, uint64) bool)
	}
	var reads []read
	reads = append(reads, read{"All", tr.All(), ref.All()})
	for i, q := range qs {
		to := qs[(i*7+3)%len(qs)]
		reads = append(reads,
			read{fmt.Sprintf("Prefix(%.8q)", q), tr.Prefix(q), ref.Prefix(q)},
			read{fmt.Sprintf("Seek(%.8q)", q), tr.Seek(q), ref.Seek(q)},
			read{fmt.Sprintf("Range(%.8q, %.8q)", q, to), tr.Range(q, to), ref.Range(q, to)},
		)
	}
	for _, r := range reads {
		limit := -1
		if rng.IntN(2) == 0 {
			limit = rng.IntN(12)
		}
		gk, gv := take(r.got, limit)
		wk, wv := take(r.want, limit)
		if !slices.Equal(gk, wk) || !slices.Equal(gv, wv) {
			t.Fatalf("%s limit %d: got %d keys %.3q, want %d keys %.3q", r.name, limit, len(gk), gk, len(wk), wk)
		}
	}
}

// TestReadsMatchLockedTrie: every ordered read of the sharded trie (All,
// Prefix, Seek, Range; early breaks; empty, 0x00/0xff and past-the-end
// bounds; 64 KiB keys) equals the single locked trie's, under hash and
// range routing, at 1, GOMAXPROCS and 8 shards, and again after deletes.
func TestReadsMatchLockedTrie(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	keys := readKeys(rng, 1500/scale)
	qs := queryBounds(rng, keys)
	for name, mk := range readRouters(keys) {
		for _, workers := range workerCounts() {
			t.Run(fmt.Sprintf("router=%s/workers=%d", name, workers), func(t *testing.T) {
				_, tr := startTrie(t, workers, shards.TrieConfig{Router: mk()})
				ref := newLockedShard[uint64]()
				ctx := context.Background()
				for _, k := range keys {
					if _, err := tr.Insert(ctx, k, valueOf(k)); err != nil {
						t.Fatal(err)
					}
					if _, err := ref.Insert(k, valueOf(k)); err != nil {
						t.Fatal(err)
					}
				}
				checkSame(t, rng, tr, ref, qs)
				for i, k := range keys {
					if i%3 == 0 {
						tr.Delete(ctx, k)
						ref.Delete(k)
					}
				}
				checkSame(t, rng, tr, ref, qs)
			})
		}
	}
}

// TestReadsUnderConcurrentWriters: writers churn keys of their own
// (insert, delete) while readers at 1, GOMAXPROCS and 16 goroutines run
// prefix, seek and range reads. Stable keys, present throughout, must each
// be yielded exactly once by every read whose bounds hold them (equal to
// the locked trie's answer restricted to stable keys); every read is
// strictly ascending and every value is its key's only value.
func TestReadsUnderConcurrentWriters(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2))
	stable := readKeys(rng, 800/scale)
	qs := queryBounds(rng, stable)
	isStable := map[string]bool{}
	for _, k := range stable {
		isStable[string(k)] = true
	}
	for name, mk := range readRouters(stable) {
		for _, readers := range []int{1, runtime.GOMAXPROCS(0), 16} {
			t.Run(fmt.Sprintf("router=%s/readers=%d", name, readers), func(t *testing.T) {
				_, tr := startTrie(t, 0, shards.TrieConfig{Router: mk()})
				ref := newLockedShard[uint64]()
				ctx := context.Background()
				for _, k := range stable {
					if _, err := tr.Insert(ctx, k, valueOf(k)); err != nil {
						t.Fatal(err)
					}
					ref.Insert(k, valueOf(k))
				}
				var stop atomic.Bool
				var wg sync.WaitGroup
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(w), 9))
						for i := 0; !stop.Load(); i++ {
							// Churn keys: a stable key plus a suffix byte no
							// stable key ends with, so never a stable key.
							s := stable[r.IntN(len(stable))]
							k := append(bytes.Clone(s[:min(len(s), 64)]), 'z', byte(w))
							if i%2 == 0 {
								if _, err := tr.Insert(ctx, k, valueOf(k)); err != nil {
									t.Error(err)
									return
								}
							} else if _, _, err := tr.Delete(ctx, k); err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				var rd sync.WaitGroup
				rounds := max(1, 24/readers/scale)
				for g := range readers {
					rd.Add(1)
					go func() {
						defer rd.Done()
						for round := range rounds {
							for i, q := range qs {
								if (i+g+round)%3 != 0 {
									continue
								}
								to := qs[(i*7+3)%len(qs)]
								for _, pair := range [][2]func(func([]byte, uint64) bool){
									{tr.Prefix(q), ref.Prefix(q)}, {tr.Seek(q), ref.Seek(q)}, {tr.Range(q, to), ref.Range(q, to)},
								} {
									var got []string
									var prev []byte
									for k, v := range pair[0] {
										if prev != nil && bytes.Compare(prev, k) >= 0 {
											t.Errorf("q %q: out of order: %q then %q", q, prev, k)
											return
										}
										prev = append(prev[:0], k...)
										if v != valueOf(k) {
											t.Errorf("q %q: %q = %x, never written", q, k, v)
											return
										}
										if isStable[string(k)] {
											got = append(got, string(k))
										}
									}
									want, _ := take(pair[1], -1)
									if !slices.Equal(got, want) {
										t.Errorf("q %q: stable keys %d, want %d", q, len(got), len(want))
										return
									}
								}
							}
						}
					}()
				}
				testutil.Within(t, "readers", rd.Wait)
				stop.Store(true)
				wg.Wait()
			})
		}
	}
}

// TestReadEarlyBreakReleasesShards: a loop that breaks out of a merged
// read, or panics in its body, lets go of every shard: Reclaim (which
// waits for each shard's readers) then returns.
func TestReadEarlyBreakReleasesShards(t *testing.T) {
	for name, mk := range routers() {
		t.Run(name, func(t *testing.T) {
			_, tr := startTrie(t, 4, shards.TrieConfig{Router: mk()})
			ctx := context.Background()
			for i := range 200 {
				k := fmt.Appendf(nil, "w%02d/k%05d", i%8, i)
				tr.Insert(ctx, k, valueOf(k))
			}
			for range tr.All() {
				break
			}
			for range tr.Prefix([]byte("w03/")) {
				break
			}
			func() {
				defer func() { _ = recover() }()
				for range tr.Seek([]byte("w05")) {
					panic("body")
				}
			}()
			n := 0
			for range tr.Seek([]byte("\xff")) { // past the end
				n++
			}
			if n != 0 {
				t.Fatalf("Seek past the end yielded %d keys", n)
			}
			cctx, cancel := context.WithTimeout(ctx, testutil.HangLimit)
			defer cancel()
			testutil.Within(t, "Reclaim after early breaks", func() {
				if err := tr.Reclaim(cctx); err != nil {
					t.Errorf("Reclaim: %v", err)
				}
			})
		})
	}
}

// TestReadsBeforeStartAndAfterStop: reads find nothing before Start and
// keep working on the final contents after Stop.
func TestReadsBeforeStartAndAfterStop(t *testing.T) {
	tr := mustTrie[uint64]()
	for range tr.Prefix(nil) {
		t.Fatal("a key before Start")
	}
	rt, err := startRT(3, tr)
	if err != nil {
		t.Fatal(err)
	}
	tr.Insert(context.Background(), []byte("a"), 1)
	tr.Insert(context.Background(), []byte("b"), 2)
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := take(tr.Range([]byte("a"), []byte("b")), -1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Range after Stop: %q", got)
	}
}

// FuzzShardedReads: the input builds a key set (each key up to 255 bytes,
// any byte), then queries it; the merged reads of a 3-shard trie under
// hash and range routing must equal the locked trie's.
func FuzzShardedReads(f *testing.F) {
	f.Add([]byte("\x03abc\x02ab\x00\x01\xff\x02\x00\xff"), []byte("ab"), []byte("b"), uint8(3))
	f.Add([]byte("\x01a\x01b\x01c\x02ba"), []byte(""), []byte("\xff"), uint8(0))
	f.Fuzz(func(t *testing.T, prog, q, to []byte, limit uint8) {
		var keys [][]byte
		for i := 0; i < len(prog); {
			n := int(prog[i])
			i++
			keys = append(keys, prog[i:min(i+n, len(prog))])
			i += n
		}
		ref := newLockedShard[uint64]()
		for _, k := range keys {
			ref.Insert(k, valueOf(k))
		}
		sample := keys
		if len(sample) == 0 {
			sample = [][]byte{q}
		}
		for _, r := range []shards.Router{&shards.HashRouter{}, shards.NewSampleRouter(sample)} {
			tr := mustTrie[uint64](shards.TrieConfig{Router: r})
			rt, err := startRT(3, tr)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				tr.Insert(context.Background(), k, valueOf(k))
			}
			for _, lim := range []int{-1, int(limit % 8)} {
				for _, pair := range [][2]func(func([]byte, uint64) bool){
					{tr.Prefix(q), ref.Prefix(q)}, {tr.Seek(q), ref.Seek(q)}, {tr.Range(q, to), ref.Range(q, to)}, {tr.All(), ref.All()},
				} {
					gk, gv := take(pair[0], lim)
					wk, wv := take(pair[1], lim)
					if !slices.Equal(gk, wk) || !slices.Equal(gv, wv) {
						t.Fatalf("q %q to %q limit %d: got %q, want %q", q, to, lim, gk, wk)
					}
				}
			}
			_ = rt.Stop(context.Background())
		}
	})
}

// TestShardedIterAllocs: a steady-state prefix query (and seek, range,
// full scan) on the sharded trie allocates nothing, under hash and range
// routing; the range loop's closures are counted. Skipped under -race,
// where sync.Pool drops items on purpose.
func TestShardedIterAllocs(t *testing.T) {
	if scale > 1 {
		t.Skip("sync.Pool drops items under -race")
	}
	for name, mk := range routers() {
		t.Run(name, func(t *testing.T) {
			_, tr := startTrie(t, 0, shards.TrieConfig{Router: mk()})
			for i := range 2000 {
				k := fmt.Appendf(nil, "w%02d/k%05d", i%8, i)
				tr.Insert(context.Background(), k, valueOf(k))
			}
			p, lo, hi := []byte("w03/"), []byte("w02/k00100"), []byte("w02/k00300")
			var sum uint64
			prefix := func() {
				n := 0
				for _, v := range tr.Prefix(p) {
					sum += v
					if n++; n == 10 {
						break
					}
				}
			}
			other := func() {
				for _, v := range tr.Range(lo, hi) {
					sum += v
				}
				for k := range tr.Seek(hi) {
					sum += uint64(len(k))
					break
				}
				for _, v := range tr.All() {
					sum += v
				}
			}
			prefix()
			other()
			if a := testing.AllocsPerRun(200, prefix); a > 0 {
				t.Errorf("prefix query: %v allocs, want 0", a)
			}
			if a := testing.AllocsPerRun(20, other); a > 0 {
				t.Errorf("range, seek, scan: %v allocs, want 0", a)
			}
			if sum == 0 {
				t.Fatal("read nothing")
			}
		})
	}
}
