//go:build race

package shards_test

// scale divides iteration counts under the race detector.
const scale = 4
