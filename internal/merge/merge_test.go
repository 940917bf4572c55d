package merge_test

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/internal/merge"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stream yields the given sorted keys through one reused buffer, as a trie
// iterator may.
func stream(keys []string) iter.Seq2[[]byte, int] {
	return func(yield func([]byte, int) bool) {
		var buf []byte
		for i, k := range keys {
			buf = append(buf[:0], k...)
			if !yield(buf, i) {
				return
			}
		}
	}
}

func TestMergeModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := rng.IntN(6)
		var streams []iter.Seq2[[]byte, int]
		var all []string
		for range n {
			set := map[string]bool{}
			for range rng.IntN(40) {
				k := make([]byte, rng.IntN(4))
				for i := range k {
					k[i] = byte(rng.IntN(3))
				}
				set[string(k)] = true
			}
			keys := make([]string, 0, len(set))
			for k := range set {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			all = append(all, keys...)
			streams = append(streams, stream(keys))
		}
		slices.Sort(all)
		var got []string
		limit := len(all)
		if round%3 == 0 && limit > 0 {
			limit = rng.IntN(limit) // stop early
		}
		for k := range merge.Seq2(streams) {
			if len(got) == limit {
				break
			}
			got = append(got, string(k))
		}
		if !slices.Equal(got, all[:limit]) {
			t.Fatalf("round %d: got %q, want %q", round, got, all[:limit])
		}
	}
}

func TestMergeOrderAcrossEqualKeys(t *testing.T) {
	var got []string
	for k, v := range merge.Seq2([]iter.Seq2[[]byte, int]{stream([]string{"a", "c"}), stream([]string{"a", "b"})}) {
		got = append(got, fmt.Sprintf("%s%d", k, v))
	}
	if want := []string{"a0", "a0", "b1", "c1"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
