package mailbox

import (
	"context"
	"fmt"
)

// The bounded kind: a ring of capacity slots; ticket t lives in slot
// t % capacity.
//
// Invariants:
//   - A producer may claim tickets [t, t+n) only while t+n-headPub <=
//     capacity: every earlier user of those slots (tickets up to t+n-1-cap)
//     was taken, and the consumer's plain writes to them (clearing values)
//     happened before its release store of headPub, which the producer
//     loaded. It claims with a CAS on tail, so a claim never exceeds the
//     room it checked and is refused once Close set the closed bit.
//   - Stamps work as in the unbounded kind; a stale stamp in slot t%cap is
//     at most t (see mailbox.go), so the ring is never reset.
//
// Producers park on the current space generation (a channel, closed to
// wake them all) while full; see mailbox.go for the missed-wakeup argument.
//
// Wake-up rule: the consumer wakes the waiting producers at the end of
// every receive that took items while one is registered (spaceWanted), so
// a blocked sender retries as soon as one slot is free. A waiter that
// still finds no room (another waiter was faster, its batch needs more)
// registers again and is woken by the next receive.
//
// Fairness: while any producer waits (waiters > 0), a send that has not
// waited yet does not claim on its fast path: TrySend and TrySendBatch
// return ErrFull, and a blocking send joins the waiters (where it claims
// at once if there is room). Only waiters claim freed room, so a stream
// of TrySends cannot keep a blocked Send waiting while slots are free.
// Among waiters there is no order; each is woken on every receive.
//
// Rejected designs:
//   - Waking only once half the capacity is free (the previous rule): a
//     sender stayed asleep with a quarter of the slots free for as long as
//     the consumer took nothing, and TrySends took the free slots meanwhile
//     (issue 13). The saving, one channel close per receive while
//     producers wait, is small next to the parked producers' wake-ups.
//   - A FIFO queue of waiters with direct hand-off of slots: a lock or a
//     second lock-free queue on the slow path, and a cancelled waiter must
//     pass on its slot; waking every waiter is simpler and starves only
//     under a pathological race among waiters themselves.

// index maps a ticket to its ring slot.
func (m *Mailbox[T]) index(t uint64) uint64 {
	if m.pow2 {
		return t & m.mask
	}
	return t % m.capacity
}

// claimFirst is claim for a send that has not waited: while producers
// wait for room, it leaves the room to them (see Fairness above).
func (m *Mailbox[T]) claimFirst(n uint64) (uint64, error) {
	if m.waiters.Load() != 0 { // seq-cst: producers in waitRoom
		if m.Closed() {
			return 0, ErrClosed
		}
		return 0, ErrFull
	}
	return m.claim(n)
}

// claim claims n tickets of a bounded mailbox without waiting: ErrFull when
// there is no room for n, ErrClosed when closed.
func (m *Mailbox[T]) claim(n uint64) (uint64, error) {
	for {
		t := m.tail.Load() // acquire
		if t&closedBit != 0 {
			return 0, ErrClosed
		}
		if t+n-m.headPub.Load() > m.capacity { // acquire: the consumer's progress
			if m.tail.Load() == t {
				return 0, ErrFull
			}
			continue // another producer moved tail; the check was stale
		}
		if m.tail.CompareAndSwap(t, t+n) { // acq-rel: claims [t, t+n)
			return t, nil
		}
	}
}

func (m *Mailbox[T]) sendBounded(ctx context.Context, v T, block bool) error {
	t, err := m.claimFirst(1)
	if err == ErrFull && block {
		t, err = m.waitRoom(ctx, 1)
	}
	if err != nil {
		return err
	}
	s := &m.ring[m.index(t)]
	s.v = v
	s.stamp.Store(t + 1) // release: publishes the run [t, t+1)
	m.notify()
	return nil
}

func (m *Mailbox[T]) sendBatchBounded(ctx context.Context, vs []T, block bool) error {
	n := uint64(len(vs))
	if n > m.capacity {
		return fmt.Errorf("%w: batch of %d items, capacity %d", ErrBatchTooLarge, n, m.capacity)
	}
	if n == 0 {
		if m.Closed() {
			return ErrClosed
		}
		return nil
	}
	t, err := m.claimFirst(n)
	if err == ErrFull && block {
		t, err = m.waitRoom(ctx, n)
	}
	if err != nil {
		return err
	}
	first := &m.ring[m.index(t)]
	first.v = vs[0]
	for i := uint64(1); i < n; i++ {
		m.ring[m.index(t+i)].v = vs[i]
	}
	first.stamp.Store(t + n) // release: publishes the run [t, t+n)
	m.notify()
	return nil
}

// waitRoom parks until n tickets can be claimed, the mailbox is closed, or
// ctx is done. The slow path of blocking sends.
func (m *Mailbox[T]) waitRoom(ctx context.Context, n uint64) (uint64, error) {
	m.waiters.Add(1)        // seq-cst: first-time sends defer to this one from now on
	defer m.waiters.Add(-1) // the room it leaves goes to first-time sends again
	for {
		gen := *m.spaceGen.Load() // acquire: the generation a wake-up will close
		m.spaceWanted.Store(1)    // seq-cst: after loading gen, before the re-check (missed-wakeup argument)
		t, err := m.claim(n)
		if err != ErrFull {
			return t, err
		}
		if ctx.Done() == nil { // never cancelled
			m.producerParks.Add(1)
			<-gen
			continue
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		m.producerParks.Add(1)
		select {
		case <-gen:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
