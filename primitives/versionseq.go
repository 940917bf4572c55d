package primitives

import (
	"runtime"
	"sync/atomic"
)

// VersionSeq is a seqlock-style sequence for optimistic readers of data that
// a writer updates in place.
//
// The sequence is even while no writer is inside and odd while one is.
// A reader takes s := ReadBegin(), reads the data, then calls ReadRetry(s):
// if it returns true a writer was (or is) inside and the values read may be
// torn — discard them and start again. A writer brackets its update with
// WriteBegin and WriteEnd; writers must exclude each other (one owner, or
// TryWriteBegin, or an outside lock).
//
// The protected data must itself be read and written with atomic operations
// (sync/atomic typed values): in the Go memory model a plain read racing with
// a write is a data race even when the result is thrown away, and the race
// detector reports it. With atomics, the writer's stores between WriteBegin
// and WriteEnd and the reader's loads between ReadBegin and ReadRetry are all
// sequentially consistent, so a reader whose ReadRetry returns false observed
// exactly the values of one completed write (or of none).
//
// The zero value is ready to use (sequence 0). A VersionSeq must not be
// copied after first use.
type VersionSeq struct {
	seq atomic.Uint64 // seq-cst: odd while a writer is inside
}

// ReadBegin waits until no writer is inside and returns the even sequence.
func (s *VersionSeq) ReadBegin() uint64 {
	if v := s.seq.Load(); v&1 == 0 {
		return v
	}
	return s.readBeginSlow()
}

func (s *VersionSeq) readBeginSlow() uint64 {
	for i := 0; ; i++ {
		if v := s.seq.Load(); v&1 == 0 {
			return v
		}
		if i&31 == 31 {
			runtime.Gosched()
		}
	}
}

// ReadRetry reports whether a read that began at seq must be retried.
func (s *VersionSeq) ReadRetry(seq uint64) bool { return s.seq.Load() != seq }

// WriteBegin marks a writer inside. Only one writer at a time may call it;
// it panics if the sequence is already odd (a second writer).
func (s *VersionSeq) WriteBegin() {
	if !s.TryWriteBegin() {
		panic("primitives: VersionSeq.WriteBegin with a writer already inside")
	}
}

// TryWriteBegin marks a writer inside if none is, for writers that race
// with each other; it reports whether it succeeded.
func (s *VersionSeq) TryWriteBegin() bool {
	v := s.seq.Load()
	return v&1 == 0 && s.seq.CompareAndSwap(v, v+1)
}

// WriteEnd marks the writer gone and publishes the new even sequence. It
// panics if no writer was inside.
func (s *VersionSeq) WriteEnd() {
	v := s.seq.Load()
	if v&1 == 0 {
		panic("primitives: VersionSeq.WriteEnd without WriteBegin")
	}
	s.seq.Store(v + 1) // release: publishes the writer's stores to readers
}

// Sequence returns the current sequence (odd while a writer is inside).
func (s *VersionSeq) Sequence() uint64 { return s.seq.Load() }
