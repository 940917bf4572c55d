package trie

import (
	"testing"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// oneConfig returns the only element of cfg, or the zero Config.
func oneConfig(cfg []Config) Config {
	switch len(cfg) {
	case 0:
		return Config{}
	case 1:
		return cfg[0]
	}
	panic("trie: tests pass at most one Config")
}

// mustNew is New for tests: cfg is optional, an error panics.
func mustNew[V any](cfg ...Config) *Trie[V] {
	t, err := New[V](oneConfig(cfg))
	if err != nil {
		panic(err)
	}
	return t
}

// mustShared is NewShared for tests.
func mustShared[V any](cfg ...Config) *Shared[V] {
	s, err := NewShared[V](oneConfig(cfg))
	if err != nil {
		panic(err)
	}
	return s
}

// TestConfigZeroFieldsAreDefaults: each zero field of Config.Pool takes the
// trie's default (not the pool package's), a set field is kept, and a
// zero Config is exactly the default.
func TestConfigZeroFieldsAreDefaults(t *testing.T) {
	d := defaultPoolConfig()
	if got := (Config{}).poolConfig(); got != d {
		t.Fatalf("zero Config: pool %+v, want %+v", got, d)
	}
	got := Config{Pool: pool.Config{MaxBytes: 1 << 20}}.poolConfig()
	if got.Alignment != d.Alignment || got.MaxFastBlock != d.MaxFastBlock || got.ChunkSize != d.ChunkSize || got.MaxBytes != 1<<20 {
		t.Fatalf("MaxBytes only: %+v", got)
	}
	got = Config{Pool: pool.Config{ChunkSize: 4096}}.poolConfig()
	if got.ChunkSize != 4096 || got.MaxFastBlock != 4096 || got.Alignment != d.Alignment {
		t.Fatalf("small chunks: %+v (MaxFastBlock must fit a chunk)", got)
	}
	got = Config{Pool: pool.Config{FixedCapacity: 4 << 20}}.poolConfig()
	if got.ChunkSize != 0 {
		t.Fatalf("FixedCapacity: ChunkSize %d, want 0 (derived by the pool)", got.ChunkSize)
	}
	for _, cfg := range []Config{{}, {Pool: pool.Config{MaxBytes: 1 << 20}}, {Pool: pool.Config{ChunkSize: 4096}}, {Pool: pool.Config{FixedCapacity: 4 << 20}}} {
		tr, err := New[int](cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		if _, err := tr.Insert([]byte("k"), 1); err != nil {
			t.Fatal(err)
		}
		for _, l := range concurrentLevels {
			c, err := NewConcurrent[int](l, cfg)
			if err != nil {
				t.Fatalf("NewConcurrent(%v, %+v): %v", l, cfg, err)
			}
			if _, err := c.Insert([]byte("k"), 1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestConfigNoValues: NoValues makes a set in every form; a V of size zero
// is a set without it.
func TestConfigNoValues(t *testing.T) {
	tr := mustNew[int](Config{NoValues: true})
	mustInsert(t, tr, []byte("a"), 7)
	if v, ok := tr.Get([]byte("a")); !ok || v != 0 || tr.Stats().ValueBytes != 0 {
		t.Fatalf("NoValues: Get = %d, %v; %+v", v, ok, tr.Stats())
	}
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{NoValues: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert([]byte("a"), 7); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get([]byte("a")); !ok || v != 0 {
		t.Fatalf("concurrent NoValues: Get = %d, %v", v, ok)
	}
	if !noValues[struct{}](Config{}) || noValues[int](Config{}) {
		t.Fatal("noValues: a zero-size V is a set, an int is not")
	}
}
