package shards

// SetApplyHook installs f to run before every trie write is applied (nil
// removes it). Tests only: not safe to change while writes run.
func SetApplyHook(f func(key []byte)) { applyHook = f }
