package primitives

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Level is the access level of a structure: which kinds of tokens may exist
// at the same time.
type Level uint8

const (
	// NoWriteReadOnly: any number of readers, no writer ever (a frozen
	// structure). Writer requests return ErrReadOnly.
	NoWriteReadOnly Level = iota
	// SingleThreadStrict: one token of any kind at a time; a second token
	// while one is held is misuse and returns ErrBusy.
	SingleThreadStrict
	// SingleThreadShared: any number of readers or one writer, never both
	// (the discipline of Rust's RefCell); a conflicting request returns
	// ErrBusy instead of waiting, since waiting on one's own thread would
	// deadlock.
	SingleThreadShared
	// OneWriteMultiRead: any number of readers concurrently with at most one
	// writer. A second writer waits (Writer) or gets ErrBusy (TryWriter).
	OneWriteMultiRead
	// MultiWriteMultiRead: any number of readers and writers; the structure
	// coordinates its writers itself.
	MultiWriteMultiRead
)

var levelNames = [...]string{"NoWriteReadOnly", "SingleThreadStrict", "SingleThreadShared", "OneWriteMultiRead", "MultiWriteMultiRead"}

// String returns the constant's name.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Valid reports whether l is one of the defined levels.
func (l Level) Valid() bool { return l <= MultiWriteMultiRead }

// TokenManager issues reader and writer tokens for one structure according
// to its Level, and keeps the structure's version sequence.
//
// Versions are real: the manager holds the current published version
// (starting at 1); a ReaderToken pins the version that was current when it
// was issued; a writer publishes a new version with Publish. MinActiveVersion
// is the oldest version any live reader may still be looking at, which is
// what RetireList uses to hand memory back safely.
//
// Use NewTokenManager; the zero value is not usable. A TokenManager must not
// be copied. All methods are safe for concurrent use.
type TokenManager struct {
	level   Level
	version atomic.Uint64 // seq-cst: the current published version (>= 1)
	// excl is used at SingleThreadStrict and SingleThreadShared: the number
	// of reader tokens, or excWriter when a writer token is out.
	excl atomic.Int64
	// writer is a semaphore of one at OneWriteMultiRead: a token is a value
	// in the channel. Waiting writers are parked by the Go scheduler and
	// honour their context.
	writer chan struct{}
	// pins is the head of the list of reader pin blocks (never shrinks).
	pins atomic.Pointer[pinBlock] // acquire/release: publishes new blocks
}

const excWriter = -1

// pinBlock is a block of reader pin slots. A slot holds 0 when free, or the
// version pinned by the reader that owns it.
type pinBlock struct {
	slots [pinSlots]pinSlot
	next  *pinBlock // immutable once the block is published
}

const pinSlots = 32

type pinSlot struct {
	v atomic.Uint64 // seq-cst: 0 = free, otherwise the pinned version
	_ [CacheLineSize - int(unsafe.Sizeof(atomic.Uint64{}))]byte
}

// pinHint spreads readers of different Ps over different slots.
var pinHint = sync.Pool{New: func() any {
	h := new(uint32)
	*h = rand.Uint32()
	return h
}}

// NewTokenManager returns a manager for level l at version 1. It returns
// ErrInvalidLevel for an undefined level.
func NewTokenManager(l Level) (*TokenManager, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidLevel, uint8(l))
	}
	m := &TokenManager{level: l}
	m.version.Store(1)
	m.pins.Store(new(pinBlock))
	if l == OneWriteMultiRead {
		m.writer = make(chan struct{}, 1)
	}
	return m, nil
}

// Level returns the manager's access level.
func (m *TokenManager) Level() Level { return m.level }

// Version returns the current published version.
func (m *TokenManager) Version() uint64 { return m.version.Load() }

// Reader issues a reader token pinning the current version. At
// SingleThreadStrict it returns ErrBusy while any token is out; at
// SingleThreadShared while a writer token is out. The caller must Release
// the token.
func (m *TokenManager) Reader() (*ReaderToken, error) {
	switch m.level {
	case SingleThreadStrict:
		if !m.excl.CompareAndSwap(0, 1) {
			return nil, fmt.Errorf("%w: a token is already out at %v", ErrBusy, m.level)
		}
	case SingleThreadShared:
		for {
			n := m.excl.Load()
			if n == excWriter {
				return nil, fmt.Errorf("%w: a writer token is out at %v", ErrBusy, m.level)
			}
			if m.excl.CompareAndSwap(n, n+1) {
				break
			}
		}
	}
	t := &ReaderToken{m: m}
	t.slot, t.version = m.pin()
	return t, nil
}

// pin claims a free slot and stores the current version in it.
//
// Why re-validate: a writer publishes version v+1 and then scans the slots
// (MinActiveVersion). If this reader loaded v, and the writer's scan ran
// before the reader's slot store, the writer may reclaim items retired at v
// while the reader is about to look at version v. So after storing v the
// reader loads the version again; if it moved, it pins the newer one. All
// operations are seq-cst: either the writer's scan sees the slot, or the
// reader's second load sees v+1 (the publication preceded the scan, which
// preceded the slot store, which precedes the load) and the reader then
// reads only version >= v+1, which cannot reach items retired at v.
func (m *TokenManager) pin() (*atomic.Uint64, uint64) {
	v := m.version.Load()
	h := pinHint.Get().(*uint32)
	slot := m.claimSlot(v, *h)
	pinHint.Put(h)
	for {
		cur := m.version.Load()
		if cur == v {
			return slot, v
		}
		v = cur
		slot.Store(v)
	}
}

func (m *TokenManager) claimSlot(v uint64, hint uint32) *atomic.Uint64 {
	for {
		head := m.pins.Load()
		for b := head; b != nil; b = b.next {
			for i := range pinSlots {
				s := &b.slots[(int(hint)+i)%pinSlots].v
				if s.Load() == 0 && s.CompareAndSwap(0, v) {
					return s
				}
			}
		}
		// Every slot is taken: publish a new block with our slot claimed.
		nb := &pinBlock{next: head}
		nb.slots[0].v.Store(v)
		if m.pins.CompareAndSwap(head, nb) {
			return &nb.slots[0].v
		}
	}
}

// MinActiveVersion returns the oldest version pinned by a live reader token,
// or the current version when no reader is active. Everything retired at a
// version strictly below the result is unreachable by every reader.
func (m *TokenManager) MinActiveVersion() uint64 {
	minV := m.version.Load()
	for b := m.pins.Load(); b != nil; b = b.next {
		for i := range b.slots {
			if v := b.slots[i].v.Load(); v != 0 && v < minV {
				minV = v
			}
		}
	}
	return minV
}

// ActiveReaders returns the number of live reader tokens (a snapshot).
func (m *TokenManager) ActiveReaders() int {
	n := 0
	for b := m.pins.Load(); b != nil; b = b.next {
		for i := range b.slots {
			if b.slots[i].v.Load() != 0 {
				n++
			}
		}
	}
	return n
}

// TryWriter issues a writer token without waiting. It returns ErrReadOnly at
// NoWriteReadOnly and ErrBusy when the level forbids another writer now
// (a writer is out at OneWriteMultiRead; any token at SingleThreadStrict; any
// reader or writer at SingleThreadShared).
func (m *TokenManager) TryWriter() (*WriterToken, error) {
	switch m.level {
	case NoWriteReadOnly:
		return nil, ErrReadOnly
	case SingleThreadStrict, SingleThreadShared:
		if !m.excl.CompareAndSwap(0, excWriter) {
			return nil, fmt.Errorf("%w: a token is already out at %v", ErrBusy, m.level)
		}
	case OneWriteMultiRead:
		select {
		case m.writer <- struct{}{}:
		default:
			return nil, fmt.Errorf("%w: a writer is active", ErrBusy)
		}
	}
	return &WriterToken{m: m}, nil
}

// Writer issues a writer token, waiting at OneWriteMultiRead (parked, not
// spinning) until the active writer releases or ctx is done, in which case it
// returns ctx's error. At the other levels it behaves as TryWriter: the
// single-thread levels never wait, since the holder is the caller's own
// thread.
func (m *TokenManager) Writer(ctx context.Context) (*WriterToken, error) {
	if m.level != OneWriteMultiRead {
		return m.TryWriter()
	}
	select {
	case m.writer <- struct{}{}:
		return &WriterToken{m: m}, nil
	default:
	}
	select {
	case m.writer <- struct{}{}:
		return &WriterToken{m: m}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WithReader runs f with a reader token and releases it afterwards, also
// when f panics.
func (m *TokenManager) WithReader(f func(*ReaderToken) error) error {
	t, err := m.Reader()
	if err != nil {
		return err
	}
	defer t.Release()
	return f(t)
}

// WithWriter runs f with a writer token (waiting as Writer does) and
// releases it afterwards, also when f panics.
func (m *TokenManager) WithWriter(ctx context.Context, f func(*WriterToken) error) error {
	t, err := m.Writer(ctx)
	if err != nil {
		return err
	}
	defer t.Release()
	return f(t)
}

// CheckReader reports whether t is a live reader token of m: nil, or an
// error matching ErrTokenReleased or ErrWrongManager.
func (m *TokenManager) CheckReader(t *ReaderToken) error {
	if t == nil {
		return ErrWrongManager
	}
	return m.check(t.m, &t.released)
}

// CheckWriter reports whether t is a live writer token of m: nil, or an
// error matching ErrTokenReleased or ErrWrongManager.
func (m *TokenManager) CheckWriter(t *WriterToken) error {
	if t == nil {
		return ErrWrongManager
	}
	return m.check(t.m, &t.released)
}

// check is CheckReader and CheckWriter for a token issued by issuer.
func (m *TokenManager) check(issuer *TokenManager, released *atomic.Bool) error {
	switch {
	case issuer != m:
		return ErrWrongManager
	case released.Load():
		return ErrTokenReleased
	}
	return nil
}

// ReaderToken is a reader's right to read a structure, pinning the version
// that was current when it was issued: nothing retired at or after that
// version is reclaimed while the token is live.
//
// Tokens are created by TokenManager.Reader and used through a pointer; the
// zero value is not a token. Release must be called exactly once; a second
// Release panics. A token may be used by any goroutine, but not by two at
// once.
type ReaderToken struct {
	m        *TokenManager
	slot     *atomic.Uint64
	version  uint64
	released atomic.Bool // seq-cst: set once by Release
}

// Version returns the pinned version.
func (t *ReaderToken) Version() uint64 { return t.version }

// Manager returns the manager that issued the token.
func (t *ReaderToken) Manager() *TokenManager { return t.m }

// Refresh moves the pin to the current version and returns it, letting a
// long-lived reader stop holding back reclamation between reads. The caller
// must not use anything it read under the old version afterwards.
func (t *ReaderToken) Refresh() uint64 {
	if t.released.Load() {
		panic("primitives: ReaderToken.Refresh after Release")
	}
	v := t.m.version.Load()
	for {
		t.slot.Store(v)
		cur := t.m.version.Load()
		if cur == v {
			break
		}
		v = cur
	}
	t.version = v
	return v
}

// Release gives the token back. Releasing twice panics.
func (t *ReaderToken) Release() {
	if t.released.Swap(true) {
		panic("primitives: ReaderToken released twice")
	}
	t.slot.Store(0) // release: the reader no longer looks at its version
	switch t.m.level {
	case SingleThreadStrict, SingleThreadShared:
		t.m.excl.Add(-1)
	}
}

// WriterToken is a writer's right to modify a structure. At
// OneWriteMultiRead and the single-thread levels at most one is out at a
// time; at MultiWriteMultiRead any number are.
//
// Tokens are created by TokenManager.TryWriter or Writer and used through a
// pointer; the zero value is not a token. Release must be called exactly
// once; a second Release panics. Publish happens-before any Reader call that
// pins the published version.
type WriterToken struct {
	m        *TokenManager
	released atomic.Bool // seq-cst: set once by Release
}

// Manager returns the manager that issued the token.
func (t *WriterToken) Manager() *TokenManager { return t.m }

// Version returns the manager's current published version.
func (t *WriterToken) Version() uint64 { return t.m.version.Load() }

// Publish makes a new version current and returns it. Call it after the
// writer's changes are visible to readers (for example after storing the new
// root), so that readers pinning the new version see them.
func (t *WriterToken) Publish() uint64 {
	if t.released.Load() {
		panic("primitives: WriterToken.Publish after Release")
	}
	return t.m.version.Add(1) // release: readers pinning this version see the changes
}

// Release gives the token back. Releasing twice panics.
func (t *WriterToken) Release() {
	if t.released.Swap(true) {
		panic("primitives: WriterToken released twice")
	}
	switch t.m.level {
	case SingleThreadStrict, SingleThreadShared:
		t.m.excl.Store(0)
	case OneWriteMultiRead:
		<-t.m.writer
	}
}

// RetireList holds items (arena offsets, nodes) that writers removed from a
// structure, until no reader can see them any more.
//
// A writer calls Retire(m.Version(), item) after unlinking item and before
// (or without) publishing the next version: the item was reachable at that
// version. Reclaim hands back, through free, exactly the items whose retire
// version is strictly below the manager's MinActiveVersion — those no live
// or future reader token can reach.
//
// The zero value is an empty list, ready to use. A RetireList must not be
// copied after first use. Retire and Reclaim are safe for concurrent use
// (a mutex: retirement is off the read path).
type RetireList[T any] struct {
	mu    sync.Mutex
	items []retired[T]
}

type retired[T any] struct {
	version uint64
	item    T
}

// Retire records item as removed while version was current.
func (l *RetireList[T]) Retire(version uint64, item T) {
	l.mu.Lock()
	l.items = append(l.items, retired[T]{version, item})
	l.mu.Unlock()
}

// Reclaim calls free for every item retired before m's MinActiveVersion,
// removes them from the list, and returns how many it freed. free runs with
// the list's lock held: it must not call Retire or Reclaim.
func (l *RetireList[T]) Reclaim(m *TokenManager, free func(T)) int {
	return l.ReclaimBelow(m.MinActiveVersion(), free)
}

// ReclaimBelow is Reclaim for a minimum active version the caller computed.
func (l *RetireList[T]) ReclaimBelow(minActive uint64, free func(T)) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.items[:0]
	n := 0
	for _, r := range l.items {
		if r.version < minActive {
			free(r.item)
			n++
		} else {
			kept = append(kept, r)
		}
	}
	clear(l.items[len(kept):])
	l.items = kept
	return n
}

// Len returns the number of items waiting to be reclaimed.
func (l *RetireList[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
