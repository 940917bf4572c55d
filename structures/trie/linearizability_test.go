package trie

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability: random concurrent histories of Insert, Delete and Get
// over a small key space, checked against a sequential map model with
// porcupine (partitioned by key: operations on different keys commute).

const (
	linInsert = iota
	linDelete
	linGet
)

type linIn struct {
	op  int
	key string
	val int
}

type linOut struct {
	ok  bool // Insert: added; Delete: found; Get: found
	val int  // Delete: old value; Get: value
}

type linState struct {
	present bool
	val     int
}

var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range h {
			k := o.Input.(linIn).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], o)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(linState), input.(linIn), output.(linOut)
		switch in.op {
		case linInsert:
			return out.ok == !s.present, linState{true, in.val}
		case linDelete:
			return out.ok == s.present && (!out.ok || out.val == s.val), linState{}
		default:
			return out.ok == s.present && (!out.ok || out.val == s.val), s
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linIn), output.(linOut)
		return fmt.Sprintf("%s(%q, %d) -> %v, %d", [...]string{"insert", "delete", "get"}[in.op], in.key, in.val, out.ok, out.val)
	},
}

// linHistory runs clients goroutines of ops random operations each on c and
// returns the history, with call and return times from one logical clock
// (a total order that respects real time).
func linHistory(t *testing.T, c *Concurrent[int], keys []string, seed uint64, clients, ops int) []porcupine.Operation {
	var clock atomic.Int64
	hist := make([][]porcupine.Operation, clients)
	var start sync.WaitGroup
	start.Add(1)
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(cl)))
			start.Wait()
			for i := range ops {
				in := linIn{op: r.IntN(3), key: keys[r.IntN(len(keys))], val: cl<<20 | i}
				if r.IntN(4) == 0 {
					runtime.Gosched() // provoke interleavings
				}
				call := clock.Add(1)
				var out linOut
				var err error
				via := r.IntN(4) // the API path of a write
				switch in.op {
				case linInsert:
					out.ok, err = linWrite(c, via, func(w *Writer[int], now bool) (bool, error) {
						if now {
							return w.InsertNow([]byte(in.key), in.val)
						}
						return w.Insert([]byte(in.key), in.val)
					}, func() (bool, error) { return c.Insert([]byte(in.key), in.val) })
				case linDelete:
					out.ok, err = linWrite(c, via, func(w *Writer[int], now bool) (bool, error) {
						var found bool
						var err error
						if now {
							out.val, found, err = w.DeleteNow([]byte(in.key))
						} else {
							out.val, found, err = w.Delete([]byte(in.key))
						}
						return found, err
					}, func() (bool, error) {
						var found bool
						var err error
						out.val, found, err = c.Delete([]byte(in.key))
						return found, err
					})
				default:
					out.val, out.ok = c.Get([]byte(in.key))
				}
				ret := clock.Add(1)
				if err != nil {
					t.Error(err)
					return
				}
				hist[cl] = append(hist[cl], porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: out, Return: ret})
			}
		})
	}
	start.Done()
	wg.Wait()
	var all []porcupine.Operation
	for _, h := range hist {
		all = append(all, h...)
	}
	return all
}

// linWrite runs one write through the API path via: 0, 1 the plain method
// (direct); 2 a LockWriter session with the in-place method (InsertNow,
// DeleteNow); 3 a WithWriter batch of that one write (copy-on-write at
// OneWriteMultiRead, published when the batch ends).
func linWrite(c *Concurrent[int], via int, session func(w *Writer[int], now bool) (bool, error), direct func() (bool, error)) (bool, error) {
	switch via {
	case 2:
		w, err := c.LockWriter(context.Background())
		if err != nil {
			return false, err
		}
		defer w.Unlock()
		return session(w, true)
	case 3:
		var ok bool
		err := c.WithWriter(context.Background(), func(w *Writer[int]) error {
			var err error
			ok, err = session(w, false)
			return err
		})
		return ok, err
	default:
		return direct()
	}
}

// linKeySets are the histories' key spaces: a few keys that are prefixes
// of each other (splits, merges, values at inner nodes), keys sharing one
// sparse node (appends past the count, middle inserts, removals), and keys
// under a prefilled dense node.
var linKeySets = []struct {
	name    string
	keys    []string
	prefill func(i int) string
	n       int
}{
	{name: "prefixes", keys: []string{"", "a", "ab", "b\x00"}},
	{name: "sparse", keys: []string{"k", "k0", "k5", "k9", "k55", "k5x", "k\xff"}},
	{name: "dense", keys: []string{"d", "d\x01", "d\x80", "d\x80z", "d\xff"}, prefill: func(i int) string { return "d" + string(rune('A'+i)) }, n: 50},
}

func TestLinearizability(t *testing.T) {
	seeds, ops := 100, 300
	if raceEnabled || testing.Short() {
		seeds, ops = 30, 120
	}
	clients := max(4, runtime.GOMAXPROCS(0)+2)
	for _, l := range concurrentLevels {
		for _, ks := range linKeySets {
			t.Run(l.String()+"/"+ks.name, func(t *testing.T) {
				for seed := range uint64(seeds) {
					c := newC[int](t, l)
					for i := range ks.n {
						if _, err := c.Insert([]byte(ks.prefill(i)), -1); err != nil {
							t.Fatal(err)
						}
					}
					h := linHistory(t, c, ks.keys, seed, clients, ops)
					res := porcupine.CheckOperationsTimeout(linModel, h, 20*time.Second)
					if res == porcupine.Illegal {
						t.Fatalf("seed %d: history of %d operations is not linearizable", seed, len(h))
					}
					if res != porcupine.Ok {
						t.Fatalf("seed %d: porcupine gave no answer (%v)", seed, res)
					}
					mustCheck(t, c)
				}
			})
		}
	}
}

// TestLinearizabilityDetectsBrokenHistory guards the checker itself: a
// history in which a Get misses a completed Insert is rejected.
func TestLinearizabilityDetectsBrokenHistory(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: linIn{linInsert, "k", 1}, Call: 1, Output: linOut{ok: true}, Return: 2},
		{ClientId: 1, Input: linIn{linGet, "k", 0}, Call: 3, Output: linOut{ok: false}, Return: 4},
	}
	if porcupine.CheckOperations(linModel, h) {
		t.Fatal("porcupine model accepted a stale read")
	}
}
