//go:build race || zipora_invariants

package mailbox

// checkInvariants enables the run-time checks of the single-consumer rule.
const checkInvariants = true
