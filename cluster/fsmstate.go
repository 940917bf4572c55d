package cluster

import (
	"fmt"
	"io"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// The seam between the FSM and the trie's point-in-time and stream APIs
// (issue 20): FSM.Snapshot takes a trie.Snapshot (no copy: it registers
// the published root; the apply goroutine's later writes copy what the
// snapshot can reach), Persist streams it with Snapshot.Save while applies go
// on, Release closes it (the writer then gives back what only the
// snapshot reached), and Restore builds a whole trie bottom-up with
// trie.LoadConcurrent off to the side (nothing of a truncated or corrupt
// stream is ever visible).

// pointInTime is the state of one range at one log index.
type pointInTime interface {
	persist(w io.Writer) error
	release()
}

type snapState struct{ s *trie.Snapshot[string] }

func takePointInTime(c *trie.Concurrent[string]) (pointInTime, error) {
	s, err := c.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapState{s}, nil
}

func (s snapState) persist(w io.Writer) error {
	_, err := s.s.Save(w, trie.StringCodec())
	return err
}

func (s snapState) release() { s.s.Close() }

// loadState reads a trie.Save stream into a fresh trie of the FSM's form
// (newTrie); nothing is returned on any error.
func loadState(r io.Reader) (*trie.Concurrent[string], error) {
	t, err := trie.LoadConcurrent(r, primitives.OneWriteMultiRead, trie.StringCodec(), trie.Config{})
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot data: %v", ErrProtocol, err)
	}
	return t, nil
}
