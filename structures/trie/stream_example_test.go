package trie_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

func ExampleSave() {
	t, err := trie.New[string](trie.Config{})
	if err != nil {
		panic(err)
	}
	for _, k := range []string{"apple", "app", "banana"} {
		if _, err := t.Insert([]byte(k), "fruit:"+k); err != nil {
			panic(err)
		}
	}
	var buf bytes.Buffer // a file, in real use (see examples/server for an atomic save)
	n, err := trie.Save(&buf, t.All(), trie.StringCodec())
	fmt.Println(n == int64(buf.Len()), err)

	// Any ascending sequence saves: here only the keys under "app".
	buf.Reset()
	_, err = trie.Save(&buf, t.Prefix([]byte("app")), trie.StringCodec())
	fmt.Println(err)
	// Output:
	// true <nil>
	// <nil>
}

func ExampleLoad() {
	src, err := trie.New[uint64](trie.Config{})
	if err != nil {
		panic(err)
	}
	for i, k := range []string{"a", "ab", "b"} {
		src.Insert([]byte(k), uint64(i))
	}
	var buf bytes.Buffer
	if _, err := trie.Save(&buf, src.All(), trie.Uint64Codec()); err != nil {
		panic(err)
	}
	data := buf.Bytes()

	t, err := trie.Load(bytes.NewReader(data), trie.Uint64Codec(), trie.Config{})
	fmt.Println(t.Len(), err)
	v, ok := t.Get([]byte("ab"))
	fmt.Println(v, ok)

	// The same stream as a concurrent trie.
	c, err := trie.LoadConcurrent(bytes.NewReader(data), primitives.OneWriteMultiRead, trie.Uint64Codec(), trie.Config{})
	fmt.Println(c.Len(), err)

	// A damaged stream is an error, never a partial trie.
	data[len(data)-20] ^= 1
	t, err = trie.Load(bytes.NewReader(data), trie.Uint64Codec(), trie.Config{})
	fmt.Println(t == nil, errors.Is(err, trie.ErrCorrupt))
	// Output:
	// 3 <nil>
	// 1 true
	// 3 <nil>
	// true true
}

func ExampleBuilder() {
	b, err := trie.NewBuilder[int](trie.Config{})
	if err != nil {
		panic(err)
	}
	for i, k := range []string{"a", "b", "c"} { // ascending, as from a sorted file or query
		if err := b.Add([]byte(k), i); err != nil {
			panic(err)
		}
	}
	err = b.Add([]byte("b"), 9)
	fmt.Println(errors.Is(err, trie.ErrUnsorted))
	t, err := b.Trie()
	fmt.Println(t.Len(), err)
	// Output:
	// true
	// 3 <nil>
}
