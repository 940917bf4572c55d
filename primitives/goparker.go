package primitives

// GoParker: a Parker whose consumer parks in Go's scheduler.
//
// Invariants, who may call what, and the missed-wakeup argument.
//
//   - The notification is one element in a channel of capacity 1 (made
//     once, lazily, and published with a CAS so the zero value works). Only
//     the consumer receives from it; any goroutine sends, without blocking
//     (select with default).
//   - Unpark before Park: the element stays in the buffer, and the next Park
//     takes it without sleeping: not lost. Several Unparks before a Park: the
//     first fills the buffer, the others find it full and drop theirs: they
//     collapse into one, as with Parker.
//   - Unpark while the consumer sleeps in the receive: the send hands the
//     element to the receiver directly and readies it on the sender's P
//     (runnext), the wake-up a channel receive gets: no system call, no
//     thread switch. The channel's lock orders the send against the
//     receiver's check-then-sleep, so a send is either buffered before the
//     receive looks or finds the receiver queued.
//   - Memory: a send happens-before the receive that takes its element (Go
//     memory model), so whatever the waker wrote before Unpark is visible
//     after Park returns true.
//
// Rejected designs:
//   - A futex (Parker): the sleeping goroutine blocks its OS thread in the
//     kernel, and the P stays with that thread until the scheduler's monitor
//     takes it back (20 µs to 10 ms); a wake-up is a thread switch. Right
//     for a consumer locked to a thread of its own, wrong for a goroutine.
//   - sync.Cond: a mutex on the Unpark path, and no timeout or context.
//   - Linkname access to the scheduler's gopark/goready: not allowed for new
//     code since Go 1.23, and a channel of capacity 1 already compiles down
//     to them.

import (
	"context"
	"sync/atomic"
	"time"
)

// GoParker is a one-consumer park/unpark primitive that sleeps in Go's
// scheduler: Park parks only the calling goroutine (its OS thread and P go
// on running other goroutines), and Unpark readies it on the waker's P, as
// a channel send to a waiting receiver does. Use it for a consumer that is
// an ordinary goroutine; use Parker for one locked to its own OS thread.
//
// The zero value is ready to use. A GoParker must not be copied after
// first use.
//
// Notifications do not accumulate: any number of Unparks before a Park are
// absorbed by that one Park. An Unpark that comes before Park is never lost:
// the next Park returns at once. An Unpark happens-before the Park that
// consumes its notification returns.
//
// Only one goroutine may call Park or ParkContext at a time (the consumer);
// Unpark may be called by any number of goroutines concurrently.
type GoParker struct {
	ch atomic.Pointer[chan struct{}] // acquire/release: the notification channel, made once
}

// c returns the notification channel, making it on first use.
func (p *GoParker) c() chan struct{} {
	if c := p.ch.Load(); c != nil { // acquire: the channel made by the CAS winner
		return *c
	}
	return p.init()
}

func (p *GoParker) init() chan struct{} {
	c := make(chan struct{}, 1)
	if p.ch.CompareAndSwap(nil, &c) { // release: publishes the channel
		return c
	}
	return *p.ch.Load()
}

// Park waits until a notification is available and consumes it. It returns
// true when it consumed a notification and false when the timeout elapsed
// first. A timeout of 0 waits without limit; a negative timeout only
// consumes a pending notification. A positive timeout allocates a timer;
// ParkContext with a deadline does too. Only the consumer may call it.
func (p *GoParker) Park(timeout time.Duration) bool {
	c := p.c()
	switch {
	case timeout == 0:
		<-c
		return true
	case timeout < 0:
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c:
		return true
	case <-t.C:
		select { // an Unpark that raced with the timer is ours
		case <-c:
			return true
		default:
			return false
		}
	}
}

// ParkContext is Park without a timeout that also returns, with false,
// when ctx is done; a notification already pending is consumed first. It
// does not allocate. A nil ctx never ends (as context.Background()).
func (p *GoParker) ParkContext(ctx context.Context) bool {
	c := p.c()
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	if done == nil {
		<-c
		return true
	}
	select {
	case <-c:
		return true
	default:
	}
	select {
	case <-c:
		return true
	case <-done:
		return false
	}
}

// Unpark makes a notification available and readies the consumer if it
// sleeps. It never blocks. Safe for concurrent use by any number of
// goroutines.
func (p *GoParker) Unpark() {
	select {
	case p.c() <- struct{}{}:
	default: // a notification is pending already
	}
}
