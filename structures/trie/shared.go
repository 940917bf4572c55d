package trie

import (
	"fmt"
	"iter"

	"github.com/zipora-go/zipora/primitives"
)

// Shared is the SingleThreadShared form: the single-owner trie whose every
// operation checks a token from its primitives.TokenManager. Any number of
// reader tokens, or one writer token, may be out at a time, never both (the
// discipline of Rust's RefCell): a conflicting request returns an error
// wrapping primitives.ErrBusy instead of waiting. Reads need a live reader
// or writer token of this trie; writes need a live writer token. Misuse (no
// token, another trie's token, a released one, a reader token for a write)
// returns an error: it is reported, never silently allowed.
//
// Shared adds no synchronization of its own beyond the token counts: it is
// for one goroutine (or goroutines handing the trie over with the usual
// happens-before) that wants borrow checking, not for concurrent use; use
// Concurrent for that. The zero Shared is not usable; build one with
// NewShared. A Shared must not be copied.
type Shared[V any] struct {
	t *Trie[V]
	m *primitives.TokenManager
}

// NewShared returns an empty token-checked trie configured by cfg (as for
// New, whose errors it returns).
func NewShared[V any](cfg Config) (*Shared[V], error) {
	t, err := New[V](cfg)
	if err != nil {
		return nil, err
	}
	m, err := primitives.NewTokenManager(primitives.SingleThreadShared)
	if err != nil {
		panic("trie: " + err.Error()) // the level is valid
	}
	return &Shared[V]{t: t, m: m}, nil
}

// Reader issues a reader token (ErrBusy while a writer token is out). The
// caller must Release it.
func (s *Shared[V]) Reader() (*primitives.ReaderToken, error) { return s.m.Reader() }

// Writer issues a writer token (ErrBusy while any token is out). The caller
// must Release it.
func (s *Shared[V]) Writer() (*primitives.WriterToken, error) { return s.m.TryWriter() }

// Manager returns the trie's token manager.
func (s *Shared[V]) Manager() *primitives.TokenManager { return s.m }

// readOK checks that t is a live reader or writer token of s.
func (s *Shared[V]) readOK(t any) error {
	switch t := t.(type) {
	case *primitives.ReaderToken:
		if err := s.m.CheckReader(t); err != nil {
			return fmt.Errorf("trie: read with a bad reader token: %w", err)
		}
		return nil
	case *primitives.WriterToken:
		return s.writeOK(t)
	default:
		return fmt.Errorf("trie: read needs a *primitives.ReaderToken or *primitives.WriterToken, got %T: %w", t, primitives.ErrWrongManager)
	}
}

func (s *Shared[V]) writeOK(t *primitives.WriterToken) error {
	if err := s.m.CheckWriter(t); err != nil {
		return fmt.Errorf("trie: write with a bad writer token: %w", err)
	}
	return nil
}

// Get is Trie.Get under token t (a reader or writer token of s).
func (s *Shared[V]) Get(t any, key []byte) (V, bool, error) {
	if err := s.readOK(t); err != nil {
		var zero V
		return zero, false, err
	}
	v, ok := s.t.Get(key)
	return v, ok, nil
}

// Contains is Trie.Contains under token t.
func (s *Shared[V]) Contains(t any, key []byte) (bool, error) {
	if err := s.readOK(t); err != nil {
		return false, err
	}
	return s.t.Contains(key), nil
}

// Len is Trie.Len under token t.
func (s *Shared[V]) Len(t any) (int, error) {
	if err := s.readOK(t); err != nil {
		return 0, err
	}
	return s.t.Len(), nil
}

// Insert is Trie.Insert under writer token t.
func (s *Shared[V]) Insert(t *primitives.WriterToken, key []byte, v V) (bool, error) {
	if err := s.writeOK(t); err != nil {
		return false, err
	}
	return s.t.Insert(key, v)
}

// Delete is Trie.Delete under writer token t.
func (s *Shared[V]) Delete(t *primitives.WriterToken, key []byte) (V, bool, error) {
	if err := s.writeOK(t); err != nil {
		var zero V
		return zero, false, err
	}
	v, ok := s.t.Delete(key)
	return v, ok, nil
}

// All is Trie.All under token t; the token must stay live while the loop
// runs (the iterator checks it before every key and stops if it is not).
func (s *Shared[V]) All(t any) (iter.Seq2[[]byte, V], error) { return s.guard(t, s.t.All()) }

// Prefix is Trie.Prefix under token t (see All).
func (s *Shared[V]) Prefix(t any, p []byte) (iter.Seq2[[]byte, V], error) {
	return s.guard(t, s.t.Prefix(p))
}

// Seek is Trie.Seek under token t (see All).
func (s *Shared[V]) Seek(t any, k []byte) (iter.Seq2[[]byte, V], error) {
	return s.guard(t, s.t.Seek(k))
}

func (s *Shared[V]) guard(t any, seq iter.Seq2[[]byte, V]) (iter.Seq2[[]byte, V], error) {
	if err := s.readOK(t); err != nil {
		return nil, err
	}
	return func(yield func([]byte, V) bool) {
		for k, v := range seq {
			if s.readOK(t) != nil || !yield(k, v) {
				return
			}
		}
	}, nil
}

// Stats is Trie.Stats (no token needed: counters only).
func (s *Shared[V]) Stats() Stats { return s.t.Stats() }
