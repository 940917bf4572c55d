package shards_test

import (
	"runtime"

	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func runtimeGosched() { runtime.Gosched() }

// mustTrie is shards.NewTrie for tests: cfg is optional (at most one), an
// error panics.
func mustTrie[V any](cfg ...shards.TrieConfig) *shards.Trie[V] {
	var c shards.TrieConfig
	switch len(cfg) {
	case 0:
	case 1:
		c = cfg[0]
	default:
		panic("shards: tests pass at most one TrieConfig")
	}
	t, err := shards.NewTrie[V](c)
	if err != nil {
		panic(err)
	}
	return t
}

// newPlainTrie is trie.New with the default configuration (which cannot
// fail), for the peers of the benchmarks and the reference of the tests.
func newPlainTrie[V any]() *trie.Trie[V] {
	t, err := trie.New[V](trie.Config{})
	if err != nil {
		panic(err)
	}
	return t
}
