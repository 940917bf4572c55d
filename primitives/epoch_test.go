package primitives_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestEpochReclamationNeverFreesVisible mirrors the token test for the
// epoch domain: readers inside Enter/Exit never see a reclaimed object, and
// every retired object is reclaimed exactly once by the end.
func TestEpochReclamationNeverFreesVisible(t *testing.T) {
	for _, readers := range goroutineCounts() {
		var d primitives.EpochDomain
		var cur atomic.Pointer[object]
		cur.Store(&object{})
		var list primitives.RetireList[*object]
		var stop atomic.Bool
		var wg sync.WaitGroup
		var reads atomic.Int64
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					g := d.Enter()
					o := cur.Load()
					for range 8 {
						if o.freed.Load() {
							t.Errorf("reader in epoch %d saw reclaimed object %d", g.Epoch(), o.id)
						}
					}
					g.Exit()
					reads.Add(1)
				}
			}()
		}
		updates := 20_000 / scale
		rec := newReclaimer(t)
		free := rec.free
		advanced := 0
		for i := 1; i <= updates; i++ {
			old := cur.Swap(&object{id: int64(i)})
			list.Retire(d.Epoch(), old)
			if d.TryAdvance() {
				advanced++
			}
			if i%32 == 0 {
				list.ReclaimBelow(d.SafeBelow(), free)
			}
		}
		stop.Store(true)
		wg.Wait()
		d.Synchronize()
		list.ReclaimBelow(d.SafeBelow(), free)
		if rec.freed != updates || list.Len() != 0 {
			t.Fatalf("readers=%d: reclaimed %d of %d, %d left", readers, rec.freed, updates, list.Len())
		}
		t.Logf("readers=%d: %d reads, epoch advanced %d times", readers, reads.Load(), advanced)
	}
}

func TestEpochAdvanceWaitsForReaders(t *testing.T) {
	var d primitives.EpochDomain
	g := d.Enter() // a reader in epoch 0
	if !d.TryAdvance() || d.Epoch() != 1 {
		t.Fatal("first advance blocked by a reader of the current epoch")
	}
	if d.TryAdvance() {
		t.Fatal("advanced past an epoch with a reader inside")
	}
	if d.SafeBelow() != 0 {
		t.Fatalf("SafeBelow = %d with a reader of epoch 0", d.SafeBelow())
	}
	g.Exit()
	if !d.TryAdvance() || d.SafeBelow() != 1 {
		t.Fatalf("epoch %d after the reader left", d.Epoch())
	}
	d.Synchronize()
	if d.Epoch() != 4 {
		t.Fatalf("Synchronize left epoch %d, want 4", d.Epoch())
	}
}
