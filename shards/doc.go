// Package shards joins the runtime and the structures: key routing (hash
// and ordered range routers) and, built on them, the sharded structures
// registered with a runtime — one shard per worker, writes routed to the
// owning worker through its mailbox, reads lock-free.
package shards
