// Package lifecycle holds the sentinel errors that say a runtime no longer
// takes work, shared by runtime (which exports them) and shards (whose own
// sentinels match them in errors.Is) without either package importing the
// other: the arrangement of the standard library's internal/oserror,
// exported as fs.ErrNotExist and matched by syscall.Errno's Is method.
package lifecycle

import "errors"

var (
	// ErrStopped is runtime.ErrStopped; shards.ErrClosed matches it.
	ErrStopped = errors.New("runtime: stopped")
	// ErrNoShard is runtime.ErrNoShard; shards.ErrNoShard matches it.
	ErrNoShard = errors.New("runtime: no such shard")
)

// Sentinel is an error with its own text (its package's prefix) that also
// matches one of this package's errors in errors.Is.
type Sentinel struct {
	msg  string
	also error
}

// NewSentinel returns a sentinel whose text is msg and that errors.Is
// matches with also (one of this package's errors) as well as with itself.
func NewSentinel(msg string, also error) error { return &Sentinel{msg: msg, also: also} }

// Error returns the sentinel's text.
func (e *Sentinel) Error() string { return e.msg }

// Is reports whether target is the error the sentinel also matches.
func (e *Sentinel) Is(target error) bool { return target == e.also }
