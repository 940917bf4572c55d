#!/bin/bash
# 3-way single-thread rounds: zipora st, ours before this session (b0), ours now (cur); scattered and contiguous key layouts. CPU-time medians.
cd /work/anchor-build
echo "# $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in 1 2; do
  SECTIONS=st ROOT=work work/run.sh --reps 5 2>/dev/null | grep -E '^st_(seq|shuf)_(insert|lookup)_cpu_median' | sed "s/^/r$r zipora /"
  for b in b0 cur; do
    bin=goside-b0/goside-b0; [ $b = cur ] && bin=goside-perf/goside-cur
    $bin -reps 5 -sections st | grep -E '_cpu_median' | sed "s/^/r$r $b /"
    $bin -contig -reps 5 -sections st | grep -E 'shuf.*_cpu_median' | sed "s/^/r$r $b-contig /"
  done
done
echo "# $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
