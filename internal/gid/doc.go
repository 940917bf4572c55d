// Package gid tells goroutines apart, for self-wait detection: Current
// returns a value that is the same for every call from one goroutine while
// it lives and differs between goroutines alive at the same time. On amd64
// and arm64 (gc) it is the address of the goroutine's runtime g, read with
// one load in assembly (Cheap); elsewhere the goroutine id parsed from a
// short traceback (about 1-2 µs: call it only on slow paths there).
//
// A value may be reused by a goroutine started after the one it named has
// ended: whoever records it must clear it before that goroutine can end
// (the runtime's workers clear theirs before they exit; the trie's writer
// role is cleared when it is given back).
//
// Rejected: the goroutine id parsed on every call (1.8 µs), the OS thread
// id (names only locked goroutines; a system call), a stack address
// (stacks move), pprof labels (inherited by child goroutines).
package gid
