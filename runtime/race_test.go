//go:build race

package runtime_test

// scale divides iteration counts under the race detector.
const scale = 20
