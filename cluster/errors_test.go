package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestErrorPrefixOnce walks the sentinels, errors from real calls, and
// every sentinel after a trip between nodes (errCode, decodeErr): each
// names the package once, errors.Is still matches, and the message that
// arrives is the message that left.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{}
	for _, s := range codes[1:] {
		errs[s.Error()] = s
		wrapped := fmt.Errorf("%w (range 2): %w", s, context.DeadlineExceeded)
		back := decodeErr(errCode(wrapped))
		if !errors.Is(back, s) || back.Error() != wrapped.Error() {
			t.Errorf("%q came back as %q", wrapped, back)
		}
		errs["remote "+s.Error()] = back
	}
	foreign := errors.New("raft: something")
	back := decodeErr(errCode(foreign))
	if !errors.Is(back, ErrRemote) {
		t.Errorf("a foreign error came back as %v", back)
	}
	errs["remote foreign"] = back
	hub := NewInmemHub(2)
	_, err := Open(Config{ID: "x", Network: hub.Network("x"), Ranges: 2})
	errs["Open without router"] = err
	n, err := Open(Config{ID: "y", Network: hub.Network("y")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = n.Put(ctx, make([]byte, MaxKeyLen+1), nil)
	errs["Put long key"] = err
	_, err = n.Put(ctx, []byte("k"), nil)
	if !errors.Is(err, ErrNotMember) {
		t.Errorf("put on a node that is no member: %v", err)
	}
	errs["Put not member"] = err
	errs["WaitLeaders"] = n.WaitLeaders(ctx)
	errs["Join nowhere"] = n.Join(ctx, "nowhere")
	testutil.CheckErrors(t, errs)
}
