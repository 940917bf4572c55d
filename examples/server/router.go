package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// routerSample is the number of keys the range router's boundaries are
// taken from.
const routerSample = 4096

// chooseRouter returns the sharded backend's key router for -router:
// "hash" (shards.HashRouter), "range" (shards.NewSampleRouter over a
// uniform sample of the -keys file), or "auto": range routing when -keys
// names a file to sample, hash routing otherwise (stdin is read once, and
// without keys there is nothing to sample). Range routing sends a prefix
// query (/complete) to one shard, or two at a boundary, instead of seeking
// every shard and merging; hash routing spreads any write pattern evenly.
// See docs/bench/shards.md, "Routing".
func chooseRouter(o options, logger *slog.Logger) (shards.Router, error) {
	file := o.keys != "" && o.keys != "-"
	switch {
	case o.router == "hash" || (o.router == "auto" && !file):
		logger.Info("routing: hash")
		return &shards.HashRouter{}, nil
	case !file:
		return nil, exampleutil.Usagef("-router range needs -keys naming a file to sample")
	}
	sample, lines, err := sampleKeys(o.keys, routerSample)
	if err != nil {
		return nil, err
	}
	if len(sample) == 0 {
		logger.Info("routing: hash (no keys to sample)", "file", o.keys)
		return &shards.HashRouter{}, nil
	}
	logger.Info("routing: range, boundaries from a sample", "file", o.keys, "sampled", len(sample), "lines", lines)
	return shards.NewSampleRouter(sample), nil
}

// sampleKeys returns up to n non-empty lines of the file, drawn uniformly
// (reservoir sampling with a fixed seed: the same file gives the same
// boundaries), and the number of lines read.
func sampleKeys(name string, n int) ([][]byte, int, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	var sample [][]byte
	seen, lines := 0, 0
	err = exampleutil.ReadLines(f, trie.MaxKeyLen, func(line []byte, i int) error {
		lines = i
		if len(line) == 0 {
			return nil
		}
		seen++
		if len(sample) < n {
			sample = append(sample, bytes.Clone(line))
		} else if j := rng.IntN(seen); j < n {
			sample[j] = append(sample[j][:0], line...)
		}
		return nil
	})
	if err != nil {
		return nil, lines, fmt.Errorf("%s: %w", name, err)
	}
	return sample, lines, nil
}
