package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/zipora-go/zipora/structures/trie"
)

// The seam between the FSM and the trie's point-in-time and stream APIs.
//
// lead: switch to trie.Snapshot/Save/LoadConcurrent at merge:
//
//	takePointInTime: s, err := c.Snapshot(); return snapState{s}, err  (returns at once, copies nothing)
//	persist:         _, err := trie.Save(w, s.All(), trie.StringCodec())
//	release:         s.Close()
//	loadState:       trie.LoadConcurrent(r, primitives.OneWriteMultiRead, trie.StringCodec())
//
// Until then (those APIs are being built on other branches) the temporary
// implementation below copies the pairs at Snapshot (raft calls Snapshot
// on the FSM goroutine, between applies, so the trie does not change while
// it is copied; the writer role is taken anyway) and streams them in a
// simple length-prefixed format with a CRC: O(keys) work at Snapshot
// instead of O(1), which is the one thing the switch changes.

// pointInTime is the state of one range at one log index.
type pointInTime interface {
	persist(w io.Writer) error
	release()
}

type pairsState struct{ keys, vals []string }

func takePointInTime(c *trie.Concurrent[string]) (pointInTime, error) {
	s := &pairsState{}
	err := c.WithWriter(context.Background(), func(*trie.Writer[string]) error {
		for k, v := range c.All() {
			s.keys = append(s.keys, string(k))
			s.vals = append(s.vals, v)
		}
		return nil
	})
	return s, err
}

// persist writes uvarint(n), then n × (uvarint(len k) k uvarint(len v) v),
// then the CRC-32C of all of it, little-endian.
func (s *pairsState) persist(w io.Writer) error {
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
	var tmp [binary.MaxVarintLen64]byte
	put := func(n int) { bw.Write(binary.AppendUvarint(tmp[:0], uint64(n))) }
	put(len(s.keys))
	for i, k := range s.keys {
		put(len(k))
		bw.WriteString(k)
		put(len(s.vals[i]))
		bw.WriteString(s.vals[i])
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

func (s *pairsState) release() { s.keys, s.vals = nil, nil }

var errSnapshotData = errors.New("snapshot data")

// loadState reads persist's format into a fresh trie (nothing is returned
// on any error).
func loadState(r io.Reader) (*trie.Concurrent[string], error) {
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	br := bufio.NewReaderSize(r, 64<<10)
	tr := io.TeeReader(br, crc)
	rb := byteReader{tr}
	fail := func(what string, err error) error {
		return fmt.Errorf("%w: %v: %s: %v", ErrProtocol, errSnapshotData, what, err)
	}
	n, err := binary.ReadUvarint(rb)
	if err != nil {
		return nil, fail("count", err)
	}
	t, err := newTrie()
	if err != nil {
		return nil, err
	}
	field := func(max uint64) ([]byte, error) {
		l, err := binary.ReadUvarint(rb)
		if err != nil {
			return nil, err
		}
		if l > max {
			return nil, fmt.Errorf("field of %d bytes", l)
		}
		// read what arrives, never allocating a corrupt length up front
		b, err := io.ReadAll(io.LimitReader(tr, int64(l)))
		if err == nil && uint64(len(b)) != l {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	err = t.WithWriter(context.Background(), func(w *trie.Writer[string]) error {
		for i := uint64(0); i < n; i++ {
			k, err := field(MaxKeyLen)
			if err != nil {
				return fail("key", err)
			}
			v, err := field(MaxCommandBytes)
			if err != nil {
				return fail("value", err)
			}
			if _, err := w.Insert(k, string(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return nil, fail("checksum", err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != want {
		return nil, fail("checksum", errors.New("mismatch"))
	}
	return t, nil
}
