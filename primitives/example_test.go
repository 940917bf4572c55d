package primitives_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/zipora-go/zipora/primitives"
)

// A consumer parks until a producer publishes; the Unpark that comes before
// the Park is not lost.
func ExampleParker() {
	var p primitives.Parker
	var msg atomic.Pointer[string]
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg.Load() == nil {
			p.Park(0)
		}
		fmt.Println("got:", *msg.Load())
	}()
	s := "hello"
	msg.Store(&s)
	p.Unpark()
	<-done
	// Output: got: hello
}

// A writer replaces a published value and retires the old one; the old
// value is handed back only after the reader that could still see it has
// released its token.
func ExampleRetireList() {
	m, _ := primitives.NewTokenManager(primitives.OneWriteMultiRead)
	var cur atomic.Pointer[string]
	v1 := "v1"
	cur.Store(&v1)
	var retired primitives.RetireList[*string]

	r, _ := m.Reader() // pins version 1 and may look at v1
	_ = m.WithWriter(context.Background(), func(w *primitives.WriterToken) error {
		v2 := "v2"
		old := cur.Swap(&v2)
		retired.Retire(w.Version(), old)
		w.Publish()
		return nil
	})
	free := func(s *string) { fmt.Println("reclaimed", *s) }
	fmt.Println("while reading:", retired.Reclaim(m, free))
	r.Release()
	fmt.Println("after release:", retired.Reclaim(m, free))
	// Output:
	// while reading: 0
	// reclaimed v1
	// after release: 1
}

func ExampleStoreMax() {
	var hi atomic.Int64
	for _, v := range []int64{3, 9, 4} {
		primitives.StoreMax(&hi, v)
	}
	fmt.Println(hi.Load())
	// Output: 9
}
