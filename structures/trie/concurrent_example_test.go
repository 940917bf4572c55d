package trie_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// A one-writer trie: readers look keys up lock-free while the writer
// publishes a batch of writes at once.
func ExampleNewConcurrent() {
	t, err := trie.NewConcurrent[int](primitives.OneWriteMultiRead, trie.Config{})
	if err != nil {
		panic(err)
	}
	err = t.WithWriter(context.Background(), func(w *trie.Writer[int]) error {
		for i, k := range []string{"apple", "apricot", "banana"} {
			if _, err := w.Insert([]byte(k), i); err != nil {
				return err
			}
		}
		return nil // readers see the three keys from here on, all at once
	})
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		v, ok := t.Get([]byte("apricot"))
		fmt.Println("apricot", v, ok)
	})
	wg.Wait()
	for k, v := range t.Prefix([]byte("ap")) {
		fmt.Printf("%s=%d\n", k, v)
	}
	// Output:
	// apricot 1 true
	// apple=0
	// apricot=1
}

// A multi-writer trie: goroutines insert concurrently; each key is reported
// added exactly once.
func ExampleNewConcurrent_multiWriter() {
	t, err := trie.NewConcurrent[string](primitives.MultiWriteMultiRead, trie.Config{})
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				ok, err := t.Insert(fmt.Appendf(nil, "user/%03d", i), fmt.Sprint("writer ", g))
				if err != nil {
					panic(err)
				}
				if ok {
					mu.Lock()
					added++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	_, found, _ := t.Delete([]byte("user/042"))
	fmt.Println(added, t.Len(), found)
	// Output: 100 99 true
}

// The token-checked single-thread form reports misuse instead of allowing
// it.
func ExampleNewShared() {
	s, err := trie.NewShared[int](trie.Config{})
	if err != nil {
		panic(err)
	}
	w, _ := s.Writer()
	_, _ = s.Insert(w, []byte("k"), 7)
	_, err = s.Reader() // a writer token is out
	fmt.Println(err)
	w.Release()
	r, _ := s.Reader()
	v, ok, _ := s.Get(r, []byte("k"))
	r.Release()
	fmt.Println(v, ok)
	// Output:
	// primitives: busy: a writer token is out at SingleThreadShared
	// 7 true
}

// A snapshot is the trie as it was when taken: later writes do not change
// it, and taking it copies nothing. Close it when done.
func ExampleConcurrent_Snapshot() {
	t, err := trie.NewConcurrent[int](primitives.OneWriteMultiRead, trie.Config{})
	if err != nil {
		panic(err)
	}
	t.Insert([]byte("apple"), 1)
	t.Insert([]byte("banana"), 2)

	snap, err := t.Snapshot()
	if err != nil {
		panic(err)
	}
	defer snap.Close()

	t.Insert([]byte("apple"), 10) // the live trie moves on
	t.Delete([]byte("banana"))
	t.Insert([]byte("cherry"), 3)

	for k, v := range snap.All() {
		fmt.Println(string(k), v)
	}
	v, _ := t.Get([]byte("apple"))
	fmt.Println("live:", t.Len(), "keys, apple =", v)
	// Output:
	// apple 1
	// banana 2
	// live: 2 keys, apple = 10
}
