package shards

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

// ErrRouter is returned (wrapped) when a router cannot be set up for the
// runtime's shard count: wrong number of boundaries, unsorted boundaries, or
// an empty sample.
var ErrRouter = errors.New("shards: invalid router")

// Router maps a key to the shard that owns it.
//
// Init is called once, before any Route, with the number of shards (the
// runtime's worker count); it returns an error wrapping ErrRouter when the
// router cannot serve that many shards. Route must be a pure function of the
// key once Init returned: the same key always goes to the same shard, and it
// must be safe for concurrent use.
type Router interface {
	Init(shards int) error
	Route(key []byte) int
	// Ordered reports whether shard i holds only keys less than every key of
	// shard i+1. Ordered routers let prefix scans and range iteration visit
	// shards one after another instead of merging all of them.
	Ordered() bool
}

// HashRouter spreads keys evenly over the shards by a stable hash: 64-bit
// FNV-1a of the key bytes, then a multiply-shift finalizer, reduced to the
// shard count with a 128-bit multiply (Lemire's range reduction). The
// mapping depends only on the key bytes and the shard count — never on the
// process, the platform or the Go version — so shard placement is
// reproducible. Its zero value is ready for Init.
type HashRouter struct{ n uint64 }

// Init implements Router.
func (r *HashRouter) Init(shards int) error {
	if shards <= 0 {
		return fmt.Errorf("%w: %d shards", ErrRouter, shards)
	}
	r.n = uint64(shards)
	return nil
}

// Route implements Router.
func (r *HashRouter) Route(key []byte) int {
	hi, _ := bits.Mul64(Hash(key), r.n)
	return int(hi)
}

// Ordered implements Router: hash routing is not ordered.
func (r *HashRouter) Ordered() bool { return false }

// Hash is the stable key hash used by HashRouter: FNV-1a 64 followed by the
// murmur3 fmix64 finalizer (FNV's low-entropy high bits are mixed before
// the range reduction uses them).
func Hash(key []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range key {
		h ^= uint64(c)
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// RangeRouter assigns contiguous key ranges to shards, so that shard i holds
// only keys below every key of shard i+1 and a prefix scan touches only the
// shards whose range meets the prefix. Boundaries are either given
// (NewRangeRouter) or taken as quantiles of a sample of keys
// (NewSampleRouter). Shard i holds the keys k with b[i-1] <= k < b[i].
//
// A RangeRouter is immutable after Init and safe for concurrent use.
type RangeRouter struct {
	bounds     [][]byte
	sample     [][]byte
	fromSample bool
}

// NewRangeRouter returns a router with explicit boundaries: Init then
// requires exactly len(boundaries)+1 shards, and boundaries strictly
// ascending.
func NewRangeRouter(boundaries ...[]byte) *RangeRouter {
	bs := make([][]byte, len(boundaries))
	for i, b := range boundaries {
		bs[i] = bytes.Clone(b)
	}
	return &RangeRouter{bounds: bs}
}

// NewSampleRouter returns a range router whose boundaries are computed at
// Init from a sample of keys representative of the workload: shard i gets
// the i-th quantile range of the sample, so each shard owns about the same
// number of keys. Duplicate quantiles (a sample with few distinct keys) leave
// some shards empty; that is valid.
func NewSampleRouter(sample [][]byte) *RangeRouter {
	s := make([][]byte, len(sample))
	for i, k := range sample {
		s[i] = bytes.Clone(k)
	}
	slices.SortFunc(s, bytes.Compare)
	return &RangeRouter{sample: s, fromSample: true}
}

// Init implements Router.
func (r *RangeRouter) Init(shards int) error {
	if shards <= 0 {
		return fmt.Errorf("%w: %d shards", ErrRouter, shards)
	}
	if r.fromSample {
		if len(r.sample) == 0 && shards > 1 {
			return fmt.Errorf("%w: empty sample for %d shards", ErrRouter, shards)
		}
		r.bounds = make([][]byte, 0, shards-1)
		for i := 1; i < shards; i++ {
			r.bounds = append(r.bounds, r.sample[i*len(r.sample)/shards])
		}
		return nil
	}
	if len(r.bounds) != shards-1 {
		return fmt.Errorf("%w: %d boundaries for %d shards (want %d)", ErrRouter, len(r.bounds), shards, shards-1)
	}
	for i := 1; i < len(r.bounds); i++ {
		if bytes.Compare(r.bounds[i-1], r.bounds[i]) >= 0 {
			return fmt.Errorf("%w: boundaries not strictly ascending at %d", ErrRouter, i)
		}
	}
	return nil
}

// Route implements Router: the number of boundaries <= key.
func (r *RangeRouter) Route(key []byte) int {
	return sort.Search(len(r.bounds), func(i int) bool { return bytes.Compare(key, r.bounds[i]) < 0 })
}

// Ordered implements Router: range routing is ordered.
func (r *RangeRouter) Ordered() bool { return true }

// Boundaries returns a copy of the boundaries in effect after Init.
func (r *RangeRouter) Boundaries() [][]byte {
	out := make([][]byte, len(r.bounds))
	for i, b := range r.bounds {
		out[i] = bytes.Clone(b)
	}
	return out
}

// ShardsFor returns the first and last shard (inclusive) whose range can
// hold keys with the given prefix.
func (r *RangeRouter) ShardsFor(prefix []byte) (first, last int) {
	first = r.Route(prefix)
	end := prefixEnd(prefix)
	if end == nil {
		return first, len(r.bounds)
	}
	// Keys with the prefix are < end; the last shard is the one holding the
	// greatest key below end.
	last = sort.Search(len(r.bounds), func(i int) bool { return bytes.Compare(end, r.bounds[i]) <= 0 })
	return first, last
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
