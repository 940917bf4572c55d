#!/bin/bash
# cgw.sh BINARY LEVEL N SIZE X: instructions per pair of BenchmarkPoolWorkload/level=L/n=NxSIZE/g=1
# (ops 2X minus ops X, divided by X*N pairs)
B=$1; L=$2; N=$3; S=$4; X=$5
run() { GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $B -test.run '^$' -test.bench "BenchmarkPoolWorkload\$/level=$L\$/n=${N}x$S\$/g=1\$" -test.benchtime ${1}x -test.cpu 1 2>&1 | awk '/I *refs/ {gsub(",","",$4); print $4}'; }
a=$(run $X); b=$(run $((2*X)))
python3 -c "print('$L ${N}x$S', round(($b-$a)/($X*$N),1))"
