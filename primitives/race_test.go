//go:build race

package primitives_test

// scale divides iteration counts under the race detector, which slows
// synchronization-heavy code by an order of magnitude.
const scale = 10
