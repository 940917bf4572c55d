package primitives_test

import (
	"context"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// TestNilContext: SynchronizeContext with a reader inside returns an error
// for a nil context (before: a nil-pointer panic), and ParkContext treats
// a nil context as one that never ends.
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	var d primitives.EpochDomain
	g := d.Enter()
	testutil.WantNilContext(t, "SynchronizeContext", d.SynchronizeContext(nilCtx), "primitives: ")
	g.Exit()
	var p primitives.GoParker
	p.Unpark()
	if !p.ParkContext(nilCtx) {
		t.Fatal("ParkContext(nil) with a pending notification returned false")
	}
}
