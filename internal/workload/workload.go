// Package workload generates the benchmark key sets shared by every
// comparison in this module (see DESIGN.md, "Benchmark workloads"):
// keys-seq, keys-shuf and paths. The sets are deterministic: the same
// arguments give the same keys on every machine, so results compare.
package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// KeysSeq returns n keys "key_%06d" in ascending order (key_000000 ...).
func KeysSeq(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key_%06d", i)
	}
	return keys
}

// KeysShuf returns the keys of KeysSeq(n) in a fixed pseudo-random order
// determined by seed.
func KeysShuf(n int, seed uint64) [][]byte {
	keys := KeysSeq(n)
	rng := rand.New(rand.NewPCG(seed, 0x9E3779B97F4A7C15))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}

var (
	topDirs = []string{"usr", "home", "var", "opt", "srv", "etc"}
	midDirs = []string{"lib", "share", "src", "include", "local", "cache", "log", "data", "projects", "build"}
	words   = []string{"alpha", "beta", "gamma", "delta", "core", "net", "http", "json", "crypto", "sync",
		"runtime", "trie", "pool", "mailbox", "worker", "shard", "index", "store", "query", "plan",
		"server", "client", "proto", "codec", "bench", "test", "util", "config", "parser", "lexer"}
	exts = []string{".go", ".rs", ".c", ".h", ".md", ".txt", ".json", ".yaml", ".o", ".so"}
)

// Paths returns n distinct file-system style keys with long shared prefixes
// ("usr/lib/crypto/sync/server_0042.go"), in a fixed pseudo-random order
// determined by seed. Depth varies from 3 to 7 components.
func Paths(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0xD1B54A32D192ED03))
	seen := make(map[string]struct{}, n)
	keys := make([][]byte, 0, n)
	var b strings.Builder
	for len(keys) < n {
		b.Reset()
		b.WriteString(topDirs[rng.IntN(len(topDirs))])
		b.WriteByte('/')
		b.WriteString(midDirs[rng.IntN(len(midDirs))])
		for range 1 + rng.IntN(4) {
			b.WriteByte('/')
			b.WriteString(words[rng.IntN(len(words))])
		}
		fmt.Fprintf(&b, "/%s_%04d%s", words[rng.IntN(len(words))], rng.IntN(10000), exts[rng.IntN(len(exts))])
		k := b.String()
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		keys = append(keys, []byte(k))
	}
	return keys
}

// Named returns the workload with the given name: "keys-seq", "keys-shuf"
// or "paths", with n keys. It panics on an unknown name.
func Named(name string, n int) [][]byte {
	switch name {
	case "keys-seq":
		return KeysSeq(n)
	case "keys-shuf":
		return KeysShuf(n, 1)
	case "paths":
		return Paths(n, 1)
	}
	panic("workload: unknown workload " + name)
}

// Names lists the workloads Named accepts.
var Names = []string{"keys-seq", "keys-shuf", "paths"}
