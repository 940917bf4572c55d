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

// Config configures a trie: New, NewShared, NewConcurrent, NewBuilder,
// NewConcurrentBuilder, Load and LoadConcurrent take one. The zero Config
// is the default (a map whose nodes live in the trie's default pool), and
// each zero field means that field's default. A Config is a plain value:
// copy it, compare it, log it.
type Config struct {
	// Pool configures the node pool (a structures/pool NoLocking pool;
	// for the multi-writer Concurrent form a LockFree one). Each zero
	// field takes the trie's default, not the pool package's: Alignment 8
	// (must be 8 or more), MaxFastBlock 16 KiB (at most ChunkSize),
	// ChunkSize 1 MiB (derived from FixedCapacity when that is set),
	// MaxBytes FixedCapacity when that is set, else 8 GiB, the most a
	// trie can address (a larger value is capped to it). Set MaxBytes to
	// cap node memory: Insert then fails with an error wrapping
	// pool.ErrExhausted. NewConcurrent raises MaxFastBlock and ChunkSize
	// where needed so that the largest node is a small block. A
	// configuration the pool rejects makes the constructor return an error
	// wrapping pool.ErrInvalidConfig.
	Pool pool.Config
	// NoValues makes a set: the trie stores no values at all (no value
	// slots, no per-key value memory). Insert ignores its value argument
	// and Get and the iterators yield the zero V. A trie whose V has size
	// zero (such as struct{}) is a set whatever NoValues says.
	NoValues bool
}

// poolConfig returns c.Pool with the trie's defaults in its zero fields.
func (c Config) poolConfig() pool.Config {
	p, d := c.Pool, defaultPoolConfig()
	if p.Alignment == 0 {
		p.Alignment = d.Alignment
	}
	if p.ChunkSize == 0 && p.FixedCapacity == 0 {
		p.ChunkSize = d.ChunkSize
	}
	if p.MaxBytes == 0 && p.FixedCapacity > 0 {
		p.MaxBytes = p.FixedCapacity // the pool refuses any other cap
	}
	if p.MaxFastBlock == 0 {
		p.MaxFastBlock = d.MaxFastBlock
		if p.ChunkSize > 0 {
			p.MaxFastBlock = min(p.MaxFastBlock, p.ChunkSize)
		}
	}
	return p
}

// noValues reports whether a trie of V built with c stores no values.
func noValues[V any](c Config) bool {
	var zero V
	return c.NoValues || unsafe.Sizeof(zero) == 0
}

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

// New returns an empty trie configured by cfg (the zero Config: the
// defaults). A pool configuration the pool rejects returns an error
// wrapping pool.ErrInvalidConfig.
func New[V any](cfg Config) (*Trie[V], error) {
	mem, err := newArena(cfg.poolConfig())
	if err != nil {
		return nil, err
	}
	t := &Trie[V]{}
	t.c.mem = mem
	t.c.noValues = noValues[V](cfg)
	return t, nil
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
	return t.c.get(key)
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
