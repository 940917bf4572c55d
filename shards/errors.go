package shards

import "errors"

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
