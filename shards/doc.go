// Package shards gives sharded structures — a Trie (an ordered map) and a
// Pool (memory blocks) — and the key routing (hash and ordered range
// routers) they use. Each works on its own: NewTrie or NewPool with a
// shard count returns a structure usable at once, and Close ends it. Each
// can also be registered with a runtime (runtime.Start, from the runtime
// package, which this package does not import): the runtime sizes it to
// one shard per worker and ends it at Stop. A program that uses only this
// package starts no goroutine it did not ask for.
//
// Ownership of a shard is a word, not a thread: a write (Trie.Insert,
// Trie.Delete, Batch.Commit, Pool.Alloc, Pool.Free) is applied by the
// calling goroutine when the shard's word is free, or queued for the
// goroutine currently holding it, which applies it with its own writes and
// publishes them together. No write waits for a worker, and tasks running
// on the workers may write any shard, their own included. Every wait is
// bounded: a write waits only for the current holder of its own shard,
// whose tenure is bounded by work; a write queued behind others honours
// its context until it is taken (then it is applied); Close (or a
// runtime's Stop) returns once each shard's holder stops (within 32
// writes or one batch chunk). What a runtime's worker i gives shard i is
// locality: a task on worker i is the natural place for work on shard i
// (its data stays in that worker's cache), while writes stay safe from
// anywhere. ErrClosed, the error of a write to an ended structure,
// matches runtime.ErrStopped too.
// Reads (Trie.Get, the iterators, Pool.Bytes) are lock-free from any
// goroutine. Trie.Snapshot takes a consistent cut across all shards (every
// write that returned before it is in it, none that started after it
// returned), pausing writers for the time it takes every shard's word and
// snapshots each shard's trie, without copying data. Trie.Save writes such
// a cut as a trie.Save stream while writes go on; Trie.Load builds new
// shards from one off to the side and installs them while holding every
// shard's word (see Load for what readers observe). See owner.go for the
// protocol and docs/design.md for the architecture.
package shards
