// Package primitives holds the low-level synchronization building blocks of
// zipora: a futex and a one-waiter Parker built on it, padded and striped
// atomic counters, flags, max/min and bit operations, a seqlock-style version
// sequence, access levels with reader/writer tokens and version-based
// reclamation, per-worker local storage, and the CPU topology.
//
// Everything here is usable alone. The mailboxes, the runtime and the
// structures of zipora are built on these pieces.
//
// Errors are sentinel values matchable with errors.Is. Misuse that can only
// be a programming error (releasing a token twice) panics with a message that
// starts with "primitives:".
package primitives

import "errors"

var (
	// ErrTimeout is returned by Futex.Wait when its timeout elapses.
	ErrTimeout = errors.New("primitives: timeout")
	// ErrBusy is returned when a writer token is requested while the access
	// level forbids another one (a writer is active at OneWriteMultiRead, or
	// any conflicting token at the single-thread levels).
	ErrBusy = errors.New("primitives: busy")
	// ErrReadOnly is returned when a writer token is requested at
	// NoWriteReadOnly.
	ErrReadOnly = errors.New("primitives: read-only")
	// ErrTokenReleased is returned when a released token is checked.
	ErrTokenReleased = errors.New("primitives: token already released")
	// ErrWrongManager is returned when a token is checked against a manager
	// that did not issue it.
	ErrWrongManager = errors.New("primitives: token issued by another manager")
	// ErrInvalidLevel is returned for an access level outside the defined
	// constants.
	ErrInvalidLevel = errors.New("primitives: invalid access level")
	// ErrPinUnsupported is returned by PinThread where threads cannot be
	// bound to CPUs.
	ErrPinUnsupported = errors.New("primitives: thread pinning unsupported on this system")
	// ErrNoCPU is returned by PinThread for a CPU number outside the
	// kernel's CPU set.
	ErrNoCPU = errors.New("primitives: no such CPU")
)

// errNilContext is the error of a call that may wait given a nil context
// (it would panic at the first wait).
var errNilContext = errors.New("primitives: nil context (pass context.Background() or a context that ends)")
