// Package cluster is a durable, replicated, ordered key-value index on Raft
// (github.com/hashicorp/raft, with raft-boltdb for the log): the key space
// is split into ranges by a shards.RangeRouter, each range is one Raft
// group replicated on every node, and each replica's state machine is a
// trie.Concurrent[string] in the OneWriteMultiRead form, written only by
// Raft's apply goroutine (a log batch is one publication) and read without
// locks by any goroutine.
//
// # Requests
//
// A write (Put, Delete, Batch) goes to its range's leader — a follower
// forwards it over the node's Network, the caller never needs to know who
// leads — and returns once the entry is committed on a majority of the
// range's voters (with a Dir, each of them has fsync'd it) and applied on
// the leader. A read is local and lock-free by default (Stale: the applied
// log index is reported) or linearizable on request (the leader confirms
// its leadership with a majority, then reads once it has applied the
// commit index; a follower forwards the read). A prefix scan walks the
// ranges in key order. A batch is atomic within a range, not across ranges
// (see Batch). Every wait is bounded by the caller's context; errors wrap
// the sentinels below (errors.Is).
//
// # Membership
//
// A new cluster starts with one node's Bootstrap; the others Join through
// any member (AddVoter on every range, run by each range's leader); Remove
// takes a node out of every range; a node restarted with its Dir catches
// up from its log and snapshots, then from the leader (log entries, or a
// snapshot when the leader has compacted them away). Leadership is spread
// over the nodes: range r prefers the (r mod voters)-th voter by ID, which
// asks the leader to transfer leadership to it once it is caught up.
//
// # Snapshots
//
// FSM.Snapshot returns at once with a point-in-time view of the trie and
// Persist streams it while writes go on; Restore loads a whole trie off to
// the side and swaps it in with one atomic store (fsmstate.go).
//
// Everything here is one mechanism: the sharded trie as the state machine
// of an existing consensus engine; nothing of Raft is reimplemented.
package cluster
