package shards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/structures/pool"
)

// The sharded pool: one pool.NoLocking per shard (per worker when
// registered with a runtime).
//
// Invariants and who may call what:
//   - shard i's pool is changed (Alloc, Free) and its statistics read only
//     by the holder of shard i's ownership word (owner.go); any goroutine
//     reads block memory through Bytes, which uses the chunk table the
//     pool publishes atomically (SharedBytes);
//   - a caller that finds the word held queues its operation and waits for
//     the holder to apply it: an allocation or free never waits for a
//     parked worker thread, from a task or from outside the workers;
//   - shards are only ever added (NewPool, Attach; a shard's words and
//     blocks stay), so an Offset names its shard for the Pool's life;
//   - nothing is lost: frees are accepted whenever the block's shard
//     exists, after Close and Stop too (the shards stay); allocations are
//     refused after Close and Stop.
//
// Rejected: the previous design (remote frees batched per worker and sent
// home with SubmitTo from inside tasks): two workers with full bounded
// mailboxes sending to each other deadlocked, and every allocation on
// another worker's shard waited for a parked worker; a concurrent pool per
// shard (every owner allocation would pay for synchronization the word
// already gives).

// Offset identifies a block of a sharded Pool: the owning shard in the top
// 12 bits, the offset inside that shard's pool in the low 52 bits. The zero
// Offset is never a block.
type Offset uint64

const (
	shardShift = 52
	localMask  = 1<<shardShift - 1
	// MaxPoolShards is the largest shard count a Pool supports.
	MaxPoolShards = 1 << (64 - shardShift)
)

// Shard returns the shard (worker id) that owns the block.
func (o Offset) Shard() int { return int(o >> shardShift) }

// Local returns the block's offset inside its shard's pool.
func (o Offset) Local() pool.Offset { return pool.Offset(o & localMask) }

func makeOffset(shard int, local pool.Offset) Offset {
	return Offset(uint64(shard)<<shardShift | uint64(local))
}

// Pool is a sharded memory pool: one pool.NoLocking per shard (per worker
// when registered with a runtime). Alloc allocates from the shard it is
// given, Free returns a block to its owning shard, both from any
// goroutine. Each operation is applied by the caller itself when the
// shard is free, or by the goroutine currently applying operations to it
// — never by a parked worker thread. Offsets name their owning shard.
//
// Create one with NewPool: with PoolConfig.Shards set it is usable at once
// and Close ends it; with Shards 0 it gets its shards from the runtime it
// is registered with (runtime.Start). A Pool ended by Close or by its
// runtime's Stop keeps its blocks (frees and Bytes still work,
// allocations return ErrClosed); one stopped
// with its runtime may be registered with a new runtime. The zero value
// is a Pool with the zero PoolConfig; a Pool must not be copied. All
// methods are safe for concurrent use.
type Pool struct {
	cfg      pool.Config
	mu       sync.Mutex                   // serializes NewPool's build, Attach, Detach and Close
	shards   atomic.Pointer[[]*poolShard] // acquire/release: the shards, built by NewPool or Attach
	state    atomic.Uint32                // seq-cst: stateNew, stateOpen, stateStopped, stateClosed
	attached bool                         // under mu: registered with a running runtime
	reqs     sync.Pool                    // of *request[poolOp]
}

type poolShard struct {
	own owner[poolOp]
	p   *pool.NoLocking
}

const (
	opAlloc uint8 = iota
	opFree
	opStats
)

// poolOp is one queued pool operation and its results.
type poolOp struct {
	kind  uint8
	size  int
	off   pool.Offset
	stats pool.Stats
	err   error
}

// PoolConfig configures a sharded Pool (NewPool). The zero PoolConfig is
// the default, and each zero field means that field's default.
type PoolConfig struct {
	// Shards is the number of shards, at most MaxPoolShards. n > 0:
	// NewPool builds n shards and the Pool is usable at once, on its own
	// (Close it when done). 0 (the default): the Pool gets its shards
	// when it is registered with a runtime (one per worker). A runtime the
	// Pool is registered with adds shards up to its worker count; a Pool
	// never drops a shard (its blocks stay valid).
	Shards int
	// Pool configures every shard (a pool.NoLocking; the zero pool.Config:
	// the pool package's defaults).
	Pool pool.Config
}

// NewPool returns a sharded pool configured by cfg: with cfg.Shards set,
// built and usable at once; otherwise given its shards by the runtime it
// is registered with. An invalid configuration returns an error wrapping
// ErrInvalidConfig (the shard count) or pool.ErrInvalidConfig.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Shards < 0 || cfg.Shards > MaxPoolShards {
		return nil, fmt.Errorf("%w: PoolConfig.Shards = %d, want 0 to %d", ErrInvalidConfig, cfg.Shards, MaxPoolShards)
	}
	c, err := cfg.Pool.Validate()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: c}
	if cfg.Shards > 0 {
		if err := p.grow(cfg.Shards); err != nil {
			return nil, err
		}
		p.state.Store(stateOpen)
	}
	return p, nil
}

// Attach implements runtime.Structure: it gives the Pool a shard per
// worker. A Pool keeps the shards it has (and their live blocks) and adds
// shards up to the runtime's worker count.
func (p *Pool) Attach(shards int) error {
	if shards > MaxPoolShards {
		return fmt.Errorf("%w: %d workers, at most %d", ErrTooManyShards, shards, MaxPoolShards)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.attached:
		return errors.New("shards: pool already attached to a running runtime")
	case p.state.Load() == stateClosed:
		return wrapErr("attach", ErrClosed)
	}
	if err := p.grow(shards); err != nil {
		return err
	}
	p.state.Store(stateOpen)
	p.attached = true
	return nil
}

// grow adds shards until there are n. Called under p.mu or before p is
// shared.
func (p *Pool) grow(n int) error {
	var ss []*poolShard
	if old := p.shards.Load(); old != nil {
		ss = *old
	}
	if len(ss) >= n {
		return nil
	}
	ns := make([]*poolShard, len(ss), n)
	copy(ns, ss) // the shards themselves, words and all, are kept
	for len(ns) < n {
		np, err := pool.NewNoLocking(p.cfg)
		if err != nil {
			return err
		}
		ns = append(ns, &poolShard{p: np})
	}
	p.shards.Store(&ns) // release: the shards are built
	return nil
}

// Detach implements runtime.Structure: allocations are refused from now
// on; frees and Bytes go on, and the Pool may be attached again.
func (p *Pool) Detach() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attached = false
	if p.state.Load() != stateClosed {
		p.state.Store(stateStopped)
	}
}

// Close ends the Pool: allocations are refused from now on (ErrClosed);
// frees and Bytes go on, so no block is lost. A Pool registered with a runtime is ended by its Stop and needs
// no Close. Close is idempotent; it returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Store(stateClosed)
	return nil
}

// shard returns shard i, or an error wrapping missing for a shard the
// pool does not have.
func (p *Pool) shard(i int, missing error) (*poolShard, error) {
	ss := p.shards.Load()
	if ss == nil {
		return nil, ErrNotStarted
	}
	if uint(i) >= uint(len(*ss)) {
		return nil, fmt.Errorf("%w: shard %d of %d", missing, i, len(*ss))
	}
	return (*ss)[i], nil
}

// Alloc allocates size bytes from the given shard's pool, from any
// goroutine. A task running on worker i of the runtime the Pool is
// registered with allocates from shard i (Worker.ID) for locality: the
// block's memory is then first touched on that worker's CPU. Before the
// Pool has shards it returns ErrNotStarted, after Close or Stop
// ErrClosed, for a shard the pool does not have ErrNoShard, and the
// pool's errors (pool.ErrExhausted, pool.ErrInvalidSize); ctx is checked
// before the allocation is queued.
func (p *Pool) Alloc(ctx context.Context, shard, size int) (Offset, error) {
	if st := p.state.Load(); st == stateStopped || st == stateClosed {
		return 0, ErrClosed
	}
	s, err := p.shard(shard, ErrNoShard)
	if err != nil {
		return 0, err
	}
	op := poolOp{kind: opAlloc, size: size}
	if err := p.do(ctx, s, &op); err != nil {
		return 0, err
	}
	if op.err != nil {
		return 0, wrapErr(fmt.Sprintf("alloc on shard %d", shard), op.err)
	}
	return makeOffset(shard, op.off), nil
}

// Free returns a block to its owning shard, from any goroutine. Frees are
// accepted after Close and Stop too (nothing is lost). Errors are those
// of pool.NoLocking.Free (pool.ErrInvalidFree, ...), ErrBadOffset for an
// offset naming no shard, and ctx's when it ended before the free was
// taken (not applied).
func (p *Pool) Free(ctx context.Context, off Offset, size int) error {
	s, err := p.shard(off.Shard(), ErrBadOffset)
	if err != nil {
		return err
	}
	if off.Local() == pool.Nil {
		return fmt.Errorf("%w: the nil offset", pool.ErrInvalidFree)
	}
	op := poolOp{kind: opFree, size: size, off: off.Local()}
	if err := p.do(ctx, s, &op); err != nil {
		return err
	}
	return op.err
}

// do applies op on s: at once when the word is free, else queued for the
// holder. A panic of the operation, on either path, becomes op's error
// (ErrPanicked) and the word is released. It returns ctx's error when ctx
// ended before op was taken (op was not applied).
func (p *Pool) do(ctx context.Context, s *poolShard, op *poolOp) error {
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.own.tryAcquire() {
		applyGuarded[poolOp](s, op)
		s.own.serve(s, nil)
		return nil
	}
	r, _ := p.reqs.Get().(*request[poolOp])
	if r == nil {
		r = newRequest[poolOp]()
	}
	r.op = *op
	s.own.push(r, ctx.Done() != nil)
	if err := s.own.wait(ctx, s, r); err != nil {
		return err // r was cancelled, never applied, and is not ours to reuse
	}
	*op = r.op
	p.reqs.Put(r)
	return nil
}

func (s *poolShard) begin()                     {}
func (s *poolShard) publish()                   {}
func (s *poolShard) fail(op *poolOp, err error) { op.err = err }
func (s *poolShard) guard(op *poolOp, pv any)   { op.err = panicErr(pv) }

// poolApplyHook, when set (tests only), runs before every pool operation
// is applied, on the holder.
var poolApplyHook func(op uint8, size int)

// apply implements session: every pool operation is one unit of work.
func (s *poolShard) apply(op *poolOp) int {
	if poolApplyHook != nil {
		poolApplyHook(op.kind, op.size)
	}
	switch op.kind {
	case opAlloc:
		op.off, op.err = s.p.Alloc(op.size)
	case opFree:
		op.err = s.p.Free(op.off, op.size)
	case opStats:
		op.stats = s.p.Stats()
	}
	return 1
}

// Bytes returns the memory of a live block, from any goroutine: the owner's
// pool publishes its chunk table atomically, so reading it needs no
// hand-off. The block's contents follow the caller's own ordering with
// whoever wrote them (the hand-off that passed the offset), and the slice
// must not be used after the block is freed. Before Start it returns
// ErrNotStarted; for an offset and size outside the shard's arena,
// ErrBadOffset.
func (p *Pool) Bytes(off Offset, size int) ([]byte, error) {
	s, err := p.shard(off.Shard(), ErrBadOffset)
	if err != nil {
		return nil, err
	}
	if off.Local() == pool.Nil || size <= 0 {
		return nil, fmt.Errorf("%w: offset %#x, size %d", ErrBadOffset, uint64(off), size)
	}
	b, ok := s.p.TrySharedBytes(off.Local(), size)
	if !ok {
		return nil, fmt.Errorf("%w: offset %#x, size %d outside the arena", ErrBadOffset, uint64(off), size)
	}
	return b, nil
}

// PoolStats describes a sharded pool: one pool.Stats per shard.
type PoolStats struct {
	Shards []pool.Stats
}

// InUse returns the bytes in live blocks over all shards.
func (s PoolStats) InUse() int64 {
	var n int64
	for _, st := range s.Shards {
		n += st.InUse
	}
	return n
}

// Stats collects every shard's statistics, each read by the shard's
// current holder (or the caller), so that it is consistent for that shard.
func (p *Pool) Stats(ctx context.Context) (PoolStats, error) {
	ss := p.shards.Load()
	if ss == nil {
		return PoolStats{}, ErrNotStarted
	}
	st := PoolStats{Shards: make([]pool.Stats, len(*ss))}
	for i := range *ss {
		op := poolOp{kind: opStats}
		if err := p.do(ctx, (*ss)[i], &op); err != nil {
			return PoolStats{}, err
		}
		st.Shards[i] = op.stats
	}
	return st, nil
}
