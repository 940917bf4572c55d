package trie_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/zipora-go/zipora/structures/pool"
	"github.com/zipora-go/zipora/structures/trie"
)

func Example() {
	t, err := trie.New[int](trie.Config{})
	if err != nil {
		panic(err)
	}
	for i, k := range []string{"apple", "app", "banana", "application", "band"} {
		if _, err := t.Insert([]byte(k), i); err != nil {
			panic(err)
		}
	}
	v, ok := t.Get([]byte("app"))
	fmt.Println(v, ok, t.Len())
	// Keys come in ascending order; the key slice is reused between steps.
	for k, v := range t.Prefix([]byte("app")) {
		fmt.Printf("%s=%d ", k, v)
	}
	fmt.Println()
	// Output:
	// 1 true 5
	// app=1 apple=0 application=3
}

func ExampleTrie_Range() {
	t, err := trie.New[struct{}](trie.Config{}) // a set: no value storage
	if err != nil {
		panic(err)
	}
	for _, k := range []string{"2024-01-05", "2024-02-11", "2024-02-28", "2024-03-01"} {
		t.Insert([]byte(k), struct{}{})
	}
	for k := range t.Range([]byte("2024-02"), []byte("2024-03")) {
		fmt.Println(string(k))
	}
	// Output:
	// 2024-02-11
	// 2024-02-28
}

func ExampleTrie_All_delete() {
	t, err := trie.New[int](trie.Config{})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		t.Insert(fmt.Appendf(nil, "k%d", i), i)
	}
	// The loop body may modify the trie: iteration resumes after the last
	// key it yielded.
	for k, v := range t.All() {
		if v%2 == 1 {
			t.Delete(k)
		}
	}
	var kept [][]byte
	for k := range t.All() {
		kept = append(kept, bytes.Clone(k)) // clone: k is a reused buffer
	}
	fmt.Printf("%s\n", kept)
	// Output:
	// [k0 k2 k4]
}

func ExampleTrie_Freeze() {
	t, err := trie.New[string](trie.Config{})
	if err != nil {
		panic(err)
	}
	t.Insert([]byte("/etc/hosts"), "hosts")
	t.Insert([]byte("/etc/passwd"), "passwd")
	f := t.Freeze() // read-only; safe for concurrent readers
	t.Delete([]byte("/etc/hosts"))
	v, ok := f.Get([]byte("/etc/hosts"))
	fmt.Println(v, ok, f.Len(), t.Len())
	// Output:
	// hosts true 2 1
}

// A Config is a plain value; each zero field means that field's default.
// Here: a set (no values stored) whose node memory is capped at 1 MiB, the
// other pool knobs left to the trie's defaults. An invalid configuration
// is an error, never a panic.
func ExampleConfig() {
	t, err := trie.New[int](trie.Config{NoValues: true, Pool: pool.Config{MaxBytes: 1 << 20}})
	if err != nil {
		panic(err)
	}
	t.Insert([]byte("k"), 42)
	v, ok := t.Get([]byte("k"))
	fmt.Println(v, ok)

	_, err = trie.New[int](trie.Config{Pool: pool.Config{Alignment: 3}})
	fmt.Println(errors.Is(err, pool.ErrInvalidConfig))
	// Output:
	// 0 true
	// true
}
