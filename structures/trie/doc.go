// Package trie is zipora's ordered map from byte strings to values: a
// path-compressed (Patricia) trie whose nodes live in structures/pool arena
// memory, addressed by 32-bit offsets instead of Go pointers, so that
// millions of keys cost the garbage collector nothing (the heap-object count
// does not grow with the number of keys).
//
// # Forms
//
//   - Trie (New): the single-owner trie. Not safe for concurrent use: one
//     goroutine at a time, or the caller's own lock. This is what a shard
//     owner uses.
//   - Frozen (Trie.Freeze): a read-only, compact copy (exact node sizes,
//     nodes and values laid out in key order), safe for any number of
//     concurrent readers without synchronization (the NoWriteReadOnly level).
//   - Concurrent (NewConcurrent): lock-free readers alongside one writer
//     (OneWriteMultiRead: per-key writes in place, atomic batches through
//     WithWriter or LockWriter) or many writers (MultiWriteMultiRead).
//
// # Keys and values
//
// Keys are any byte strings: the empty key, 0x00 bytes, long shared
// prefixes, up to MaxKeyLen (64 KiB) bytes; a longer key makes Insert fail
// with ErrKeyTooLong. The trie copies keys on insert; callers may reuse
// their buffers. Keys are ordered byte-wise (bytes.Compare).
//
// Values of any type V are kept in Go memory (segmented slices indexed from
// the nodes), so a V holding pointers stays visible to the garbage collector.
// Config.NoValues, or a V of size zero such as struct{}, makes a set that
// stores no values at all.
//
// # Iteration
//
// All, Prefix, Seek (lower bound) and Range ([from, to)) return
// iter.Seq2[[]byte, V] iterators in ascending key order. The key slice an
// iterator yields is a buffer the iterator reuses: it is valid only until
// the loop body returns, must not be modified, and is capacity-clipped so
// that appending to it copies. Clone it (bytes.Clone) to keep it. The
// bounds (p, k, from, to) are read and copied each time an iteration
// starts, not when the iterator is made. A steady-state iteration
// allocates nothing (its cursor memory is pooled), so a range loop over
// Prefix is as cheap as the keys it reads. Concurrent also offers Cursor,
// the stepping form, for callers that interleave several walks.
//
// # Snapshots
//
// Concurrent.Snapshot returns a read-only view of a concurrent trie as it
// was at the call, unchanged by later writes until it is closed: Get,
// Contains, Len and the ordered iterators, lock-free, at the speed of the
// live trie's reads. Taking one copies nothing. While snapshots are open
// the writer copies the nodes on a write's path that a snapshot shares
// instead of changing them in place, and keeps the nodes and values the
// snapshots still reach (Stats.SnapshotBytes); Close gives them back. At
// MultiWriteMultiRead writers serialize while a snapshot is open. Saving a
// snapshot is iterating it (All).
//
// The loop body may modify the trie it iterates (Insert, Delete): the
// iterator detects the change through the trie's modification counter and
// resumes from the smallest key strictly greater than the last key it
// yielded. So it never yields a key twice or out of order, never yields a
// key after it was deleted, and yields a key inserted ahead of its position
// (within its range). Keys inserted behind the position are not seen.
//
// # Saving and loading
//
// Save writes any ascending sequence of pairs (All, Prefix, Seek or Range
// of any form) to an io.Writer as a versioned stream of checksummed,
// prefix-compressed blocks; values go through a Codec (a pair of
// functions: StringCodec, BytesCodec, Uint64Codec, BinaryCodec, or your
// own). Load and LoadConcurrent read a stream back, building the trie
// bottom-up (no per-key search; the same nodes inserting the keys in
// order would build) and returning all of it or, on any error (a
// truncated or corrupt stream, another format or version, a value the
// codec rejects, a memory cap), nothing. Builder and ConcurrentBuilder
// build from sorted keys of any origin; Scan reads a stream without
// building. docs/design.md documents the format byte by byte.
//
// # Memory
//
// Nodes are allocated from a structures/pool NoLocking pool (Config.Pool
// configures it, e.g. MaxBytes to cap it: Insert then fails with an error
// wrapping pool.ErrExhausted and leaves the trie unchanged). Deleted keys
// return their nodes to the pool, and later inserts reuse them; Stats
// reports keys, nodes, arena bytes and bytes per key. The node format is
// documented in node.go.
//
// Misuse that can only be a programming error panics with a message that
// starts with "trie:".
package trie
