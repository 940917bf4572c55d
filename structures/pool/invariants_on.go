//go:build zipora_invariants || race

package pool

// invariants is true in the invariants build (tag zipora_invariants, and
// every -race build): live small blocks are tracked, every Free is checked.
const invariants = true
