package primitives

import (
	"sync/atomic"
	"time"
)

// Parker is a one-consumer park/unpark primitive on a Futex: one goroutine
// (the owner) calls Park to wait for a notification; any goroutine calls
// Unpark to deliver one. It is the way an idle mailbox consumer or worker
// sleeps without burning CPU.
//
// The zero value is ready to use, with the default spin count. A Parker must
// not be copied after first use.
//
// Notifications do not accumulate: any number of Unparks before a Park are
// absorbed by that one Park. An Unpark that comes before Park is never lost:
// the next Park returns at once. Atomic writes a goroutine made before
// Unpark (publishing a message, say) are visible to the consumer's atomic
// loads after the Park that follows; all Go atomics are sequentially
// consistent, and Unpark's first operation is an atomic on the state word.
//
// Only one goroutine may call Park at a time (the consumer); Unpark may be
// called by any number of goroutines concurrently.
type Parker struct {
	// state is the futex word: parkEmpty, parkNotified or parkParked.
	state Futex
	spin  atomic.Int32 // relaxed: tuning only; 0 means the default, < 0 none
}

// Invariants, who may call what, and the missed-wakeup argument.
//
//   - state moves parkEmpty -> parkParked only by the consumer (CAS in Park),
//     parkParked/parkEmpty -> parkNotified only by Unpark (Swap), and
//     parkNotified -> parkEmpty only by the consumer (CAS or Swap in Park).
//   - Unpark first publishes parkNotified with a Swap, then, only if the
//     previous state was parkParked, calls Wake. The consumer sleeps only in
//     Futex.Wait(parkParked): the kernel (or the fallback table) compares the
//     word with parkParked atomically with going to sleep. So an Unpark that
//     lands after the consumer's CAS to parkParked either changes the word
//     before the comparison (Wait returns at once) or finds the consumer
//     asleep and wakes it. An Unpark that lands before the CAS makes the CAS
//     fail, and Park consumes the notification without sleeping.
//   - Unpark is cheap when nobody sleeps: a load that sees parkNotified
//     returns without writing, and otherwise one Swap and no system call.
//
// Rejected: a channel of capacity 1 (between goroutines locked to OS threads
// every hand-off goes through the Go scheduler, about 5x slower than the
// futex), and sync.Cond (needs a mutex on the Unpark path, cannot time out).
const (
	parkEmpty    uint32 = 0
	parkNotified uint32 = 1
	parkParked   uint32 = 2
)

// DefaultParkerSpin is the number of times Park polls for a notification
// before it sleeps, unless SetSpin chose otherwise.
const DefaultParkerSpin = 64

// NoSpin, given to any spin knob of the module (Parker.SetSpin,
// mailbox.Config.Spin, runtime.Config.Spin), means no polling at all: park at
// once. In every one of them 0 means the default.
const NoSpin = -1

// SetSpin sets how many times Park polls before sleeping: 0 means
// DefaultParkerSpin, NoSpin (or any n < 0) none — the right choice on
// machines with no core to spare. Safe to call at any time.
func (p *Parker) SetSpin(n int) {
	if n > 1<<30 {
		n = 1 << 30
	}
	p.spin.Store(int32(n))
}

// Park waits until a notification is available and consumes it. It returns
// true when it consumed a notification and false when the timeout elapsed
// first. A timeout of 0 waits without limit; a negative timeout only
// consumes a pending notification. Only the consumer goroutine may call Park.
func (p *Parker) Park(timeout time.Duration) bool {
	// Fast path: a notification is already there.
	if p.state.CompareAndSwap(parkNotified, parkEmpty) {
		return true
	}
	if timeout < 0 {
		return false
	}
	return p.parkSlow(timeout)
}

func (p *Parker) parkSlow(timeout time.Duration) bool {
	spin := int(p.spin.Load())
	if spin == 0 {
		spin = DefaultParkerSpin
	}
	for i := 0; i < spin; i++ {
		if p.state.Load() == parkNotified && p.state.CompareAndSwap(parkNotified, parkEmpty) {
			return true
		}
	}
	if !p.state.CompareAndSwap(parkEmpty, parkParked) {
		// Only an Unpark can have changed parkEmpty: consume it.
		p.state.Store(parkEmpty)
		return true
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		wait := time.Duration(0)
		if timeout > 0 {
			wait = time.Until(deadline)
			if wait <= 0 {
				// Withdraw: if an Unpark raced in, its notification is ours.
				return p.state.Swap(parkEmpty) == parkNotified
			}
		}
		err := p.state.Wait(parkParked, wait)
		if p.state.CompareAndSwap(parkNotified, parkEmpty) {
			return true
		}
		if err == ErrTimeout {
			return p.state.Swap(parkEmpty) == parkNotified
		}
		// Spurious wake-up: the state is still parkParked; sleep again.
	}
}

// Unpark makes a notification available and wakes the consumer if it sleeps.
// Safe for concurrent use by any number of goroutines.
func (p *Parker) Unpark() {
	if p.state.Load() == parkNotified {
		return // already notified; nothing to write
	}
	p.unparkSlow()
}

func (p *Parker) unparkSlow() {
	if p.state.Swap(parkNotified) == parkParked {
		p.state.Wake(1)
	}
}

// Parked reports whether the consumer is asleep (or about to sleep) in Park.
// It is a hint for producers that want to skip Unpark when the consumer is
// known to be running; an Unpark is still required for correctness unless the
// caller's own protocol rules out a missed wake-up.
func (p *Parker) Parked() bool { return p.state.Load() == parkParked }
