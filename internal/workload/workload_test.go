package workload_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/internal/workload"
)

func TestWorkloads(t *testing.T) {
	seq := workload.KeysSeq(1000)
	if string(seq[0]) != "key_000000" || string(seq[999]) != "key_000999" || !slices.IsSortedFunc(seq, bytes.Compare) {
		t.Fatalf("keys-seq: %q .. %q", seq[0], seq[999])
	}
	shuf := workload.KeysShuf(1000, 1)
	if slices.EqualFunc(shuf, seq, bytes.Equal) {
		t.Fatal("keys-shuf is not shuffled")
	}
	sorted := slices.Clone(shuf)
	slices.SortFunc(sorted, bytes.Compare)
	if !slices.EqualFunc(sorted, seq, bytes.Equal) {
		t.Fatal("keys-shuf is not a permutation of keys-seq")
	}
	if !slices.EqualFunc(shuf, workload.KeysShuf(1000, 1), bytes.Equal) {
		t.Fatal("keys-shuf is not deterministic")
	}
	paths := workload.Paths(5000, 1)
	set := map[string]bool{}
	for _, p := range paths {
		if set[string(p)] {
			t.Fatalf("duplicate path %q", p)
		}
		set[string(p)] = true
		if bytes.Count(p, []byte("/")) < 3 {
			t.Fatalf("shallow path %q", p)
		}
	}
	if !slices.EqualFunc(paths, workload.Paths(5000, 1), bytes.Equal) {
		t.Fatal("paths are not deterministic")
	}
	for _, n := range workload.Names {
		if len(workload.Named(n, 10)) != 10 {
			t.Fatal(n)
		}
	}
}
