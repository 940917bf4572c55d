//go:build !race

package shards_test

const scale = 1
