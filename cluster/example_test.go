package cluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/shards"
)

// Three nodes in one process (over an InmemHub; ListenTCP for real
// networks), two ranges split at "m": the first node bootstraps, the others
// join it; a write through any node is committed on a majority; reads are
// stale (local) or linearizable.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hub := cluster.NewInmemHub(2)
	var nodes []*cluster.Node
	for i, id := range []string{"a", "b", "c"} {
		n, err := cluster.Open(cluster.Config{
			ID: id, Network: hub.Network(id), // Dir: "/var/lib/index/" + id to keep the data
			Ranges: 2, Router: shards.NewRangeRouter([]byte("m")),
			HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer n.Close()
		if i == 0 {
			err = n.Bootstrap(ctx)
		} else {
			err = n.Join(ctx, "a")
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		nodes = append(nodes, n)
	}
	for _, k := range []string{"apple", "melon", "mango", "zucchini"} {
		if _, err := nodes[2].Put(ctx, []byte(k), []byte("fruit")); err != nil {
			fmt.Println(err)
			return
		}
	}
	r, err := nodes[1].Get(ctx, []byte("melon"), cluster.Linearizable)
	fmt.Println(r.Value, r.Found, r.Range, err)
	kvs, more, err := nodes[0].Scan(ctx, []byte("m"), nil, 10, cluster.Linearizable)
	for _, kv := range kvs {
		fmt.Println(string(kv.Key))
	}
	fmt.Println(more, err)
	// Output:
	// fruit true 1 <nil>
	// mango
	// melon
	// false <nil>
}
