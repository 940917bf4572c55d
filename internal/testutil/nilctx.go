package testutil

import (
	"strings"
	"testing"
)

// WantNilContext fails t unless err is the nil-context error of the
// package whose error prefix is prefix ("mailbox: ").
func WantNilContext(t testing.TB, what string, err error, prefix string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "nil context") {
		t.Errorf("%s with a nil context: %v, want the %snil context error", what, err, prefix)
	}
}
