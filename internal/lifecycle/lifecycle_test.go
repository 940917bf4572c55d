package lifecycle_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zipora-go/zipora/internal/lifecycle"
)

// TestSentinel: a sentinel has its own text and matches itself and the
// error it names, wrapped or not, and nothing else.
func TestSentinel(t *testing.T) {
	closed := lifecycle.NewSentinel("pkg: closed", lifecycle.ErrStopped)
	if closed.Error() != "pkg: closed" {
		t.Fatalf("text %q", closed.Error())
	}
	wrapped := fmt.Errorf("%w (load)", closed)
	for _, err := range []error{closed, wrapped} {
		if !errors.Is(err, closed) || !errors.Is(err, lifecycle.ErrStopped) {
			t.Errorf("%v: does not match itself and ErrStopped", err)
		}
		if errors.Is(err, lifecycle.ErrNoShard) || errors.Is(err, errors.New("pkg: closed")) {
			t.Errorf("%v: matches what it does not name", err)
		}
	}
	if errors.Is(lifecycle.ErrStopped, closed) {
		t.Error("ErrStopped matches the sentinel: the match is one way")
	}
	other := lifecycle.NewSentinel("pkg: closed", lifecycle.ErrStopped)
	if errors.Is(closed, other) {
		t.Error("two sentinels with the same text match each other")
	}
}
