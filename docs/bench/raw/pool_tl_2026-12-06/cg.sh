#!/bin/bash
# usage: cg.sh BINARY LEVEL SIZE  -> instructions per pair (200k - 100k)/100k
B=$1; L=$2; S=$3
run() { GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $B -test.run '^$' -test.bench "BenchmarkPool\$/level=$L\$/size=$S\$/g=1\$" -test.benchtime ${1}x -test.cpu 1 2>&1 | awk '/I *refs/ {gsub(",","",$4); print $4}'; }
a=$(run 100000); b=$(run 200000)
echo "$L $S $(( (b-a)/100000 )).$(( ((b-a)%100000)/1000 ))"
