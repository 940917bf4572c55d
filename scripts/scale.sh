#!/usr/bin/env bash
# Scaling run of the sharded trie and its peers: keys/s of the insert,
# batch, get and mixed ops at -cpu 1,2,4,8,16 (those this machine has),
# for the sharded trie, one trie behind a sync.RWMutex and xsync.Map,
# side by side in one run; then the runtime's goal rows (Submit flood,
# Call, actor ping-pong, Each) in both modes against the channel workers.
# Prints two markdown tables (median of COUNT runs) and keeps the raw
# output of both in $OUT (default scale.txt).
#   ./scripts/scale.sh                      # COUNT=3 BENCHTIME=300ms KEYS=1000000
#   CPUS=1,2,4 ./scripts/scale.sh           # another -cpu list
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-3}
benchtime=${BENCHTIME:-300ms}
keys=${KEYS:-1000000}
out=${OUT:-scale.txt}
n=$(nproc)
cpus=${CPUS:-}
if [ -z "$cpus" ]; then
  for c in 1 2 4 8 16; do
    [ "$c" -le "$n" ] && cpus="${cpus:+$cpus,}$c"
  done
fi
# median(s): the median of the space-separated numbers in s (both tables).
median='
  function median(s,   a, k, i, j, t) {
    k = split(s, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((k + 1) / 2)]
  }'
echo "scale: $n CPUs here; -cpu $cpus, count $count, benchtime $benchtime, $keys keys" >&2
go test -run '^$' \
  -bench 'BenchmarkShardedTrie/impl=(sharded|rwmutex|xsync)/workload=keys-shuf/op=(insert|batch|get|mixed)$' \
  -count "$count" -benchtime "$benchtime" -cpu "$cpus" ./shards -args -bench.keys="$keys" | tee "$out" >&2
# One row per op and impl, one column per -cpu: the median keys/s, in M.
awk -v cpus="$cpus" "$median"'
  /^BenchmarkShardedTrie/ {
    split($1, parts, "/"); impl = parts[2]; sub("impl=", "", impl)
    op = parts[4]; cpu = op; sub(/-[0-9]+$/, "", op); sub("op=", "", op)
    if (cpu ~ /-[0-9]+$/) { sub(/.*-/, "", cpu) } else { cpu = 1 }
    for (i = 2; i <= NF; i++) if ($(i) == "keys/s") v = $(i-1)
    key = op SUBSEP impl SUBSEP cpu
    vals[key] = vals[key] " " v; rows[op SUBSEP impl] = 1
  }
  END {
    nc = split(cpus, cs, ",")
    printf "| op | impl |"; for (i = 1; i <= nc; i++) printf " -cpu %s |", cs[i]; printf " %s/%s |\n", cs[nc], cs[1]
    printf "|---|---|"; for (i = 1; i <= nc + 1; i++) printf "---|"; printf "\n"
    split("insert batch get mixed", ops, " ")
    split("sharded rwmutex xsync", impls, " ")
    for (o = 1; o <= 4; o++) for (m = 1; m <= 3; m++) {
      if (!((ops[o] SUBSEP impls[m]) in rows)) continue
      printf "| %s | %s |", ops[o], impls[m]
      first = ""; last = ""
      for (i = 1; i <= nc; i++) {
        k = ops[o] SUBSEP impls[m] SUBSEP cs[i]
        if (k in vals) { v = median(vals[k]); printf " %.2f M |", v / 1e6; if (first == "") first = v; last = v } else printf " — |"
      }
      if (first > 0) printf " %.1f× |\n", last / first; else printf " — |\n"
    }
  }' "$out"

# The runtime rows: ns/op (lower is better), one column per -cpu.
go test -run '^$' \
  -bench 'Benchmark(Submit|Call|PingPong|Each)/impl=(runtime|runtime-threads|chanworkers|chanshared|chan|chanlocked|chanwg)$' \
  -count "$count" -benchtime "$benchtime" -cpu "$cpus" ./runtime | tee -a "$out" >&2
echo
awk -v cpus="$cpus" "$median"'
  /^Benchmark(Submit|Call|PingPong|Each)\// {
    split($1, parts, "/"); bench = parts[1]; sub("Benchmark", "", bench)
    impl = parts[2]; cpu = impl; sub(/-[0-9]+$/, "", impl); sub("impl=", "", impl)
    if (cpu ~ /-[0-9]+$/) { sub(/.*-/, "", cpu) } else { cpu = 1 }
    for (i = 2; i <= NF; i++) if ($(i) == "ns/op") v = $(i-1)
    key = bench SUBSEP impl SUBSEP cpu
    vals[key] = vals[key] " " v
    if (!((bench SUBSEP impl) in rows)) { order[++n] = bench SUBSEP impl; rows[bench SUBSEP impl] = 1 }
  }
  END {
    nc = split(cpus, cs, ",")
    printf "| benchmark | impl |"; for (i = 1; i <= nc; i++) printf " -cpu %s |", cs[i]; printf "\n"
    printf "|---|---|"; for (i = 1; i <= nc; i++) printf "---|"; printf "\n"
    for (r = 1; r <= n; r++) {
      split(order[r], bi, SUBSEP)
      printf "| %s | %s |", bi[1], bi[2]
      for (i = 1; i <= nc; i++) {
        k = order[r] SUBSEP cs[i]
        if (k in vals) printf " %.0f ns |", median(vals[k]); else printf " — |"
      }
      printf "\n"
    }
  }' "$out"
