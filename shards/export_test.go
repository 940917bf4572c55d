package shards

// SetApplyHook installs f to run before every trie write is applied (nil
// removes it). Tests only: not safe to change while writes run.
func SetApplyHook(f func(key []byte)) { applyHook = f }

// SetPoolApplyHook installs f to run before every pool operation is
// applied (nil removes it); op is "alloc", "free" or "stats". Tests only.
func SetPoolApplyHook(f func(op string, size int)) {
	if f == nil {
		poolApplyHook = nil
		return
	}
	poolApplyHook = func(op uint8, size int) { f([...]string{"alloc", "free", "stats"}[op], size) }
}

// Queued reports whether shard i of t has requests queued (tests only).
func Queued[V any](t *Trie[V], i int) bool {
	return t.layout.Load().shards[i].own.queue.Load() != nil
}

// MaxChunk and MaxTenureWork are the batch chunk and tenure work bounds.
const (
	MaxChunk      = maxChunk
	MaxTenureWork = maxTenureWork
)
