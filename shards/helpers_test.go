package shards_test

import (
	"context"
	"runtime"
	"sync"

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

// structure is runtime.Structure, restated so that these tests do not link
// the runtime (internal/shardsrt checks that the structures implement it).
type structure interface {
	Attach(shards int) error
	Detach()
}

// testRuntime stands in for a runtime in this package's tests: startRT
// attaches the structures as runtime.Start does (in order, with the
// worker count; when one fails, those attached before it are detached in
// reverse order) and Stop detaches them as runtime.Stop does. A runtime
// gives a sharded structure nothing else; internal/shardsrt tests them
// registered with a real one, with tasks on its workers.
type testRuntime struct {
	mu         sync.Mutex
	structures []structure
}

// startRT "starts a runtime" of workers workers (0: GOMAXPROCS).
func startRT(workers int, ss ...structure) (*testRuntime, error) {
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rt := &testRuntime{}
	for _, s := range ss {
		if err := s.Attach(workers); err != nil {
			_ = rt.Stop(context.Background())
			return nil, err
		}
		rt.structures = append(rt.structures, s)
	}
	return rt, nil
}

// Stop detaches the structures, last first; a second Stop does nothing.
func (rt *testRuntime) Stop(context.Context) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := len(rt.structures) - 1; i >= 0; i-- {
		rt.structures[i].Detach()
	}
	rt.structures = nil
	return nil
}
