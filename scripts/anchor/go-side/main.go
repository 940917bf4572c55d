// Command go-side measures this project on the workloads of the zipora
// anchor bench (../shared/anchor/zipora-bench), printing `name value unit`
// lines with the same names, so the two outputs can be joined and divided.
// It is the kit's go-side/main.go kept compiling as this module's API
// changes (the kit's copy is read-only): scripts/anchor/interleaved.sh runs
// the kit with it; `go vet ./...` builds it.
// 1,000,000 keys key_%06d, sequential and shuffled, 7 reps, median.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/zipora-go/zipora/primitives"
	zrt "github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
	"github.com/zipora-go/zipora/structures/trie"
)

var reps = flag.Int("reps", 7, "repetitions")
var nkeys = flag.Int("keys", 1000000, "keys")
var sections = flag.String("sections", "st,ct,sh,pool", "sections")
var orders = flag.String("orders", "seq,shuf", "key orders")
var cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")

func med(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
func out(name string, v []float64) { fmt.Printf("%s_median %.3f Mkeys/s\n", name, med(v)) }

func keys(order string) [][]byte {
	k := make([][]byte, *nkeys)
	for i := range k {
		k[i] = []byte(fmt.Sprintf("key_%06d", i))
	}
	if order == "shuf" {
		r := rand.New(rand.NewSource(42))
		r.Shuffle(len(k), func(i, j int) { k[i], k[j] = k[j], k[i] })
	}
	return packed(k)
}

// packed copies the keys, in their order, into one buffer, as the Rust
// side's Keys (and Keys::permuted for shuffled keys) holds them: otherwise
// each shuffled key is a heap object of its own, read out of allocation
// order, and our side pays a cache miss per key that the Rust side does
// not (docs/bench/rust-anchor.md).
func packed(k [][]byte) [][]byte {
	n := 0
	for _, key := range k {
		n += len(key)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(k))
	for i, key := range k {
		buf = append(buf, key...)
		out[i] = buf[len(buf)-len(key):]
	}
	return out
}

func heap() uint64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapInuse
}

// must panics on a constructor's error (a benchmark's configuration is fixed).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// par runs f(t, lo, hi) on t goroutines over chunks of n; returns wall time.
func par(threads, n int, f func(lo, hi int)) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for t := 0; t < threads; t++ {
		lo, hi := n*t/threads, n*(t+1)/threads
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
	return time.Since(t0)
}

func st(order string, k [][]byte) {
	var ins, look []float64
	var bpk float64
	for r := 0; r < *reps; r++ {
		h0 := heap()
		t := must(trie.New[uint32](trie.Config{}))
		t0 := time.Now()
		for i, key := range k {
			t.Insert(key, uint32(i))
		}
		ins = append(ins, rate(len(k), time.Since(t0)))
		bpk = float64(heap()-h0) / float64(len(k))
		t0 = time.Now()
		found := 0
		for _, key := range k {
			if _, ok := t.Get(key); ok {
				found++
			}
		}
		look = append(look, rate(len(k), time.Since(t0)))
		if found != len(k) {
			fmt.Println("correctness_failures", len(k)-found, "keys")
		}
		goruntime.KeepAlive(t)
	}
	p := "st_" + order
	out(p+"_insert", ins)
	out(p+"_lookup", look)
	fmt.Printf("%s_bytes_per_key %.2f B/key\n", p, bpk)
}

func ct(order string, k [][]byte, level primitives.Level, name string) {
	for _, th := range []int{1, 2} {
		var ins, look []float64
		var bpk float64
		for r := 0; r < *reps; r++ {
			h0 := heap()
			c, err := trie.NewConcurrent[uint32](level, trie.Config{})
			if err != nil {
				panic(err)
			}
			if level == primitives.OneWriteMultiRead && th > 1 {
				return
			}
			d := par(th, len(k), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					c.Insert(k[i], uint32(i))
				}
			})
			ins = append(ins, rate(len(k), d))
			bpk = float64(heap()-h0) / float64(len(k))
			d = par(th, len(k), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if _, ok := c.Get(k[i]); !ok {
						panic("missing key")
					}
				}
			})
			look = append(look, rate(len(k), d))
		}
		p := fmt.Sprintf("ct_%s_%s_t%d", name, order, th)
		out(p+"_insert", ins)
		out(p+"_lookup", look)
		fmt.Printf("%s_bytes_per_key %.2f B/key\n", p, bpk)
	}
}

// sh: the sharded trie on a 2-worker runtime; batch inserts from 2
// producers (batches of 1024), Gets from 2 goroutines, and single Inserts
// from 2 goroutines (10% of the keys), vs one trie behind a RWMutex.
func sh(order string, k [][]byte) {
	ctx := context.Background()
	var bins, look, single, lbins, lsingle []float64
	for r := 0; r < *reps; r++ {
		idx := must(shards.NewTrie[uint32](shards.TrieConfig{}))
		rt, err := zrt.Start(ctx, zrt.Config{Workers: 2}, idx)
		if err != nil {
			panic(err)
		}
		d := par(2, len(k), func(lo, hi int) {
			b := idx.Batch()
			for i := lo; i < hi; i++ {
				b.Insert(k[i], uint32(i))
				if b.Len() == 1024 || i == hi-1 {
					if err := b.Commit(ctx); err != nil {
						panic(err)
					}
				}
			}
		})
		bins = append(bins, rate(len(k), d))
		d = par(2, len(k), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if _, ok := idx.Get(k[i]); !ok {
					panic("missing")
				}
			}
		})
		look = append(look, rate(len(k), d))
		m := len(k) / 50
		d = par(2, m, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if _, _, err := idx.Delete(ctx, k[i]); err != nil {
					panic(err)
				}
			}
		})
		single = append(single, rate(m, d))
		rt.Stop(ctx)
		// peer: one trie behind a RWMutex, same producers.
		var mu sync.RWMutex
		t := must(trie.New[uint32](trie.Config{}))
		d = par(2, len(k), func(lo, hi int) {
			for i := lo; i < hi; i += 1024 {
				e := min(i+1024, hi)
				mu.Lock()
				for j := i; j < e; j++ {
					t.Insert(k[j], uint32(j))
				}
				mu.Unlock()
			}
		})
		lbins = append(lbins, rate(len(k), d))
		d = par(2, m, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				mu.Lock()
				t.Delete(k[i])
				mu.Unlock()
			}
		})
		lsingle = append(lsingle, rate(m, d))
	}
	p := "sh_" + order
	out(p+"_batch_insert_t2", bins)
	out(p+"_lookup_t2", look)
	out(p+"_single_delete_t2", single)
	out(p+"_rwmutex_batch_insert_t2", lbins)
	out(p+"_rwmutex_single_delete_t2", lsingle)
	fmt.Printf("%s_batch_vs_rwmutex %.3f x\n", p, med(bins)/med(lbins))
	fmt.Printf("%s_single_vs_rwmutex %.4f x\n", p, med(single)/med(lsingle))
}

func poolPairs(p pool.Pool, pairs int) {
	for i := 0; i < pairs; i++ {
		o, err := p.Alloc(512)
		if err != nil {
			panic(err)
		}
		p.Free(o, 512)
	}
}

// noLockingPairs is poolPairs on the concrete *pool.NoLocking, through its
// inlinable fast paths (TryAlloc/TryFree, with Alloc/Free behind them): the
// Rust side's generic Pool trait is monomorphized and inlined the same way.
func noLockingPairs(p *pool.NoLocking, pairs int) {
	for i := 0; i < pairs; i++ {
		o := p.TryAlloc(512)
		if o == pool.Nil {
			var err error
			if o, err = p.Alloc(512); err != nil {
				panic(err)
			}
		}
		if !p.TryFree(o, 512) {
			p.Free(o, 512)
		}
	}
}

func pools() {
	const pairs = 4000000
	cfg := pool.PerformanceOptimized()
	var v []float64
	for r := 0; r < *reps; r++ {
		p, err := pool.NewNoLocking(cfg)
		if err != nil {
			panic(err)
		}
		t0 := time.Now()
		noLockingPairs(p, pairs)
		v = append(v, rate(pairs, time.Since(t0)))
	}
	fmt.Printf("pool_nolocking_t1_pair_median %.3f Mpairs/s\n", med(v))
	for _, lv := range []string{"lockfree", "threadlocal"} {
		v = v[:0]
		for r := 0; r < *reps; r++ {
			var d time.Duration
			if lv == "lockfree" {
				p, _ := pool.NewLockFree(cfg)
				d = par(2, 2*pairs, func(lo, hi int) { poolPairs(p, hi-lo) })
			} else {
				tl, _ := pool.NewThreadLocal(cfg)
				d = par(2, 2*pairs, func(lo, hi int) { c := tl.NewCache(); poolPairs(c, hi-lo) })
			}
			v = append(v, rate(2*pairs, d))
		}
		fmt.Printf("pool_%s_t2_pair_median %.3f Mpairs/s\n", lv, med(v))
	}
}

func main() {
	flag.Parse()
	debug.SetGCPercent(100)
	fmt.Printf("# go-side %s host_cpus=%d GOMAXPROCS=%d %s\n", time.Now().UTC().Format(time.RFC3339), goruntime.NumCPU(), goruntime.GOMAXPROCS(0), goruntime.Version())
	want := map[string]bool{}
	for _, s := range splitComma(*sections) {
		want[s] = true
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			panic(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			panic(err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, order := range splitComma(*orders) {
		k := keys(order)
		if want["st"] {
			st(order, k)
		}
		if want["ct"] {
			ct(order, k, primitives.MultiWriteMultiRead, "mw")
			ct(order, k, primitives.OneWriteMultiRead, "ow")
		}
		if want["sh"] {
			sh(order, k)
		}
	}
	if want["pool"] {
		pools()
	}
	os.Stdout.Sync()
}

func splitComma(s string) []string {
	var r []string
	cur := ""
	for _, c := range s {
		if c == ',' {
			r = append(r, cur)
			cur = ""
		} else {
			cur += string(c)
		}
	}
	return append(r, cur)
}
