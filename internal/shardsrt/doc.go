// Package shardsrt holds no code, only the tests of the shards package's
// structures registered with a runtime: tasks on the workers writing every
// shard, bounded mailboxes, Stop racing writes and remote frees, a failed
// Start, and the errors a registered structure returns. The shards
// package's own tests run without a runtime (shards does not import it),
// so that their leak check can be exact: linking the runtime links the
// ants pool, whose package initialization starts goroutines that never
// exit.
package shardsrt
