package trie

import (
	"errors"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

func TestSharedTokens(t *testing.T) {
	s := mustShared[int]()
	w, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reader(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("Reader while a writer is out: %v, want ErrBusy", err)
	}
	if added, err := s.Insert(w, []byte("a"), 1); !added || err != nil {
		t.Fatalf("Insert = %v, %v", added, err)
	}
	if v, ok, err := s.Get(w, []byte("a")); v != 1 || !ok || err != nil {
		t.Fatalf("Get under the writer token = %d, %v, %v", v, ok, err)
	}
	w.Release()
	if _, err := s.Insert(w, []byte("b"), 2); !errors.Is(err, primitives.ErrTokenReleased) {
		t.Fatalf("Insert with a released token: %v", err)
	}
	r1, err := s.Reader()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Writer(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("Writer while readers are out: %v, want ErrBusy", err)
	}
	if ok, err := s.Contains(r2, []byte("a")); !ok || err != nil {
		t.Fatalf("Contains = %v, %v", ok, err)
	}
	other := mustShared[int]()
	ro, err := other.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Release()
	if _, _, err := s.Get(ro, []byte("a")); !errors.Is(err, primitives.ErrWrongManager) {
		t.Fatalf("Get with another trie's token: %v", err)
	}
	if _, _, err := s.Get(nil, []byte("a")); !errors.Is(err, primitives.ErrWrongManager) {
		t.Fatalf("Get with no token: %v", err)
	}
	if _, err := s.Len("not a token"); err == nil {
		t.Fatal("Len with a non-token accepted")
	}
	seq, err := s.All(r1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range seq {
		n++
		r1.Release() // the token ends mid-iteration: the loop stops
	}
	if n != 1 {
		t.Fatalf("iterated %d keys", n)
	}
	if _, err := s.All(r1); !errors.Is(err, primitives.ErrTokenReleased) {
		t.Fatalf("All with a released token: %v", err)
	}
	r2.Release()
	w2, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Delete(w2, []byte("a")); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if l, err := s.Len(w2); l != 0 || err != nil {
		t.Fatalf("Len = %d, %v", l, err)
	}
	for _, mk := range []func() (any, error){
		func() (any, error) { return s.Prefix(w2, nil) },
		func() (any, error) { return s.Seek(w2, nil) },
	} {
		if _, err := mk(); err != nil {
			t.Fatal(err)
		}
	}
	w2.Release()
	if s.Stats().Keys != 0 || s.Manager().Level() != primitives.SingleThreadShared {
		t.Fatal("stats or level")
	}
}
