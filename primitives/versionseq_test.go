package primitives_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestVersionSeqNoTornReads: a writer stores i into four words; readers that
// are not told to retry must see four equal words.
func TestVersionSeqNoTornReads(t *testing.T) {
	for _, readers := range goroutineCounts() {
		var seq primitives.VersionSeq
		var words [4]atomic.Uint64
		writes := uint64(200_000 / scale)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var consistent, retried atomic.Int64
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var last uint64
				for !stop.Load() {
					s := seq.ReadBegin()
					var v [4]uint64
					for i := range words {
						v[i] = words[i].Load()
					}
					if seq.ReadRetry(s) {
						retried.Add(1)
						continue
					}
					if v[0] != v[1] || v[1] != v[2] || v[2] != v[3] {
						t.Errorf("torn read %v at sequence %d", v, s)
						return
					}
					if v[0] < last {
						t.Errorf("value went back from %d to %d", last, v[0])
						return
					}
					last = v[0]
					consistent.Add(1)
				}
			}()
		}
		for i := uint64(1); i <= writes; i++ {
			seq.WriteBegin()
			for j := range words {
				words[j].Store(i)
			}
			seq.WriteEnd()
		}
		stop.Store(true)
		wg.Wait()
		if got := seq.Sequence(); got != 2*writes {
			t.Fatalf("sequence %d after %d writes", got, writes)
		}
		t.Logf("readers=%d: %d consistent reads, %d retries", readers, consistent.Load(), retried.Load())
	}
}

func TestVersionSeqWriterExclusion(t *testing.T) {
	var seq primitives.VersionSeq
	if !seq.TryWriteBegin() {
		t.Fatal("TryWriteBegin on an idle sequence failed")
	}
	if seq.TryWriteBegin() {
		t.Fatal("second TryWriteBegin succeeded")
	}
	mustPanic(t, "primitives:", func() { seq.WriteBegin() })
	if got := seq.Sequence(); got != 1 {
		t.Fatalf("a refused WriteBegin moved the sequence to %d", got)
	}
	seq.WriteEnd()
	if got := seq.Sequence(); got != 2 {
		t.Fatalf("sequence %d after one write, want 2", got)
	}
}

func TestVersionSeqWriteEndWithoutBegin(t *testing.T) {
	var seq primitives.VersionSeq
	mustPanic(t, "primitives:", func() { seq.WriteEnd() })
}
