// Package mailbox holds the lock-free multi-producer / single-consumer
// queues through which work and data reach a shard's owner in zipora.
//
// A Mailbox is either unbounded (New: linked segments of slots, recycled, so
// a steady stream of messages does not allocate per message) or bounded
// (NewBounded: a ring with backpressure — Send parks while full, TrySend
// fails with ErrFull, SendContext gives up with the context's error; a
// parked sender is woken as soon as the consumer frees a slot, and while
// senders are parked, new sends queue behind them). Both kinds are the same
// type, *Mailbox[T], so callers do not care which one they hold.
//
// Any number of goroutines may send. Exactly one goroutine at a time
// receives (Receive, ReceiveBatch, TryReceive); a second concurrent receiver
// is a programming error, detected and reported with a panic under the race
// detector and the zipora_invariants build tag.
//
// An idle consumer parks in Go's scheduler (a primitives.GoParker: a producer's
// wake-up readies it like a channel send would), or, with Config.Futex, on a
// primitives.Parker (a futex, for a consumer locked to its own OS thread),
// after polling a bounded number of times (Config.Spin; by default only a
// futex consumer polls). A producer wakes it only
// when it is parked: the fast path of a send costs one atomic load beyond
// the publication itself.
//
// Close stops new sends (ErrClosed) and lets the consumer drain: everything
// a send reported as accepted is delivered, and only then do receives report
// ErrClosed. Items from one producer arrive in the order that producer sent
// them.
//
// Errors are sentinel values matchable with errors.Is. Misuse that can only
// be a programming error panics with a message that starts with "mailbox:".
package mailbox

import "errors"

var (
	// ErrClosed is returned by sends on a closed mailbox, and by receives
	// once a closed mailbox is drained.
	ErrClosed = errors.New("mailbox: closed")
	// ErrFull is returned by TrySend and TrySendBatch on a full bounded
	// mailbox, or on one that parked senders wait for.
	ErrFull = errors.New("mailbox: full")
	// ErrWoken is returned by Receive when Wake interrupted the wait before
	// any item arrived. ReceiveBatch reports the same event as (0, nil).
	ErrWoken = errors.New("mailbox: woken")
	// ErrBatchTooLarge is returned when a batch can never fit a bounded
	// mailbox (more items than its capacity).
	ErrBatchTooLarge = errors.New("mailbox: batch larger than capacity")
	// ErrInvalidCapacity is returned by NewBounded for a capacity <= 0 or
	// too large to allocate.
	ErrInvalidCapacity = errors.New("mailbox: invalid capacity")
)

// errNilContext is the error of a call that may wait given a nil context
// (it would panic at the first wait; nothing is sent or received).
var errNilContext = errors.New("mailbox: nil context (pass context.Background() or a context that ends)")
