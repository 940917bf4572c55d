package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/internal/testutil"
)

type linIn struct {
	op  byte // 'p'ut, 'd'elete, 'g'et
	key string
	val string
}

type linOut struct {
	found bool
	val   string
}

type linState struct {
	present bool
	val     string
}

// linModel: one register per key that may be absent.
var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linIn).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(linState), input.(linIn)
		switch in.op {
		case 'p':
			return true, linState{present: true, val: in.val}
		case 'd':
			return true, linState{}
		}
		out := output.(linOut)
		return out.found == s.present && (!out.found || out.val == s.val), s
	},
	Equal: func(a, b any) bool { return a.(linState) == b.(linState) },
	DescribeOperation: func(input, output any) string {
		in := input.(linIn)
		if in.op == 'g' {
			o := output.(linOut)
			return fmt.Sprintf("get(%s) -> %v %q", in.key, o.found, o.val)
		}
		return fmt.Sprintf("%c(%s, %q)", in.op, in.key, in.val)
	},
}

// TestLinearizable records concurrent puts, deletes and linearizable gets
// of a few keys (one per range) from clients on all three nodes, while the
// leader of one range is cut off and healed, and checks the history with
// porcupine. A write that failed with ErrOutcomeUnknown may have happened
// at any time after its call (its return is left open); one that failed
// with ErrNoLeader did not happen and is left out, as are failed gets.
func TestLinearizable(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	keys := []string{"b-lin", "j-lin", "r-lin"}
	nodes := []*cluster.Node{c.nodes["n1"], c.nodes["n2"], c.nodes["n3"]}
	const clients = 6
	start := time.Now()
	var (
		mu     sync.Mutex
		hist   []porcupine.Operation
		stop   atomic.Bool
		wg     sync.WaitGroup
		served atomic.Int64
	)
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), 21))
			nd := nodes[cl%len(nodes)]
			for i := 0; !stop.Load(); i++ {
				in := linIn{key: keys[rng.IntN(len(keys))]}
				switch x := rng.IntN(10); {
				case x < 4:
					in.op, in.val = 'p', fmt.Sprintf("c%d-%d", cl, i)
				case x < 5:
					in.op = 'd'
				default:
					in.op = 'g'
				}
				ctx, cancel := context.WithTimeout(context.Background(), 6*hb)
				call := time.Since(start).Nanoseconds()
				var out linOut
				var err error
				switch in.op {
				case 'p':
					_, err = nd.Put(ctx, []byte(in.key), []byte(in.val))
				case 'd':
					_, err = nd.Delete(ctx, []byte(in.key))
				case 'g':
					var r cluster.Read
					r, err = nd.Get(ctx, []byte(in.key), cluster.Linearizable)
					out = linOut{found: r.Found, val: r.Value}
				}
				ret := time.Since(start).Nanoseconds()
				cancel()
				switch {
				case err == nil:
					served.Add(1)
				case in.op != 'g' && errors.Is(err, cluster.ErrOutcomeUnknown):
					ret = math.MaxInt64 // may take effect any time after the call
				case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrOutcomeUnknown),
					errors.Is(err, context.DeadlineExceeded):
					continue // did not happen (or a get that was not served)
				default:
					t.Errorf("%c %s: %v", in.op, in.key, err)
					return
				}
				mu.Lock()
				hist = append(hist, porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	waitServed := func(n int64) {
		testutil.Eventually(t, fmt.Sprint(n, " operations served"), settle, func() bool { return served.Load() >= n })
	}
	waitServed(150)
	lone := c.leader(1)
	c.hub.Isolate(lone)
	waitServed(served.Load() + 150)
	c.hub.Heal()
	waitServed(served.Load() + 150)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d operations recorded, %d served", len(hist), served.Load())
	switch res := porcupine.CheckOperationsTimeout(linModel, hist, 20*time.Second); res {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Fatal("history is not linearizable")
	default:
		t.Fatalf("porcupine: %v (check timed out)", res)
	}
}

// TestLinModelRejects: the model catches a stale read (so TestLinearizable
// can fail).
func TestLinModelRejects(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: linIn{op: 'p', key: "k", val: "1"}, Call: 0, Return: 10},
		{ClientId: 1, Input: linIn{op: 'p', key: "k", val: "2"}, Call: 20, Return: 30},
		{ClientId: 2, Input: linIn{op: 'g', key: "k"}, Output: linOut{found: true, val: "1"}, Call: 40, Return: 50},
	}
	if porcupine.CheckOperations(linModel, h) {
		t.Fatal("a read of an overwritten value passed")
	}
	h[2].Output = linOut{found: true, val: "2"}
	if !porcupine.CheckOperations(linModel, h) {
		t.Fatal("a correct history failed")
	}
}
