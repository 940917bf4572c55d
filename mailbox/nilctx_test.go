package mailbox_test

import (
	"context"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/mailbox"
)

// TestNilContext: every call that may wait returns an error for a nil
// context (before: a nil-pointer panic at the first wait), and nothing is
// sent or taken.
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	m := mailbox.New[int](mailbox.Config{})
	b, err := mailbox.NewBounded[int](1, mailbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send(1); err != nil { // full: a SendContext would wait
		t.Fatal(err)
	}
	_, err = m.Receive(nilCtx)
	testutil.WantNilContext(t, "Receive", err, "mailbox: ")
	_, err = m.ReceiveBatch(nilCtx, make([]int, 4))
	testutil.WantNilContext(t, "ReceiveBatch", err, "mailbox: ")
	testutil.WantNilContext(t, "SendContext", b.SendContext(nilCtx, 2), "mailbox: ")
	testutil.WantNilContext(t, "SendBatchContext", b.SendBatchContext(nilCtx, []int{2}), "mailbox: ")
	testutil.WantNilContext(t, "SendContext (unbounded)", m.SendContext(nilCtx, 2), "mailbox: ")
	if m.Len() != 0 || b.Len() != 1 {
		t.Fatalf("lengths %d, %d after refused calls, want 0, 1", m.Len(), b.Len())
	}
}
