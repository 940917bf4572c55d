#!/bin/sh
# Judges examples/server with wrk (docs/bench/server.md): for each round,
# each backend in turn (the order alternating between rounds), starts the
# server loaded with the word list, runs wrk with the given mix and reports
# wrk's RESULT line, the server's CPU (cores used, from /proc) and the load
# average. Usage: scripts/wrk/server.sh MIX ROUNDS DURATION CONNS [backend...]
#   MIX: complete | mixed; backends: sharded (range routing from the keys,
#   the default -router auto), sharded-hash, locked.
set -eu
mix=${1:-complete}; rounds=${2:-4}; dur=${3:-20s}; conns=${4:-64}
shift 4 2>/dev/null || shift $#
backends=${*:-sharded locked}
W=${WORDS:-/usr/share/dict/american-english-insane}
port=${PORT:-18080}
dir=$(cd "$(dirname "$0")" && pwd)
go build -o /tmp/zs-wrk "$dir/../../examples/server"
threads=2; [ "$conns" -lt 2 ] && threads=1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
round=1
while [ $round -le $rounds ]; do
  order=$backends
  if [ $((round % 2)) -eq 0 ]; then order=$(echo $backends | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for b in $order; do
    case $b in
      sharded) flags="-backend sharded" ;;
      sharded-hash) flags="-backend sharded -router hash" ;;
      locked) flags="-backend locked" ;;
    esac
    /tmp/zs-wrk -addr 127.0.0.1:$port $flags -keys "$W" -quiet & pid=$!
    trap 'kill -INT $pid 2>/dev/null' EXIT
    until curl -sf localhost:$port/stats >/dev/null 2>&1; do sleep 0.2; done
    load=$(cut -d' ' -f1 /proc/loadavg)
    c0=$(cpu $pid); t0=$(date +%s.%N)
    out=$(WORDS="$W" MIX=$mix wrk -t$threads -c"$conns" -d"$dur" -s "$dir/index.lua" http://127.0.0.1:$port/ | grep RESULT) || out="wrk failed"
    c1=$(cpu $pid); t1=$(date +%s.%N)
    kill -INT $pid; wait $pid || true
    trap - EXIT
    cores=$(echo "$c0 $c1 $t0 $t1 $tck" | awk '{printf "%.2f", ($2-$1)/$5/($4-$3)}')
    echo "round=$round backend=$b mix=$mix conns=$conns load1=$load server_cores=$cores $out"
  done
  round=$((round + 1))
done
