package trie

import (
	"fmt"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// BenchmarkCursorWalk: the fixed cost of one short walk of a Concurrent
// trie through a reused Cursor (SeekPrefix, the first key, Close) on a
// 1,000-key one-writer trie: what a walk pays besides its keys (the
// epoch guard and the long-reader record, creaders.go). One op is one
// walk.
//
//	go test -run '^$' -bench CursorWalk -count 6 ./structures/trie
func BenchmarkCursorWalk(b *testing.B) {
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := c.Insert(fmt.Appendf(nil, "k%04d", i), i); err != nil {
			b.Fatal(err)
		}
	}
	var cur Cursor[int]
	p := []byte("k05")
	b.ReportAllocs()
	for b.Loop() {
		cur.SeekPrefix(c, p)
		if _, _, ok := cur.Next(); !ok {
			b.Fatal("empty walk")
		}
		cur.Close()
	}
}
