#!/bin/bash
# cgi.sh BIN MODE KEYS N -> instr, D1, LL misses per key of MODE minus none
B=$1; M=$2; K=$3; N=${4:-1000000}
run() { GOGC=off valgrind --tool=cachegrind --cache-sim=yes --D1=32768,8,64 --LL=1048576,16,64 --cachegrind-out-file=/dev/null $B -mode $1 -keys $K -n $N 2>&1 | grep -E 'I *refs|D1  misses|LL misses' | awk '{gsub(",","",$4); print $4}' | tr '\n' ' '; }
a=($(run none)); b=($(run $M))
python3 -c "
a=[int(x) for x in '${a[*]}'.split()]; b=[int(x) for x in '${b[*]}'.split()]; n=$N
print('$M $K: instr %.0f D1miss %.2f LLmiss %.2f per key' % ((b[0]-a[0])/n,(b[1]-a[1])/n,(b[2]-a[2])/n))"
