#!/bin/bash
# usage: kit2.sh ROUNDS OUTDIR goside... : per round zipora's pool section, then each go side's (-sections pool -reps 5); raw outputs kept
R=$1; O=$2; shift 2
for r in $(seq 1 $R); do
  l0=$(cut -d' ' -f1-3 /proc/loadavg)
  SECTIONS=pool ROOT=/work/anchor-build/work /work/anchor-build/work/run.sh --reps 5 > $O/r$r-zipora.txt 2>&1
  z=$(awk '/^pool_nolocking_t1_pair_median/{print $2}' $O/r$r-zipora.txt)
  line="round $r $(date -u +%H:%M:%S) load $l0 zipora $z"
  for b in "$@"; do
    n=$(basename $b)
    $b -sections pool -reps 5 > $O/r$r-$n.txt 2>&1
    g=$(awk '/^pool_nolocking_t1_pair_median/{print $2}' $O/r$r-$n.txt)
    line="$line | $n $g ($(echo "scale=2; $g/$z" | bc)x)"
  done
  echo "$line"
done
