package shards

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zipora-go/zipora/internal/lifecycle"
)

// The one-prefix rule (docs/design.md, Conventions): an error names this
// package once. wrapErr is how this package wraps an error with what it
// was doing; unprefixed is how it quotes one inside detail of its own.

// prefix starts the text of every error of this package.
const prefix = "shards: "

// wrapErr adds the package prefix and what to err, once: an error that
// already carries the prefix (one of the package's sentinels first) gets
// what after its own text instead.
func wrapErr(what string, err error) error {
	if strings.HasPrefix(err.Error(), prefix) {
		return fmt.Errorf("%w (%s)", err, what)
	}
	return fmt.Errorf("%s%s: %w", prefix, what, err)
}

// unprefixed is err without this package's prefix in its text, for detail
// that an error of this package carries after its own prefix (a failed
// write of a BatchError, a shard of a snapshot that failed); errors.Is and
// errors.As see err itself.
func unprefixed(err error) error {
	if strings.HasPrefix(err.Error(), prefix) {
		return bare{err}
	}
	return err
}

type bare struct{ err error }

func (b bare) Error() string { return strings.TrimPrefix(b.err.Error(), prefix) }
func (b bare) Unwrap() error { return b.err }

// ErrClosed is returned by the writes of a Trie (Insert, Delete, Commit,
// Load, Snapshot) and the allocations of a Pool after Close, or after the
// runtime the structure is registered with stopped (Detach); such a write
// was not applied. Frees and reads go on. errors.Is(err,
// runtime.ErrStopped) is true of it as well (the runtime exports the same
// sentinel this one matches), so code written against a runtime's life
// cycle keeps working; this package does not import the runtime.
var ErrClosed = lifecycle.NewSentinel("shards: closed", lifecycle.ErrStopped)

// ErrNoShard is returned by Pool.Alloc for a shard the Pool does not have.
// errors.Is(err, runtime.ErrNoShard) is true of it as well.
var ErrNoShard = lifecycle.NewSentinel("shards: no such shard", lifecycle.ErrNoShard)

// ErrNotStarted is returned by a sharded structure's writes before the
// runtime it is registered with has started (Attach has not run).
var ErrNotStarted = errors.New("shards: not started")

// ErrTooManyShards is returned by Pool.Attach (so by runtime.Start) when
// the runtime has more workers than a Pool has shards (MaxPoolShards).
var ErrTooManyShards = errors.New("shards: too many shards")

// errNilContext is the error of a write given a nil context.
var errNilContext = errors.New("shards: nil context (pass context.Background() or a context that ends)")

// ErrBadOffset is returned by Pool.Bytes for an offset and size that name
// no block memory of this pool.
var ErrBadOffset = errors.New("shards: offset names no block of this pool")

// ErrInvalidConfig is returned (wrapped, with the field) by NewTrie and
// NewPool for a configuration they cannot use.
var ErrInvalidConfig = errors.New("shards: invalid config")
