package shards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/structures/pool"
)

// The sharded pool: the worker-local memory level.
//
// Invariants and who may call what:
//   - shard i's pool (a pool.NoLocking) is changed only by worker i: by
//     Alloc and Free called from tasks on worker i, by the remote-free
//     batches delivered to worker i, and read by Stats tasks run on worker
//     i; any goroutine may read block memory through Bytes, which uses the
//     chunk table the pool publishes atomically (SharedBytes).
//     After Detach no worker runs, and the pools are read (Stats) and the
//     frees refused during shutdown are applied, under p.mu.
//   - shard i's outbound lists out[j] (frees of blocks owned by shard j made
//     on worker i) are touched only by worker i; a full list, or every list
//     at the end of the worker's batch (Worker.AfterBatch), is handed to
//     worker j in one message, whose slice then belongs to that message.
//   - nothing is lost: a batch the runtime refuses (Stop closed the mailboxes)
//     is kept in p.late and applied by Detach, when no worker runs.
//
// Rejected: a concurrent pool per shard (the point of the level is that the
// owner allocates with no synchronization at all); freeing remote blocks
// into a lock-free per-shard stack (every remote free would cost a CAS on
// a line the owner also writes; batching amortizes one message over many).

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

// ErrNotStarted is returned by a sharded structure's writes before the
// runtime it is registered with has started (Attach has not run).
var ErrNotStarted = errors.New("shards: not started")

// ErrBadOffset is returned by Pool.Bytes for an offset that names no shard
// of the pool.
var ErrBadOffset = errors.New("shards: offset names no shard of this pool")

// Pool is a sharded memory pool registered with a runtime: each worker owns
// one pool.NoLocking shard and allocates from it without any
// synchronization. Freeing a block owned by another worker queues it and
// sends it home in batches; callers outside the workers go through the
// runtime (AllocOn, FreeOn). Offsets name their owning shard.
//
// Create one with NewPool and pass it to runtime.Start. The zero value is not
// usable; a Pool must not be copied. Methods taking a *runtime.Worker may be
// called only by a task running on that worker.
type Pool struct {
	cfg    pool.Config
	batch  int
	rt     atomic.Pointer[runtime.Runtime] // release: set by Attach before workers run
	shards []poolShard

	mu       sync.Mutex // guards late and detached-state access to the pools
	late     []remoteBatch
	detached atomic.Bool // seq-cst: set by Detach

	remoteSent atomic.Uint64 // relaxed: statistics
	remoteRecv atomic.Uint64 // relaxed: statistics
}

type poolShard struct {
	p       *pool.NoLocking
	out     [][]remoteFree // out[j]: frees for shard j, touched only by this worker
	pending bool           // an AfterBatch flush is registered
	flush   func(*runtime.Worker)
	_       [primitives.CacheLineSize]byte
}

type remoteFree struct {
	off  pool.Offset
	size int
}

type remoteBatch struct {
	shard int
	frees []remoteFree
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithFreeBatch sets how many remote frees a worker collects for one owner
// before sending them in one message (default 64). They are also sent at the
// end of every batch of tasks the worker runs.
func WithFreeBatch(n int) PoolOption { return func(p *Pool) { p.batch = n } }

// NewPool returns a sharded pool whose shards are configured by cfg (see
// pool.Config; the level is always the worker-local NoLocking). Invalid
// configurations return an error wrapping pool.ErrInvalidConfig.
func NewPool(cfg pool.Config, opts ...PoolOption) (*Pool, error) {
	c, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: c, batch: 64}
	for _, o := range opts {
		o(p)
	}
	if p.batch <= 0 {
		return nil, fmt.Errorf("%w: free batch %d", pool.ErrInvalidConfig, p.batch)
	}
	return p, nil
}

// Attach implements runtime.Structure: it creates one pool per worker.
func (p *Pool) Attach(rt *runtime.Runtime, shards int) error {
	if shards > MaxPoolShards {
		return fmt.Errorf("shards: %d workers exceed the pool's %d shards", shards, MaxPoolShards)
	}
	if p.rt.Load() != nil {
		return errors.New("shards: pool already attached to a runtime")
	}
	p.shards = make([]poolShard, shards)
	for i := range p.shards {
		np, err := pool.NewNoLocking(p.cfg)
		if err != nil {
			return err
		}
		s := &p.shards[i]
		s.p = np
		s.out = make([][]remoteFree, shards)
		s.flush = func(w *runtime.Worker) { p.flushAll(w) }
	}
	p.rt.Store(rt)
	return nil
}

// Detach implements runtime.Structure: no worker runs any more; the frees
// the runtime refused while stopping are applied now.
func (p *Pool) Detach() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.detached.Store(true)
	for _, b := range p.late {
		p.applyFrees(b.shard, b.frees)
	}
	p.late = nil
}

func (p *Pool) shard(w *runtime.Worker) *poolShard {
	if w.Runtime() != p.rt.Load() {
		panic("shards: Pool used from a worker of another runtime")
	}
	return &p.shards[w.ID()]
}

// Alloc returns a block of size bytes from the calling worker's shard, with
// no synchronization. Only a task running on w may call it.
func (p *Pool) Alloc(w *runtime.Worker, size int) (Offset, error) {
	s := p.shard(w)
	off, err := s.p.Alloc(size)
	if err != nil {
		return 0, fmt.Errorf("shards: alloc on shard %d: %w", w.ID(), err)
	}
	return makeOffset(w.ID(), off), nil
}

// Free returns a block. A block of w's own shard is freed at once; a block
// of another shard is queued and sent home in a batch (when WithFreeBatch
// frees for that shard are queued, and at the end of w's current batch of
// tasks). Only a task running on w may call it. Errors for a block of w's
// shard are those of pool.NoLocking.Free (ErrInvalidFree, ...); a remote
// block is checked by its owner, which reports failures through the
// runtime's logger.
func (p *Pool) Free(w *runtime.Worker, off Offset, size int) error {
	s := p.shard(w)
	owner := off.Shard()
	if owner == w.ID() {
		return s.p.Free(off.Local(), size)
	}
	if owner >= len(p.shards) || off.Local() == pool.Nil {
		return fmt.Errorf("%w: offset %#x names shard %d of %d", pool.ErrInvalidFree, uint64(off), owner, len(p.shards))
	}
	s.out[owner] = append(s.out[owner], remoteFree{off.Local(), size})
	if len(s.out[owner]) >= p.batch {
		p.send(w, owner)
	} else if !s.pending {
		s.pending = true
		w.AfterBatch(s.flush)
	}
	return nil
}

// flushAll sends every outbound list of w's shard home.
func (p *Pool) flushAll(w *runtime.Worker) {
	s := &p.shards[w.ID()]
	s.pending = false
	for owner := range s.out {
		if len(s.out[owner]) > 0 {
			p.send(w, owner)
		}
	}
}

func (p *Pool) send(w *runtime.Worker, owner int) {
	s := &p.shards[w.ID()]
	frees := s.out[owner]
	s.out[owner] = nil
	p.remoteSent.Add(uint64(len(frees)))
	err := w.Runtime().SubmitTo(owner, func(ow *runtime.Worker) { p.applyFrees(ow.ID(), frees) })
	if err != nil {
		// The runtime is stopping: keep the batch for Detach.
		p.mu.Lock()
		if p.detached.Load() {
			p.applyFrees(owner, frees)
		} else {
			p.late = append(p.late, remoteBatch{owner, frees})
		}
		p.mu.Unlock()
	}
}

func (p *Pool) applyFrees(shard int, frees []remoteFree) {
	p.remoteRecv.Add(uint64(len(frees)))
	for _, f := range frees {
		if err := p.shards[shard].p.Free(f.off, f.size); err != nil {
			if rt := p.rt.Load(); rt != nil {
				rt.Logger().Error("shards: remote free refused", "shard", shard, "offset", uint64(f.off), "size", f.size, "err", err)
			}
		}
	}
}

// Bytes returns the memory of a live block, from any goroutine: the owner's
// pool publishes its chunk table atomically, so reading it needs no hand-off
// to the owner. The block's contents follow the caller's own ordering with
// whoever wrote them (the hand-off that passed the offset), and the slice
// must not be used after the block is freed. Before Start it returns
// ErrNotStarted; for an offset naming no shard, ErrBadOffset.
func (p *Pool) Bytes(off Offset, size int) ([]byte, error) {
	if p.rt.Load() == nil { // acquire: the shards built by Attach
		return nil, ErrNotStarted
	}
	if off.Shard() >= len(p.shards) || off.Local() == pool.Nil || size <= 0 {
		return nil, fmt.Errorf("%w: offset %#x, size %d", ErrBadOffset, uint64(off), size)
	}
	return p.shards[off.Shard()].p.SharedBytes(off.Local(), size), nil
}

// AllocOn allocates size bytes from shard's pool for a caller outside the
// workers, through runtime.Call. Before Start it returns ErrNotStarted,
// after Stop an error matching runtime.ErrStopped.
func (p *Pool) AllocOn(ctx context.Context, shard, size int) (Offset, error) {
	rt := p.rt.Load()
	if rt == nil {
		return 0, ErrNotStarted
	}
	return runtime.Call(ctx, rt, shard, func(w *runtime.Worker) (Offset, error) { return p.Alloc(w, size) })
}

// FreeOn frees a block for a caller outside the workers, on its owner
// through runtime.Call.
func (p *Pool) FreeOn(ctx context.Context, off Offset, size int) error {
	rt := p.rt.Load()
	if rt == nil {
		return ErrNotStarted
	}
	_, err := runtime.Call(ctx, rt, off.Shard(), func(w *runtime.Worker) (struct{}, error) {
		return struct{}{}, p.Free(w, off, size)
	})
	return err
}

// PoolStats describes a sharded pool: one pool.Stats per shard and the
// remote frees sent and applied.
type PoolStats struct {
	Shards []pool.Stats
	// RemoteSent counts frees queued for another shard; RemoteApplied those
	// its owner has applied. They are equal once the runtime is idle.
	RemoteSent, RemoteApplied uint64
}

// InUse returns the bytes in live blocks over all shards.
func (s PoolStats) InUse() int64 {
	var n int64
	for _, st := range s.Shards {
		n += st.InUse
	}
	return n
}

// Stats collects every shard's statistics on its owner (runtime.Each), or
// directly once the runtime has stopped.
func (p *Pool) Stats(ctx context.Context) (PoolStats, error) {
	rt := p.rt.Load()
	if rt == nil {
		return PoolStats{}, ErrNotStarted
	}
	st := PoolStats{Shards: make([]pool.Stats, len(p.shards))}
	p.mu.Lock()
	if p.detached.Load() {
		for i := range p.shards {
			st.Shards[i] = p.shards[i].p.Stats()
		}
		p.mu.Unlock()
	} else {
		p.mu.Unlock()
		err := rt.Each(ctx, func(w *runtime.Worker) error {
			st.Shards[w.ID()] = p.shards[w.ID()].p.Stats()
			return nil
		})
		if err != nil {
			return PoolStats{}, err
		}
	}
	st.RemoteSent, st.RemoteApplied = p.remoteSent.Load(), p.remoteRecv.Load()
	return st, nil
}
