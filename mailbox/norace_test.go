//go:build !race

package mailbox_test

// scale divides iteration counts under the race detector.
const scale = 1
