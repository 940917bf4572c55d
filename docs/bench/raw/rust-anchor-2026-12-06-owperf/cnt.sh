#!/bin/bash
# cnt.sh BIN MODE KEYS -> instructions per key (minus mode none), GOGC=off
B=$1; M=$2; K=$3; N=${4:-300000}
a=$(GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $B -mode none -keys $K -n $N 2>&1 | grep 'I *refs' | awk '{gsub(",","",$4); print $4}')
b=$(GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $B -mode $M -keys $K -n $N 2>&1 | grep 'I *refs' | awk '{gsub(",","",$4); print $4}')
nk=$N; [ $K = words ] && nk=$(sort -u /usr/share/dict/words | grep -c .)
python3 -c "print('$M $K', round(($b-$a)/$nk,1))"
