package trie

// debugEveryStep checks invariants and iteration after every model step.
const debugEveryStep = false
