package trie

import (
	"errors"
	"unsafe"

	"github.com/zipora-go/zipora/structures/pool"
)

// MaxKeyLen is the longest key a trie accepts, in bytes (64 KiB).
const MaxKeyLen = 1 << 16

// ErrKeyTooLong is returned (wrapped) by Insert for a key longer than
// MaxKeyLen.
var ErrKeyTooLong = errors.New("trie: key too long")

// Option configures a trie built by New.
type Option func(*config)

type config struct {
	noValues bool
	pool     pool.Config
}

// WithPoolConfig sets the configuration of the trie's node pool (a
// structures/pool NoLocking pool). Use it to cap node memory (MaxBytes:
// Insert then fails with an error wrapping pool.ErrExhausted) or to change
// the chunk size. Alignment must be 8 or more; MaxBytes is capped at 8 GiB,
// the most a trie can address. New panics on a configuration the pool
// rejects.
func WithPoolConfig(cfg pool.Config) Option { return func(c *config) { c.pool = cfg } }

// WithoutValues makes a set: the trie stores no values at all (no value
// slots, no per-key value memory). Insert ignores its value argument and Get
// and the iterators yield the zero V. A trie whose V has size zero (such as
// struct{}) is a set without this option.
func WithoutValues() Option { return func(c *config) { c.noValues = true } }

// Trie is an ordered map from byte strings to values of type V: a
// path-compressed (Patricia) trie whose nodes live in arena memory, so that
// millions of keys cost the garbage collector nothing; values live in one Go
// slice indexed from the nodes.
//
// A Trie is a single-owner structure: it is not safe for concurrent use, and
// every method, including iteration, must be called by one goroutine at a
// time (or under the caller's own lock). Freeze makes a read-only copy that
// is safe for concurrent readers. The zero Trie is not usable; build one
// with New. A Trie must not be copied after first use (copy its contents
// with Freeze or by iterating).
type Trie[V any] struct {
	c core[V]
}

// New returns an empty trie. It panics if a WithPoolConfig configuration is
// invalid.
func New[V any](opts ...Option) *Trie[V] {
	cfg := config{pool: defaultPoolConfig()}
	for _, o := range opts {
		o(&cfg)
	}
	var zero V
	t := &Trie[V]{}
	mem, err := newArena(cfg.pool)
	if err != nil {
		panic(err.Error())
	}
	t.c.mem = mem
	t.c.noValues = cfg.noValues || unsafe.Sizeof(zero) == 0
	return t
}

// Insert stores v under key, replacing the value of an existing key. added
// reports whether the key is new. The trie copies key; the caller may reuse
// its buffer. It fails with ErrKeyTooLong (wrapped) for a key longer than
// MaxKeyLen, or with the arena's error when node memory cannot grow; on
// error the trie is unchanged.
func (t *Trie[V]) Insert(key []byte, v V) (added bool, err error) {
	if len(key) > MaxKeyLen {
		return false, keyErr("insert", key)
	}
	return t.c.insert(key, v)
}

// Get returns the value stored under key and whether it is present.
func (t *Trie[V]) Get(key []byte) (V, bool) {
	idx, ok := lookup(t.c.mem, t.c.root, key)
	if !ok {
		var zero V
		return zero, false
	}
	return t.c.value(idx), true
}

// Contains reports whether key is present.
func (t *Trie[V]) Contains(key []byte) bool {
	_, ok := lookup(t.c.mem, t.c.root, key)
	return ok
}

// Delete removes key and returns its value and whether it was present. The
// node memory it frees is reused by later inserts.
func (t *Trie[V]) Delete(key []byte) (V, bool) {
	if len(key) > MaxKeyLen {
		var zero V
		return zero, false
	}
	return t.c.delete(key)
}

// Len returns the number of keys.
func (t *Trie[V]) Len() int { return t.c.keys }

// Stats returns memory statistics.
func (t *Trie[V]) Stats() Stats { return t.c.stats() }

// Stats describes a trie's memory.
type Stats struct {
	// Keys is the number of keys.
	Keys int
	// Nodes is the number of arena nodes (keys that end right after a
	// label byte are inline leaves and cost no node).
	Nodes int
	// ArenaBytes is the arena memory held by live nodes.
	ArenaBytes int
	// ArenaCapacity is the arena memory reserved from the Go heap.
	ArenaCapacity int
	// ValueBytes is the Go memory of the value slots (capacity included).
	ValueBytes int
	// BytesPerKey is (ArenaBytes + ValueBytes) / Keys (0 when empty).
	BytesPerKey float64
	// Compactions is the number of arena compactions so far (Concurrent at
	// OneWriteMultiRead, by Reclaim; 0 for the other forms).
	Compactions int
	// Snapshots is the number of open snapshots (Concurrent at
	// OneWriteMultiRead and MultiWriteMultiRead; 0 for the other forms).
	Snapshots int
	// SnapshotBytes is the memory kept only for open snapshots: nodes and
	// value slots the live trie no longer uses (included in ArenaBytes and
	// ValueBytes), as the writer last published it; it goes back when
	// the snapshots that reach it are closed.
	SnapshotBytes int
}

func (c *core[V]) stats() Stats {
	s := Stats{
		Keys:          c.keys,
		Nodes:         c.nodes,
		ArenaBytes:    c.mem.bytesInUse(),
		ArenaCapacity: c.mem.capacity(),
		ValueBytes:    c.vals.bytes() + cap(c.freeVals)*4,
	}
	if s.Keys > 0 {
		s.BytesPerKey = float64(s.ArenaBytes+s.ValueBytes) / float64(s.Keys)
	}
	return s
}
