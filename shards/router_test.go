package shards_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/zipora-go/zipora/shards"
)

func TestHashMatchesFNV1aWithFinalizer(t *testing.T) {
	for _, k := range []string{"", "a", "key_000001", "\x00\x00", "some/long/path/name.go"} {
		f := fnv.New64a()
		f.Write([]byte(k))
		h := f.Sum64()
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		h *= 0xc4ceb9fe1a85ec53
		h ^= h >> 33
		if got := shards.Hash([]byte(k)); got != h {
			t.Fatalf("Hash(%q) = %x, want %x", k, got, h)
		}
	}
}

func TestHashRouterSpreadsEvenly(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8, 16} {
		var r shards.HashRouter
		if err := r.Init(n); err != nil {
			t.Fatal(err)
		}
		counts := make([]int, n)
		const keys = 100_000
		for i := range keys {
			s := r.Route(fmt.Appendf(nil, "key_%06d", i))
			if s < 0 || s >= n {
				t.Fatalf("route %d out of [0,%d)", s, n)
			}
			counts[s]++
		}
		for s, c := range counts {
			if want := keys / n; c < want*9/10 || c > want*11/10 {
				t.Fatalf("%d shards: shard %d got %d keys, want about %d", n, s, c, want)
			}
		}
	}
	var r shards.HashRouter
	if err := r.Init(0); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("Init(0): %v", err)
	}
}

func TestRangeRouterExplicit(t *testing.T) {
	r := shards.NewRangeRouter([]byte("g"), []byte("p"))
	if err := r.Init(2); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("2 boundaries for 2 shards: %v", err)
	}
	if err := r.Init(3); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int{"": 0, "a": 0, "g": 1, "golf": 1, "p": 2, "zzz": 2, "\xff": 2} {
		if got := r.Route([]byte(k)); got != want {
			t.Fatalf("Route(%q) = %d, want %d", k, got, want)
		}
	}
	bad := shards.NewRangeRouter([]byte("p"), []byte("g"))
	if err := bad.Init(3); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("descending boundaries: %v", err)
	}
	if err := shards.NewSampleRouter(nil).Init(4); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("empty sample: %v", err)
	}
}

func TestSampleRouterBalancesAndOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var sample [][]byte
	for range 1000 {
		sample = append(sample, fmt.Appendf(nil, "dir%02d/file%05d", rng.IntN(20), rng.IntN(100000)))
	}
	r := shards.NewSampleRouter(sample)
	if err := r.Init(4); err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 4)
	for range 20000 {
		counts[r.Route(fmt.Appendf(nil, "dir%02d/file%05d", rng.IntN(20), rng.IntN(100000)))]++
	}
	for s, c := range counts {
		if c < 20000/4*7/10 {
			t.Fatalf("shard %d got %d of 20000 keys: %v", s, c, counts)
		}
	}
}

// checkOrdered verifies the ordered-router contract and ShardsFor on keys.
func checkOrdered(t testing.TB, r *shards.RangeRouter, keys [][]byte, prefix []byte) {
	for _, a := range keys {
		for _, b := range keys {
			if bytes.Compare(a, b) < 0 && r.Route(a) > r.Route(b) {
				t.Fatalf("%q < %q but routed to %d > %d", a, b, r.Route(a), r.Route(b))
			}
		}
		if bytes.HasPrefix(a, prefix) {
			first, last := r.ShardsFor(prefix)
			if s := r.Route(a); s < first || s > last {
				t.Fatalf("%q has prefix %q, routed to %d outside [%d,%d]", a, prefix, s, first, last)
			}
		}
	}
}

func FuzzRangeRouter(f *testing.F) {
	f.Add([]byte("g"), []byte("p"), []byte("go"), []byte("golf"), []byte("pa"))
	f.Add([]byte{0}, []byte{0xff}, []byte{}, []byte{0xff, 0xff}, []byte{0})
	f.Fuzz(func(t *testing.T, b1, b2, prefix, k1, k2 []byte) {
		if bytes.Compare(b1, b2) > 0 {
			b1, b2 = b2, b1
		}
		r := shards.NewRangeRouter(b1, b2)
		if err := r.Init(3); err != nil {
			if !bytes.Equal(b1, b2) {
				t.Fatalf("Init: %v", err)
			}
			return
		}
		keys := [][]byte{b1, b2, prefix, k1, k2, append(bytes.Clone(prefix), k1...), append(bytes.Clone(prefix), 0xff)}
		checkOrdered(t, r, keys, prefix)
	})
}
