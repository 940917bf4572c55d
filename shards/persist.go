package shards

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zipora-go/zipora/structures/trie"
)

// Saving and loading the sharded trie (the stream format of
// structures/trie: trie.Save, trie.Scan).
//
// Load reads the stream once and routes each pair to its shard's
// trie.ConcurrentBuilder: a subsequence of a sorted sequence is sorted, so
// under any router (a range router gives each shard a contiguous run, a
// hash router an interleaved but still ascending subsequence) every shard
// is built bottom-up with no search, off to the side, while the old
// contents keep serving reads and writes. Then it holds every shard's word
// (holdAll, owner.go: no write is applied anywhere meanwhile), swaps each
// shard's trie and writer for the new ones (one release store per shard),
// and releases the words: the writes queued behind the holds are applied
// to the new contents.
//
// Rejected: loading through the write path (a search and node growth per
// key, and the shards' writers blocked for the whole load); replacing the
// layout (the ownership words live in it: writers queued on the old words
// would have to be redirected); one atomic table of every shard's trie
// (a reader would see all shards switch at once, at the cost of one more
// dependent load on every Get; per-shard is what the issue asks).

// Load replaces the contents of t, which must be attached to a running
// runtime, with the pairs of a stream written by trie.Save (a Save of
// any sharded trie, whatever its shard count or router, or a trie.Save of
// any trie), decoding values with c. The new shards are built off to the
// side while t keeps serving; then, for a moment bounded by one write
// tenure per shard plus a pointer store per shard, no write is applied,
// and the new contents are installed.
//
// What others observe:
//   - a write that returned before Load took the shards' words is lost
//     (replaced); a write that returns after Load returned is applied to
//     the new contents; a write running meanwhile lands in the old
//     contents (and is lost) or waits and lands in the new;
//   - a Get or Contains sees its shard's old or new contents, never a mix;
//     since shards switch one after another (while no write can run), two
//     reads of different shards during the install may see one new and the
//     other old; after Load returns every read sees the new contents;
//   - an iteration sees, per shard, the contents that shard had when the
//     iteration reached it (hash routing: when it started; ordered routing:
//     when it moved on to that shard), so one that overlaps the install may
//     yield some shards' old keys and others' new ones, each shard whole
//     and in order; Len sums shards read at slightly different moments.
//
// On any error — the stream's (trie.ErrCorrupt, trie.ErrNotStream,
// trie.ErrVersion, the codec's, r's), a shard's memory cap, ErrRouter,
// ctx's, ErrNotStarted, ErrClosed — t is unchanged and what was
// built is dropped. ctx is checked before every Read of r and bounds the
// wait for the shards' words; a Read that blocks is not interrupted (ctx
// cannot reach into r): to bound one, make r end it when ctx ends (for a
// net.Conn: context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })).
// A *bufio.Reader is read exactly to the stream's end (as trie.Scan does)
// and, as it may hold the rest of the stream already, is checked between
// records instead. The old contents' memory goes back once no
// reader uses them (they are garbage-collected, arena included).
func (t *Trie[V]) Load(ctx context.Context, r io.Reader, c trie.Codec[V]) error {
	l := t.layout.Load() // acquire: the shards
	if l == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		return errNilContext
	}
	if t.state.Load() != stateOpen {
		return wrapErr("load", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := make([]*trie.ConcurrentBuilder[V], len(l.shards))
	for i := range bs {
		var err error
		if bs[i], err = newShardBuilder[V](t.cfg.Trie); err != nil {
			return fmt.Errorf("shards: load: shard %d: %w", i, err)
		}
	}
	if _, ok := r.(*bufio.Reader); !ok {
		r = ctxReader{ctx, r}
	}
	n := 0
	_, err := trie.Scan(r, c, func(key []byte, v V) error {
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		i := l.route(key)
		if i < 0 {
			return fmt.Errorf("%w: a shard out of range for %d shards", ErrRouter, len(l.shards))
		}
		if err := bs[i].Add(key, v); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return wrapErr("load", err)
	}
	cs := make([]*trie.Concurrent[V], len(bs))
	ws := make([]*trie.Writer[V], len(bs))
	for i, b := range bs {
		if cs[i], err = b.Concurrent(); err != nil {
			return fmt.Errorf("shards: load: shard %d: %w", i, err)
		}
		if ws[i], err = cs[i].TryLockWriter(); err != nil {
			panic("shards: a new shard's writer role is taken") // nobody else can see it
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	release, _, err := l.holdAll(ctx)
	if err != nil {
		return wrapErr("load", err)
	}
	defer release()
	if t.layout.Load() != l {
		// Reattached with another shard count while the stream was read.
		return errors.New("shards: load: the trie was re-attached during the load")
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.w = ws[i]      // the holder's: handed to the next holder by the word's release
		s.c.Store(cs[i]) // release: readers of the shard see the new trie from here on
	}
	return nil
}

// newShardBuilder builds one shard's trie: the form and options NewTrie's
// shards have (newLayout).
func newShardBuilder[V any](cfg trie.Config) (*trie.ConcurrentBuilder[V], error) {
	return trie.NewConcurrentBuilder[V](shardLevel, cfg)
}

// Save writes a consistent cut of t (Snapshot: every write that returned
// before the call is in it, none that started after it returned; writers
// pause only while the cut is taken) to w as a trie.Save stream, values
// encoded by c, and returns the bytes written. Load (of a sharded trie of
// any shard count or router), trie.Load and trie.LoadConcurrent read it
// back. The walk runs while writes go on and blocks no one. When ctx ends
// it stops at the next block and returns ctx's error, leaving a stream no
// load accepts.
func (t *Trie[V]) Save(ctx context.Context, w io.Writer, c trie.Codec[V]) (int64, error) {
	if t.layout.Load() == nil {
		return 0, ErrNotStarted
	}
	if ctx == nil {
		return 0, errNilContext
	}
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	var n int64
	if snap.l.router.Ordered() {
		// The shards hold ascending key ranges: one node walk per shard
		// into one stream (trie.SaveSnapshots), no merge.
		n, err = trie.SaveSnapshots(ctxWriter{ctx, w}, snap.snaps, c)
	} else {
		n, err = trie.Save(ctxWriter{ctx, w}, snap.All(), c)
	}
	if err != nil {
		return n, fmt.Errorf("shards: save: %w", err)
	}
	return n, nil
}

// ctxWriter fails every write once ctx is done, so that a cancelled save
// stops at its next block and leaves a stream without a trailer (which
// every load refuses), never a valid stream missing keys.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// ctxReader fails every Read once ctx is done, so that a load of a stream
// whose bytes keep coming slowly (a block may claim up to 1 GiB) ends soon
// after ctx does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
