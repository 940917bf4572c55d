#!/bin/bash
# cgh.sh SRC WHICH SIZE: instructions per pair, (200k - 100k)/100k
SRC=$1; W=$2; S=$3
D=$(mktemp -d); printf 'module h\ngo 1.26\nrequire github.com/zipora-go/zipora v0.0.0\nreplace github.com/zipora-go/zipora => %s\n' $SRC > $D/go.mod; cp /work/anchor-build/pool-cg/h/main.go $D/
(cd $D && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1; go build -o h .)
run() { GOGC=off valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $D/h -n $1 -which $W -size $S 2>&1 | awk '/I *refs/ {gsub(",","",$4); print $4}'; }
a=$(run 100000); b=$(run 200000); rm -rf $D
echo "cache-$W $S $(( (b-a)/100000 )).$(( ((b-a)%100000)/1000 ))"
