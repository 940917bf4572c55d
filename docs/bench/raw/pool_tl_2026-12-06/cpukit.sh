#!/bin/bash
# cpukit.sh ROUNDS REPS: interleaved rounds of zipora's pool section and our base/cur ThreadLocal 2T
# pairs, wall and CPU-time rates; ratios ours/zipora.
R=$1; REPS=$2; Z=/work/anchor-build/work; D=/work/anchor-build/pool-cg
for r in $(seq 1 $R); do
  zo=$(SECTIONS=pool ROOT=$Z $Z/run.sh --reps $REPS 2>/dev/null)
  zw=$(echo "$zo" | awk '/^pool_threadlocal_t2_pair_median/ {print $2}'); zc=$(echo "$zo" | awk '/^pool_threadlocal_t2_pair_cpu_median/ {print $2}')
  line="round $r load $(cut -d' ' -f1 /proc/loadavg) zipora wall $zw cpu $zc"
  for v in base cur; do
    o=$($D/cpu/$v/cpu -reps $REPS); w=$(echo "$o" | awk '/pair_median/ {print $2}'); c=$(echo "$o" | awk '/cpu_median/ {print $2}')
    line="$line | $v wall $w ($(python3 -c "print(f'{$w/$zw:.2f}')")x) cpu $c ($(python3 -c "print(f'{$c/$zc:.2f}')")x)"
  done
  echo "$line"
done
