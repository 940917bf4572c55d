package trie_test

import (
	"fmt"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// A Cursor steps through a Concurrent trie one key at a time; reused, it
// allocates nothing. Close a walk you stop early.
func ExampleCursor() {
	c, err := trie.NewConcurrent[int](primitives.OneWriteMultiRead, trie.Config{})
	if err != nil {
		panic(err)
	}
	for i, k := range []string{"apple", "apricot", "banana", "apex"} {
		if _, err := c.Insert([]byte(k), i); err != nil {
			panic(err)
		}
	}
	var cur trie.Cursor[int]
	cur.SeekPrefix(c, []byte("ap"))
	for k, v, ok := cur.Next(); ok; k, v, ok = cur.Next() {
		fmt.Println(string(k), v)
	}
	cur.SeekRange(c, []byte("b"), nil)
	k, _, _ := cur.Next()
	fmt.Println(string(k))
	cur.Close()
	// Output:
	// apex 3
	// apple 0
	// apricot 1
	// banana
}
