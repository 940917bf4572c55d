package trie

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzTrie decodes the input into operations (insert, delete, get, seek,
// prefix, range) on keys over a small alphabet that includes 0x00, runs them
// on a trie and on the map model, and checks every result, the invariants
// and a full ordered walk at the end (plus the frozen copy).
func FuzzTrie(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c', 0, 2, 'a', 'b', 1, 3, 'a', 'b', 'c', 2, 2, 'a', 'b'})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 1, 'x', 1, 0, 3, 1, 0})
	f.Add(bytes.Repeat([]byte{0, 4, 'a', 'a', 'a', 'b', 0, 5, 'a', 'a', 'b', 'b', 'c'}, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := mustNew[int]()
		m := model{}
		next := func() []byte {
			if len(data) == 0 {
				return nil
			}
			n := int(data[0]) % 9
			data = data[1:]
			n = min(n, len(data))
			k := make([]byte, n)
			for i := range k {
				k[i] = []byte{0, 'a', 'b', 'c', 0xff}[data[i]%5]
			}
			data = data[n:]
			return k
		}
		for step := 0; len(data) > 0; step++ {
			op := data[0] % 6
			data = data[1:]
			k := next()
			switch op {
			case 0, 1:
				added, err := tr.Insert(k, step)
				if err != nil {
					t.Fatal(err)
				}
				if _, had := m[string(k)]; added == had {
					t.Fatalf("insert %q: added=%v had=%v", k, added, had)
				}
				m[string(k)] = step
			case 2:
				v, ok := tr.Delete(k)
				mv, had := m[string(k)]
				if ok != had || ok && v != mv {
					t.Fatalf("delete %q = %d,%v want %d,%v", k, v, ok, mv, had)
				}
				delete(m, string(k))
			case 3:
				v, ok := tr.Get(k)
				mv, had := m[string(k)]
				if ok != had || ok && v != mv {
					t.Fatalf("get %q = %d,%v want %d,%v", k, v, ok, mv, had)
				}
			case 4:
				want := m.expect(func(s string) bool { return s >= string(k) }, false)
				if got := collect(tr.Seek(k)); !slices.Equal(got, want) {
					t.Fatalf("Seek(%q) = %v want %v", k, got, want)
				}
			case 5:
				hi := next()
				// A nil upper bound means none.
				want := m.expect(func(s string) bool { return s >= string(k) && (hi == nil || s < string(hi)) }, false)
				if got := collect(tr.Range(k, hi)); !slices.Equal(got, want) {
					t.Fatalf("Range(%q,%q) = %v want %v", k, hi, got, want)
				}
				wantP := m.expect(func(s string) bool { return bytes.HasPrefix([]byte(s), k) }, false)
				if got := collect(tr.Prefix(k)); !slices.Equal(got, wantP) {
					t.Fatalf("Prefix(%q) = %v want %v", k, got, wantP)
				}
			}
			if tr.Len() != len(m) {
				t.Fatalf("Len %d want %d", tr.Len(), len(m))
			}
		}
		if err := tr.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		want := m.expect(func(string) bool { return true }, false)
		if got := collect(tr.All()); !slices.Equal(got, want) {
			t.Fatalf("All = %v want %v", got, want)
		}
		fr := tr.Freeze()
		if err := fr.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		if got := collect(fr.All()); !slices.Equal(got, want) {
			t.Fatalf("frozen All = %v want %v", got, want)
		}
	})
}
