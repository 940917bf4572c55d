package trie

// The writer role of the one-writer form (OneWriteMultiRead): a writer word
// and one reusable Writer, so that taking and giving back the role costs
// one atomic read-modify-write each and allocates nothing. The same word
// carries the published key count and version, so a per-key write's
// publication of them rides on the release of the role.
//
// Who may call what: any goroutine may call lockWriter, tryLockWriter and
// Concurrent.LockWriter, and load the word (Len, ReclaimStats); only the
// goroutine that took the role calls unlockWriter and publishCount (through
// Writer.Unlock or Publish, or the deferred release of WithWriter, Insert,
// Delete, Reclaim). At MultiWriteMultiRead the word is unused: LockWriter
// (concurrent.go) returns a shared, stateless Writer.
//
// Invariants:
//   - wword = state | keys<<2 | version<<wVersionShift. state (bits 0-1) is
//     0 (free), 1 (held, nobody parked) or 2 (held, a waiter may be parked);
//     keys (bits 2-39) and version (bits 40-63, mod 2^24) are the published
//     key count and publication count, changed only by the holder.
//   - Only a CAS from a free word to a held one takes the role. Waiters
//     change only the state bits, with CAS; the holder replaces the whole
//     word with Swap when it unlocks, and with a CAS loop preserving the
//     state bits when it publishes while keeping the role.
//   - The holder is the only goroutine that touches c.w, c.wr.held and the
//     pool; the unlock's Swap (release) happens-before the next holder's
//     CAS (acquire), so every writer sees its predecessor's writer state.
//
// Missed-wakeup argument (Drepper's "mutex2" with a one-token channel in
// place of the futex): a waiter parks only after it saw the state at 2 or
// moved it from 1 to 2 with a CAS, so the state stays 2 until the holder's
// Swap, which then sees 2 and puts a token into wake unless one is already
// there. A token stays in the channel until some waiter takes it, so a
// waiter that parks after the unlock still finds it: no wakeup is lost. A
// waiter that takes the role after parking takes it in state 2 (other
// waiters may still be parked), so the next unlock wakes the next one. A
// waiter that leaves on ctx may leave the state at 2 or a token in the
// channel; both cost one spurious wakeup later, never a lost one.
//
// Rejected: the TokenManager's writer token (a channel send and receive and
// a heap-allocated token per acquisition: two allocations and two channel
// operations per Insert); sync.Mutex (no context-aware waiting); spinning
// waiters (writers can hold the role for a whole batch); the key count in
// its own word (one more seq-cst store, ~13 ns, per per-key write).

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/zipora-go/zipora/internal/gid"
	"github.com/zipora-go/zipora/primitives"
)

const (
	wFree         = 0
	wHeld         = 1
	wWaited       = 2
	wStateMask    = 3
	wKeysShift    = 2
	wVersionShift = 40
	wKeysMask     = 1<<(wVersionShift-wKeysShift) - 1
)

// pubFields packs a key count and a version into the word's upper bits.
func pubFields(keys int64, version uint64) uint64 {
	return uint64(keys)&wKeysMask<<wKeysShift | version<<wVersionShift
}

// lockWriter takes the writer role (one-writer form), waiting while another
// goroutine holds it; it returns ctx's error if ctx ends first.
func (c *Concurrent[V]) lockWriter(ctx context.Context) error {
	if c.lockFree() {
		return nil
	}
	return c.lockWriterSlow(ctx)
}

// lockFree takes the writer role if it is free, with one CAS, and reports
// whether it did: lockWriter's fast path, small enough to inline into the
// per-key writes (Concurrent.Insert).
func (c *Concurrent[V]) lockFree() bool {
	x := c.wword.Load()
	return x&wStateMask == wFree && c.wword.CompareAndSwap(x, x|wHeld) // acquire: the previous holder's writer state
}

// lockWriterSlow parks until the role is free (see the file comment).
func (c *Concurrent[V]) lockWriterSlow(ctx context.Context) error {
	done := ctx.Done()
	for {
		x := c.wword.Load() // acquire: the state to act on
		switch x & wStateMask {
		case wFree:
			if c.wword.CompareAndSwap(x, x|wWaited) { // acquire: as in lockWriter
				return nil
			}
			continue
		case wHeld:
			if !c.wword.CompareAndSwap(x, x&^wStateMask|wWaited) { // announces a waiter before parking
				continue
			}
		}
		if c.heldByCaller() {
			return fmt.Errorf("%w: it holds the writer role (use the Writer's methods, or Unlock first)", ErrSelfWait)
		}
		select {
		case <-c.wake:
		case <-done:
			return ctx.Err()
		}
	}
}

// tryLockWriter takes the writer role without waiting.
func (c *Concurrent[V]) tryLockWriter() error {
	if x := c.wword.Load(); x&wStateMask == wFree && c.wword.CompareAndSwap(x, x|wHeld) { // acquire: as in lockWriter
		return nil
	}
	return fmt.Errorf("trie: %w: a writer is active", primitives.ErrBusy)
}

// unlockWriter gives the writer role back with the key count and version
// last published (w.pub), waking one parked waiter if any may be parked.
// Holder only.
func (c *Concurrent[V]) unlockWriter() {
	if unlockWord(&c.wword, c.w.pub) {
		c.wakeOne()
	}
}

// unlockWord stores pub into the writer word x and reports whether a
// waiter may be parked (the state it replaced was wWaited). A plain
// function: (*atomic.Uint64).Swap called in the generic methods was not
// inlined (a call per per-key write, issue 23); here it is, and this
// inlines into them (TestOneWriterFastPathsInline).
func unlockWord(x *atomic.Uint64, pub uint64) bool {
	return x.Swap(pub)&wStateMask == wWaited // release: the writer state to the next holder
}

// publishCount stores w.pub into the word while keeping the role. Holder
// only.
func (c *Concurrent[V]) publishCount() {
	for {
		x := c.wword.Load()                                  // acquire: the state bits to keep
		if c.wword.CompareAndSwap(x, x&wStateMask|c.w.pub) { // release: the count follows the tree
			return
		}
	}
}

// wakeOne leaves a token for a parked waiter unless one is already there.
func (c *Concurrent[V]) wakeOne() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// owLockWriter is LockWriter at OneWriteMultiRead: it takes the role
// (waiting) and hands out the Writer.
func (c *Concurrent[V]) owLockWriter(ctx context.Context) (*Writer[V], error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if err := c.lockWriter(ctx); err != nil {
		return nil, err
	}
	return c.handOut(), nil
}

// owTryLockWriter is TryLockWriter at OneWriteMultiRead.
func (c *Concurrent[V]) owTryLockWriter() (*Writer[V], error) {
	if err := c.tryLockWriter(); err != nil {
		return nil, err
	}
	return c.handOut(), nil
}

// handOut marks the Writer held and returns it. Holder only.
func (c *Concurrent[V]) handOut() *Writer[V] {
	c.wr.held = true
	return &c.wr
}

// heldByCaller reports whether the calling goroutine holds the role
// inside WithWriter (see Concurrent.holder). Only a waiter calls it, after
// it saw the role held: a goroutine that gave the role back cleared
// holder first (Writer.Unlock), so it never sees itself there unless it
// holds the role now.
func (c *Concurrent[V]) heldByCaller() bool {
	h := c.holder.Load()
	return h != 0 && h == gid.Current()
}

// owLen is Len at OneWriteMultiRead: the key count last published.
func (c *Concurrent[V]) owLen() int {
	return int(c.wword.Load() >> wKeysShift & wKeysMask) // acquire: the count last published
}

// owVersion is ReclaimStats' Version at OneWriteMultiRead.
func (c *Concurrent[V]) owVersion() uint64 {
	return c.wword.Load() >> wVersionShift // acquire: the last publication
}

// owUnlock is Writer.Unlock at OneWriteMultiRead: it forgets the holder
// goroutine, then publishes and gives the role back. Holder only.
func (c *Concurrent[V]) owUnlock() {
	c.holder.Store(0) // before the role is free: no later holder is mistaken for this one
	c.release()
}

// release publishes the writer's changes and gives the role back (the key
// count and version go out with the unlock). Holder only.
func (c *Concurrent[V]) release() {
	if c.w.dirty {
		c.publish()
	}
	c.wr.held = false
	// unlockWriter, inline (a call from one generic method to another
	// through the dictionary is not inlined, and this runs once per key).
	if unlockWord(&c.wword, c.w.pub) {
		c.wakeOne()
	}
}
