#!/bin/bash
# usage: trieab.sh ROUNDS bin... : BenchmarkTrie impl=trie insert keys-seq|keys-shuf, alternating binaries
R=$1; shift
for b in "$@"; do : > /tmp/p3/t.$(basename $b).txt; done
for r in $(seq 1 $R); do for b in "$@"; do
  $b -test.run '^$' -test.bench 'BenchmarkTrie$/impl=trie/workload=keys-(seq|shuf)/op=insert' -test.benchtime 1000000x -test.count 1 | grep -E '^Benchmark' >> /tmp/p3/t.$(basename $b).txt
done; echo "round $r $(uptime)"; done
