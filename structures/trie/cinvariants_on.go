//go:build zipora_invariants || race

package trie

// poisonCheck is true in the invariants build (tag zipora_invariants, and
// every -race build): reclaimed nodes of the concurrent forms are poisoned
// and readers check every node they visit.
const poisonCheck = true
