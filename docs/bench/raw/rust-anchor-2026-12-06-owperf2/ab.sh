#!/bin/bash
# ab.sh OUT ROUNDS BIN... : alternate the one-writer benchmark over binaries
out=$1; n=$2; shift 2
uptime > $out
for r in $(seq $n); do for b in "$@"; do
  echo "== $b round $r $(cat /proc/loadavg | cut -d' ' -f1)" >> $out
  ./trie-$b.test -test.run '^$' -test.bench "${BENCH:-OneWriter/.*/mode=(insert|inplace)$}" -test.benchtime=300000x 2>&1 | grep -E "^Benchmark" >> $out
done; done
uptime >> $out
