package netcap

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCap hammers one Cap from 1, GOMAXPROCS and 64 goroutines that admit
// and close (some twice): never more than max admitted at once, every
// admitted connection closed exactly once in the count, 0 open at the end.
func TestCap(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 64} {
		const max = 3
		p := New(max)
		var live, peak, admitted atomic.Int64 // live: admitted, not yet closed
		var wg sync.WaitGroup
		for range g {
			wg.Go(func() {
				for range 2000 {
					a, b := net.Pipe()
					c, ok := p.Admit(a)
					if !ok {
						a.Close()
						b.Close()
						continue
					}
					admitted.Add(1)
					if n := live.Add(1); n > peak.Load() {
						peak.Store(n) // a lower peak may win a race: never a false failure
					}
					live.Add(-1)
					c.Close()
					c.Close() // a second Close gives nothing back twice
					b.Close()
				}
			})
		}
		wg.Wait()
		if p.Open() != 0 || peak.Load() > max || admitted.Load() == 0 {
			t.Fatalf("%d goroutines: open %d at the end, peak %d (max %d), %d admitted", g, p.Open(), peak.Load(), max, admitted.Load())
		}
	}
}
