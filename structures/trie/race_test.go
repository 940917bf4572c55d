//go:build race

package trie

// raceEnabled scales iteration counts down under the race detector.
const raceEnabled = true
