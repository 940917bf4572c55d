package trie

import (
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
func linHistory(t *testing.T, c *Concurrent[int], seed uint64, clients, ops int) []porcupine.Operation {
	keys := []string{"", "a", "ab", "b\x00"}
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
				switch in.op {
				case linInsert:
					out.ok, err = c.Insert([]byte(in.key), in.val)
				case linDelete:
					out.val, out.ok, err = c.Delete([]byte(in.key))
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

func TestLinearizability(t *testing.T) {
	seeds, ops := 100, 300
	if raceEnabled || testing.Short() {
		seeds, ops = 30, 120
	}
	clients := max(4, runtime.GOMAXPROCS(0)+2)
	for _, l := range concurrentLevels {
		t.Run(l.String(), func(t *testing.T) {
			for seed := range uint64(seeds) {
				c := newC[int](t, l)
				h := linHistory(t, c, seed, clients, ops)
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
