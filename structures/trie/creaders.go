package trie

// The long readers of a Concurrent trie: the goroutines that hold its epoch
// guard across caller code (an iteration's loop body, an open Cursor), so
// that WaitReaders (hence Reclaim) called by one of them returns
// ErrSelfWait instead of waiting for its own guard until ctx ends (forever
// with context.Background).
//
// Who may call what: a Cursor registers the goroutine that starts it
// (enter) and that steps it (moved, when another goroutine steps it after
// a hand-off) and unregisters at its end (leave); only the Cursor's user
// calls these, so one slot is written by one goroutine at a time. Any
// goroutine may call holds.
//
// Invariants:
//   - A slot holds 0 (free) or the identity (internal/gid) of a goroutine
//     that holds a long guard on this trie; it is claimed with a CAS from 0
//     and freed by its claimer's store of 0. When every slot is taken the
//     reader goes to an overflow multiset under a mutex, so the record is
//     exact at any number of concurrent readers.
//   - A reader is recorded before its guard can stop a WaitReaders of its
//     own goroutine (enter runs before the Seek returns) and removed only
//     after the guard's Exit. So a goroutine that calls WaitReaders while
//     it holds a long guard finds itself (its own earlier stores, program
//     order: no missed record), and one that holds none never does, except
//     after a Cursor hand-off that the new goroutine has not stepped yet
//     (the record names the goroutine that last started or stepped it), or
//     after a goroutine ended with a Cursor open and a new goroutine took
//     its identity (that WaitReaders would wait until ctx ends anyway).
//
// The check costs the reader one CAS and one store per walk on amd64 and
// arm64 (a cache line per slot, so readers on other cores do not share
// one); it is off where internal/gid parses a traceback (gid.Cheap false:
// 1-2 µs a walk), and there such a wait lasts until ctx ends.
//
// Rejected: the goroutine in the epoch guard itself (its counters are
// striped sums, shared by readers); a per-goroutine flag (Go has no
// goroutine-local storage); a sync.Map (an allocation per first insert, a
// lock on every new key); detecting a stalled wait by time (a slow loop
// body is not a self-wait).

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/zipora-go/zipora/internal/gid"
	"github.com/zipora-go/zipora/primitives"
)

// trackReaders is whether long readers are recorded (see the file comment).
const trackReaders = gid.Cheap

const readerSlots = 16

// readerSlot is one recorded long reader, alone on its cache line.
type readerSlot struct {
	g atomic.Uintptr // release/acquire: the reader's identity, 0 when free
	_ [primitives.CacheLineSize - int(unsafe.Sizeof(atomic.Uintptr{}))]byte
}

// readerSet records the long readers of one trie. The zero value is empty.
type readerSet struct {
	slots [readerSlots]readerSlot
	over  struct {
		n  atomic.Int32 // acquire/release: len(m), so holds skips the lock when 0
		mu sync.Mutex
		m  map[uintptr]int // identity -> walks (guarded by mu)
	}
}

// overflowSlot is the slot index that names the overflow multiset.
const overflowSlot = -1

// enter records g and returns where (a slot index or overflowSlot).
func (s *readerSet) enter(g uintptr) int {
	start := int(g>>6) % readerSlots
	for i := range readerSlots {
		k := (start + i) % readerSlots
		if s.slots[k].g.Load() == 0 && s.slots[k].g.CompareAndSwap(0, g) { // claims the slot
			return k
		}
	}
	return s.enterSlow(g)
}

// enterSlow records g in the overflow multiset.
func (s *readerSet) enterSlow(g uintptr) int {
	s.over.mu.Lock()
	if s.over.m == nil {
		s.over.m = make(map[uintptr]int)
	}
	s.over.m[g]++
	s.over.n.Add(1) // release: published with the entry
	s.over.mu.Unlock()
	return overflowSlot
}

// leave removes the record at where made for g.
func (s *readerSet) leave(where int, g uintptr) {
	if where != overflowSlot {
		s.slots[where].g.Store(0) // release: the slot is free
		return
	}
	s.over.mu.Lock()
	if s.over.m[g]--; s.over.m[g] == 0 {
		delete(s.over.m, g)
	}
	s.over.n.Add(-1)
	s.over.mu.Unlock()
}

// moved renames the record at where from old to g (a Cursor stepped by a
// goroutine other than the one recorded).
func (s *readerSet) moved(where int, old, g uintptr) int {
	if where != overflowSlot {
		s.slots[where].g.Store(g) // release: the slot's new reader
		return where
	}
	s.leave(where, old)
	return s.enterSlow(g)
}

// longHold is a long reader's epoch guard and its record in the trie's
// readerSet: what a Cursor holds from Seek to its end, and Snapshot.Save
// for its walk.
type longHold struct {
	g     primitives.EpochGuard
	rg    uintptr // the goroutine recorded
	rslot int     // where it is recorded
}

// enter records the calling goroutine in rs, then takes d's guard and
// marks the reader in on the trie's flag in (readerIn: before the walk
// loads anything of the tree).
func (h *longHold) enter(d *primitives.EpochDomain, rs *readerSet, in *atomic.Uint32) {
	if trackReaders {
		h.rg = gid.Current()
		h.rslot = rs.enter(h.rg)
	}
	h.g = d.Enter()
	markReaderIn(in)
}

// exit lets go of the guard, then removes the record from rs.
func (h *longHold) exit(rs *readerSet) {
	h.g.Exit()
	if trackReaders {
		rs.leave(h.rslot, h.rg)
	}
}

// rehome records the calling goroutine in rs in place of the recorded one
// (a Cursor handed on).
func (h *longHold) rehome(rs *readerSet) {
	g := gid.Current()
	h.rslot = rs.moved(h.rslot, h.rg, g)
	h.rg = g
}

// holds reports whether goroutine g is recorded as a long reader.
func (s *readerSet) holds(g uintptr) bool {
	for i := range s.slots {
		if s.slots[i].g.Load() == g { // acquire: g's own record
			return true
		}
	}
	if s.over.n.Load() == 0 { // acquire: as above
		return false
	}
	s.over.mu.Lock()
	defer s.over.mu.Unlock()
	return s.over.m[g] > 0
}
