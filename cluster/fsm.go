package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// fsm is one range's state machine: a trie.Concurrent[string] in the
// OneWriteMultiRead form.
//
// Who may call what: Raft's FSM goroutine alone calls Apply, ApplyBatch,
// Snapshot and Restore (never two at once); Persist and Release run on
// Raft's snapshot goroutine concurrently with Apply; any goroutine reads
// (state, appliedIndex, waitApplied) without locks.
//
// Invariants: the trie is written only inside ApplyBatch (one WithWriter,
// so a log batch is one publication) and replaced whole only by Restore
// (one atomic store of the pointer). applied is stored after the
// publication of the batch it names, so a reader that loads applied and
// then the trie sees at least that index's state.
//
// Missed wakeups: a waiter takes the current wake channel under mu and then
// re-reads applied; setApplied stores applied before it takes mu to close
// the channel. Either the waiter's re-read sees the new index, or its
// channel is the one closed.
type fsm struct {
	t       atomic.Pointer[trie.Concurrent[string]] // release (ApplyBatch never swaps; Restore does): the state readers use
	applied atomic.Uint64                           // release: index of the last entry applied, after its publication
	mu      sync.Mutex
	wake    chan struct{} // closed when applied advances; nil when nobody waits (guarded by mu)
	ops     []decodedOp   // FSM goroutine's scratch

	restores atomic.Int64 // relaxed: Restore calls (tests)
}

func newFSM() (*fsm, error) {
	t, err := newTrie()
	if err != nil {
		return nil, err
	}
	f := &fsm{}
	f.t.Store(t)
	return f, nil
}

func newTrie() (*trie.Concurrent[string], error) {
	return trie.NewConcurrent[string](primitives.OneWriteMultiRead, trie.Config{})
}

// result is what one command did, handed back to the proposer through
// raft's ApplyFuture.Response (on the leader only).
type result struct {
	n   int // put: 1 when the key was new; delete: 1 when it was present; batch: ops applied
	err error
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch implements raft.BatchingFSM: the commands of the batch are
// applied inside one WithWriter, so readers see all of them or none.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if len(logs) == 0 {
		return out
	}
	t := f.t.Load()
	// Background: this goroutine is the trie's only writer, so the role is
	// never waited for.
	_ = t.WithWriter(context.Background(), func(w *trie.Writer[string]) error {
		for i, l := range logs {
			if l.Type != raft.LogCommand {
				continue
			}
			out[i] = f.applyCommand(w, l.Data)
		}
		return nil
	})
	f.setApplied(logs[len(logs)-1].Index)
	return out
}

// applyCommand decodes the whole command before writing anything.
func (f *fsm) applyCommand(w *trie.Writer[string], data []byte) result {
	kind, ops, err := decodeCommand(data, f.ops[:0])
	f.ops = ops[:0]
	if err != nil {
		return result{err: err}
	}
	var r result
	for _, op := range ops {
		if op.kind == kindDelete {
			_, found, err := w.Delete(op.key)
			if err != nil {
				return result{n: r.n, err: fmt.Errorf("%w: delete: %v", ErrRemote, err)}
			}
			if found || kind == kindBatch {
				r.n++
			}
			continue
		}
		added, err := w.Insert(op.key, string(op.value))
		if err != nil {
			return result{n: r.n, err: fmt.Errorf("%w: insert: %v", ErrRemote, err)}
		}
		if added || kind == kindBatch {
			r.n++
		}
	}
	return r
}

func (f *fsm) setApplied(i uint64) {
	f.applied.Store(i) // release: after the batch's publication
	f.mu.Lock()
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
	f.mu.Unlock()
}

// waitApplied returns once the FSM has applied index i, or ctx's error, or
// ErrClosed when stop closes.
func (f *fsm) waitApplied(ctx context.Context, i uint64, stop <-chan struct{}) error {
	for f.applied.Load() < i { // acquire
		f.mu.Lock()
		if f.wake == nil {
			f.wake = make(chan struct{})
		}
		ch := f.wake
		f.mu.Unlock()
		if f.applied.Load() >= i {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrClosed
		}
	}
	return nil
}

// Snapshot implements raft.FSM: it returns at once with a point-in-time
// view (fsmstate.go); Persist streams it while writes go on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	idx := f.applied.Load()
	st, err := takePointInTime(f.t.Load())
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{index: idx, st: st}, nil
}

// Restore implements raft.FSM: it loads a whole state off to the side and
// swaps it in with one atomic store; readers see the old state or the new.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	idx, err := readSnapshotHeader(rc)
	if err != nil {
		return err
	}
	t, err := loadState(rc)
	if err != nil {
		return err
	}
	f.t.Store(t) // release: the new state, whole
	f.setApplied(idx)
	f.restores.Add(1)
	return nil
}

// The snapshot stream: magic, version, uvarint(applied index), then the
// state: a trie.Save stream (fsmstate.go).
var snapMagic = [4]byte{'Z', 'C', 'S', 2} // 2: the state is a trie.Save stream

type fsmSnapshot struct {
	index uint64
	st    pointInTime
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	hdr := binary.AppendUvarint(snapMagic[:], s.index)
	if _, err := sink.Write(hdr); err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := s.st.persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() { s.st.release() }

func readSnapshotHeader(r io.Reader) (uint64, error) {
	var m [4]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return 0, fmt.Errorf("%w: snapshot header: %v", ErrProtocol, err)
	}
	if m != snapMagic {
		return 0, fmt.Errorf("%w: not a snapshot of this version (%x)", ErrProtocol, m)
	}
	idx, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		return 0, fmt.Errorf("%w: snapshot index: %v", ErrProtocol, err)
	}
	return idx, nil
}

// byteReader reads one byte at a time without buffering ahead, so the
// stream after the header is left for the state's reader.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.r, c[:])
	return c[0], err
}
