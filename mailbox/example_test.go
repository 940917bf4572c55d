package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zipora-go/zipora/mailbox"
)

// A worker loop: many producers, one consumer draining in batches until the
// mailbox is closed and empty.
func Example() {
	m := mailbox.New[int](mailbox.Config{})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				_ = m.Send(p*100 + i)
			}
		}()
	}
	go func() { wg.Wait(); m.Close() }()

	buf := make([]int, 16)
	sum, count := 0, 0
	for {
		n, err := m.ReceiveBatch(context.Background(), buf)
		if errors.Is(err, mailbox.ErrClosed) {
			break
		}
		for _, v := range buf[:n] {
			sum += v
			count++
		}
	}
	fmt.Println(count, sum)
	// Output: 100 16200
}

// A bounded mailbox pushes back: TrySend fails fast, Send and SendContext
// wait for room.
func ExampleNewBounded() {
	m, err := mailbox.NewBounded[string](2, mailbox.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.TrySend("a"), m.TrySend("b"))
	fmt.Println(m.TrySend("c"))
	v, _ := m.TryReceive()
	fmt.Println(v, m.TrySend("c"), m.Len())
	// Output:
	// <nil> <nil>
	// mailbox: full
	// a <nil> 2
}

// Wake interrupts a consumer waiting for messages, so that it can look at
// some other source of work.
func ExampleMailbox_Wake() {
	m := mailbox.New[int](mailbox.Config{})
	m.Wake() // e.g. from a timer or another subsystem
	n, err := m.ReceiveBatch(context.Background(), make([]int, 8))
	fmt.Println(n, err)
	// Output: 0 <nil>
}

// SendBatch publishes many items with one claim: all of them or, after
// Close, none.
func ExampleMailbox_SendBatch() {
	m := mailbox.New[int](mailbox.Config{})
	fmt.Println(m.SendBatch([]int{1, 2, 3}))
	m.Close()
	fmt.Println(m.SendBatch([]int{4, 5}))
	buf := make([]int, 8)
	n, _ := m.ReceiveBatch(context.Background(), buf)
	fmt.Println(buf[:n])
	// Output:
	// <nil>
	// mailbox: closed
	// [1 2 3]
}
