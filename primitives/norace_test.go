//go:build !race

package primitives_test

const scale = 1
