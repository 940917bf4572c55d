package trie

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the reference: a Go map plus sorting.
type model map[string]int

func (m model) sorted() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type kv struct {
	k string
	v int
}

// collect drains an iterator, copying the reused key buffers.
func collect(seq iter.Seq2[[]byte, int]) []kv {
	var out []kv
	for k, v := range seq {
		out = append(out, kv{string(k), v})
	}
	return out
}

// expect filters the model's sorted keys.
func (m model) expect(keep func(k string) bool, noValues bool) []kv {
	return expectSorted(m, m.sorted(), keep, noValues)
}

func expectSorted(m model, sorted []string, keep func(k string) bool, noValues bool) []kv {
	var out []kv
	for _, k := range sorted {
		if keep(k) {
			v := m[k]
			if noValues {
				v = 0
			}
			out = append(out, kv{k, v})
		}
	}
	return out
}

// keyGen draws keys from a distribution.
type keyGen struct {
	name string
	gen  func(r *rand.Rand) []byte
}

var keyGens = []keyGen{
	{"small", func(r *rand.Rand) []byte { // tiny alphabet incl. 0x00, many prefixes of each other
		k := make([]byte, r.IntN(7))
		for i := range k {
			k[i] = []byte{0, 'a', 'b'}[r.IntN(3)]
		}
		return k
	}},
	{"large", func(r *rand.Rand) []byte { // full byte alphabet: wide (dense) nodes
		k := make([]byte, r.IntN(4))
		for i := range k {
			k[i] = byte(r.IntN(256))
		}
		return k
	}},
	{"longprefix", func(r *rand.Rand) []byte { // long shared prefixes, then divergence
		base := bytes.Repeat([]byte{'p', 0}, 40+r.IntN(3)*30)
		k := append(base[:r.IntN(len(base)+1)], make([]byte, r.IntN(5))...)
		for i := len(k) - 1; i >= 0 && i >= len(k)-4; i-- {
			k[i] = byte('w' + r.IntN(4))
		}
		return k
	}},
	{"digits", func(r *rand.Rand) []byte { return fmt.Appendf(nil, "key_%04d", r.IntN(3000)) }},
}

// runModel performs ops random operations on a trie and on the model and
// compares them, checking iteration, invariants and Freeze periodically.
func runModel(t testing.TB, r *rand.Rand, gen keyGen, ops int, noValues bool) {
	tr := mustNew[int](Config{NoValues: noValues})
	m := model{}
	check := func(step int) {
		if err := tr.CheckInvariants(); err != nil {
			t.Fatalf("%s step %d: %v", gen.name, step, err)
		}
		compareIters(t, r, gen, tr, m, noValues, fmt.Sprintf("%s step %d", gen.name, step))
	}
	for step := range ops {
		k := gen.gen(r)
		switch op := r.IntN(10); {
		case op < 5:
			v := r.Int()
			added, err := tr.Insert(k, v)
			if err != nil {
				t.Fatalf("insert %q: %v", k, err)
			}
			_, had := m[string(k)]
			if added == had {
				t.Fatalf("%s step %d: insert %q added=%v, model had=%v", gen.name, step, k, added, had)
			}
			m[string(k)] = v
		case op < 8:
			v, ok := tr.Delete(k)
			mv, had := m[string(k)]
			if ok != had || (!noValues && ok && v != mv) {
				t.Fatalf("%s step %d: delete %q = %v,%v want %v,%v", gen.name, step, k, v, ok, mv, had)
			}
			delete(m, string(k))
		default:
			v, ok := tr.Get(k)
			mv, had := m[string(k)]
			if noValues {
				mv = 0
			}
			if ok != had || (ok && v != mv) || tr.Contains(k) != had {
				t.Fatalf("%s step %d: get %q = %v,%v want %v,%v", gen.name, step, k, v, ok, mv, had)
			}
		}
		if tr.Len() != len(m) {
			t.Fatalf("%s step %d: Len %d, model %d", gen.name, step, tr.Len(), len(m))
		}
		if step%499 == 0 || debugEveryStep {
			check(step)
		}
	}
	check(ops)
	f := tr.Freeze()
	if err := f.CheckInvariants(); err != nil {
		t.Fatalf("%s frozen: %v", gen.name, err)
	}
	compareIters(t, r, gen, f, m, noValues, gen.name+" frozen")
	for k, v := range m {
		if noValues {
			v = 0
		}
		if got, ok := f.Get([]byte(k)); !ok || got != v {
			t.Fatalf("%s frozen get %q = %v,%v want %v", gen.name, k, got, ok, v)
		}
	}
	// Deleting every key empties the arena.
	for k := range m {
		if _, ok := tr.Delete([]byte(k)); !ok {
			t.Fatalf("%s: final delete %q missing", gen.name, k)
		}
	}
	if s := tr.Stats(); s.Keys != 0 || s.Nodes != 0 || s.ArenaBytes != 0 {
		t.Fatalf("%s: after deleting everything: %+v", gen.name, s)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// ordered is the read API shared by Trie and Frozen.
type ordered interface {
	All() iter.Seq2[[]byte, int]
	Prefix(p []byte) iter.Seq2[[]byte, int]
	Seek(k []byte) iter.Seq2[[]byte, int]
	Range(from, to []byte) iter.Seq2[[]byte, int]
}

// compareIters checks All, Prefix, Seek and Range (random bounds) against
// the model.
func compareIters(t testing.TB, r *rand.Rand, gen keyGen, o ordered, m model, noValues bool, where string) {
	sorted := m.sorted()
	want := expectSorted(m, sorted, func(string) bool { return true }, noValues)
	if got := collect(o.All()); !slices.Equal(got, want) {
		t.Fatalf("%s: All\n got %v\nwant %v", where, got, want)
	}
	for range 4 {
		p := gen.gen(r)
		if len(p) > 0 && r.IntN(2) == 0 {
			p = p[:r.IntN(len(p))]
		}
		lo, hi := gen.gen(r), gen.gen(r)
		if bytes.Compare(lo, hi) > 0 {
			lo, hi = hi, lo
		}
		sp := string(p)
		wantP := expectSorted(m, sorted, func(k string) bool { return len(k) >= len(sp) && k[:len(sp)] == sp }, noValues)
		if got := collect(o.Prefix(p)); !slices.Equal(got, wantP) {
			t.Fatalf("%s: Prefix(%q)\n got %v\nwant %v", where, p, got, wantP)
		}
		wantS := expectSorted(m, sorted, func(k string) bool { return k >= string(lo) }, noValues)
		if got := collect(o.Seek(lo)); !slices.Equal(got, wantS) {
			t.Fatalf("%s: Seek(%q)\n got %v\nwant %v", where, lo, got, wantS)
		}
		wantR := expectSorted(m, sorted, func(k string) bool { return k >= string(lo) && k < string(hi) }, noValues)
		if got := collect(o.Range(lo, hi)); !slices.Equal(got, wantR) {
			t.Fatalf("%s: Range(%q, %q)\n got %v\nwant %v", where, lo, hi, got, wantR)
		}
		if got := collect(o.Range(lo, nil)); !slices.Equal(got, wantS) {
			t.Fatalf("%s: Range(%q, nil)\n got %v\nwant %v", where, lo, got, wantS)
		}
	}
}

func modelOps() int {
	switch {
	case raceEnabled:
		return 1500
	case testing.Short():
		return 3000
	}
	return 10000
}

func TestModel(t *testing.T) {
	for _, gen := range keyGens {
		for _, noValues := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/novalues=%v", gen.name, noValues), func(t *testing.T) {
				for seed := range uint64(3) {
					r := rand.New(rand.NewPCG(seed, uint64(len(gen.name))))
					runModel(t, r, gen, modelOps(), noValues)
				}
			})
		}
	}
}

func (p kv) String() string { return fmt.Sprintf("%q:%d", p.k, p.v) }

// TestAllocFailures runs the model with node allocations failing at random:
// a failed Insert must leave the trie exactly as it was (the model is not
// updated), Delete always succeeds (a merge that cannot allocate leaves a
// valid non-canonical node), and reads and iteration stay exact.
func TestAllocFailures(t *testing.T) {
	nonCanonical := 0
	defer func() {
		if !t.Failed() && nonCanonical == 0 {
			t.Error("no failed merge left a non-canonical node: the delete fallback went untested")
		}
	}()
	for _, gen := range keyGens {
		t.Run(gen.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(gen.name))))
			tr := mustNew[int]()
			failing := false
			tr.SetFailAlloc(func() bool { return failing && r.IntN(4) == 0 })
			m := model{}
			failures := 0
			for step := range modelOps() / 2 {
				k := gen.gen(r)
				failing = r.IntN(2) == 0
				switch op := r.IntN(10); {
				case op < 6:
					_, had := m[string(k)]
					added, err := tr.Insert(k, step)
					if err != nil {
						if !errors.Is(err, errInjected) {
							t.Fatalf("insert %q: %v", k, err)
						}
						failures++
						break
					}
					if added == had {
						t.Fatalf("insert %q: added=%v had=%v", k, added, had)
					}
					m[string(k)] = step
				default:
					v, ok := tr.Delete(k)
					mv, had := m[string(k)]
					if ok != had || ok && v != mv {
						t.Fatalf("delete %q = %v,%v want %v,%v", k, v, ok, mv, had)
					}
					delete(m, string(k))
				}
				if tr.Len() != len(m) {
					t.Fatalf("step %d: Len %d want %d", step, tr.Len(), len(m))
				}
				if step%199 == 0 {
					if err := tr.CheckShape(); err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					if tr.CheckInvariants() != nil {
						nonCanonical++
					}
					want := m.expect(func(string) bool { return true }, false)
					if got := collect(tr.All()); !slices.Equal(got, want) {
						t.Fatalf("step %d: All\n got %v\nwant %v", step, got, want)
					}
				}
			}
			if failures == 0 {
				t.Fatal("no allocation failed")
			}
			failing = false
			for k, v := range m {
				if got, ok := tr.Get([]byte(k)); !ok || got != v {
					t.Fatalf("get %q = %v,%v want %v", k, got, ok, v)
				}
			}
			for k := range m {
				tr.Delete([]byte(k))
			}
			if s := tr.Stats(); s.Keys != 0 || s.Nodes != 0 || s.ArenaBytes != 0 {
				t.Fatalf("after deleting everything: %+v", s)
			}
		})
	}
}
