package primitives_test

import (
	"context"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestGoParkerContext: ParkContext returns false when its context ends,
// true for a pending or a later notification.
func TestGoParkerContext(t *testing.T) {
	var p primitives.GoParker
	ctx, cancel := context.WithCancel(context.Background())
	p.Unpark()
	cancel()
	if !p.ParkContext(ctx) {
		t.Fatal("a pending notification lost to a done context")
	}
	if p.ParkContext(ctx) {
		t.Fatal("ParkContext on a done context without a notification returned true")
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done := make(chan bool)
	go func() { done <- p.ParkContext(ctx) }()
	p.Unpark()
	if !<-done {
		t.Fatal("ParkContext missed an Unpark")
	}
	go func() { done <- p.ParkContext(ctx) }()
	cancel()
	if <-done {
		t.Fatal("ParkContext after cancel returned true without an Unpark")
	}
}

// TestGoParkerHandoffs: a token passed back and forth between two
// goroutines through two GoParkers.
func TestGoParkerHandoffs(t *testing.T) {
	testHandoffs(t, new(primitives.GoParker), new(primitives.GoParker))
}

// TestGoParkerManyUnparkers: producers publish and Unpark; the consumer
// must see every item.
func TestGoParkerManyUnparkers(t *testing.T) {
	testManyUnparkers(t, func() parker { return new(primitives.GoParker) })
}

// TestGoParkerAllocs: Park and Unpark on a pending notification, and
// ParkContext with a cancellable context, do not allocate.
func TestGoParkerAllocs(t *testing.T) {
	var p primitives.GoParker
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if n := testing.AllocsPerRun(100, func() {
		p.Unpark()
		p.Park(0)
		p.Unpark()
		p.ParkContext(ctx)
	}); n != 0 {
		t.Fatalf("%v allocations per Unpark/Park", n)
	}
}
