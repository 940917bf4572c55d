// Package inlinecheck instantiates the concurrent trie's per-key write
// paths so that TestOneWriterFastPathsInline can read the compiler's
// inlining decisions for them (go build -gcflags=-m compiles generic
// methods where they are instantiated). It is not for use.
package inlinecheck

import (
	"github.com/zipora-go/zipora/structures/trie"
)

// Insert calls the one-writer trie's per-key insert.
func Insert(c *trie.Concurrent[uint64], k []byte) (bool, error) { return c.Insert(k, 1) }

// InsertNow calls the writer's in-place insert.
func InsertNow(w *trie.Writer[uint64], k []byte) (bool, error) { return w.InsertNow(k, 1) }

// Get calls the concurrent trie's lookup (its reader-side flag, readerIn,
// must inline).
func Get(c *trie.Concurrent[uint64], k []byte) (uint64, bool) { return c.Get(k) }
