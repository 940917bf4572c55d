#!/usr/bin/env bash
# make cluster: three examples/server nodes on 127.0.0.1 (a replicated
# index, package cluster), the load generator against all three, then the
# leader of range 0 killed with SIGKILL while writers write to that range
# through the other two: prints the failover time and whether every
# acknowledged write is still there (read back linearizably). With
# KILLS=N it kills the (new) leader N times, restarting each killed node
# from its data directory before the next round.
#
#   make cluster                      # one kill
#   make cluster KILLS=20 DURATION=3s # twenty
#
# Environment: BIN (built binaries, default bin), DURATION (load run, 5s),
# CONCURRENCY (64), KILLS (1), BASE (first HTTP port, 18081; raft ports
# BASE+1000...), HEARTBEAT (raft heartbeat/election timeout, 500ms),
# KEEP=1 keeps the data directory. Needs curl and python3 (to read /cluster).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-64}
KILLS=${KILLS:-1}
BASE=${BASE:-18081}
HEARTBEAT=${HEARTBEAT:-500ms}
GO=${GO:-go}

$GO build -o "$BIN/server" ./examples/server
$GO build -o "$BIN/load" ./examples/load
DATA=$(mktemp -d "${TMPDIR:-/tmp}/zipora-cluster.XXXXXX")
declare -a PIDS HTTP RAFT
for i in 0 1 2; do
	HTTP[$i]=127.0.0.1:$((BASE + i))
	RAFT[$i]=127.0.0.1:$((BASE + 1000 + i))
done

start() { # start node i (join through node 0 unless it is node 0's first start)
	local i=$1 join=${2:-}
	"$BIN/server" -addr "${HTTP[$i]}" -node-id "n$((i + 1))" -raft-addr "${RAFT[$i]}" -data "$DATA/n$((i + 1))" \
		-raft-heartbeat "$HEARTBEAT" -quiet ${join:+-join "$join"} 2>>"$DATA/n$((i + 1)).log" &
	PIDS[$i]=$!
}

cleanup() {
	for p in "${PIDS[@]:-}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-}" = 1 ]; then echo "data and logs kept in $DATA"; else rm -rf "$DATA"; fi
}
trap cleanup EXIT

ready() { # node i answers /cluster with 3 voters and a leader on every range
	curl -sf "http://${HTTP[$1]}/cluster" 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
# every range led, 3 voters, and (once the balancer is done) each node leading one range
ok = all(r["leader"] and len(r["voters"] or []) == 3 for r in v["ranges"])
sys.exit(0 if ok and len({r["leader"] for r in v["ranges"]}) == min(3, len(v["ranges"])) else 1)' 2>/dev/null
}

wait_ready() {
	for _ in $(seq 1 300); do
		ok=1
		for i in 0 1 2; do ready "$i" || ok=0; done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	echo "cluster not ready after 30 s; logs in $DATA" >&2
	KEEP=1
	return 1
}

start 0
for _ in $(seq 1 100); do curl -sf "http://${HTTP[0]}/stats" >/dev/null 2>&1 && break; sleep 0.1; done
start 1 "${RAFT[0]}"
start 2 "${RAFT[0]}"
wait_ready
URLS="http://${HTTP[0]},http://${HTTP[1]},http://${HTTP[2]}"
echo "== 3 nodes up: $URLS (data in $DATA)"
curl -s "http://${HTTP[0]}/cluster" | python3 -c '
import json, sys
v = json.load(sys.stdin)
for r in v["ranges"]:
    print("   range %d [%r, %r): leader %s, term %d, applied %d" % (r["range"], r["start"], r["end"], r["leader"], r["term"], r["applied_index"]))'

echo "== load: $CONCURRENCY clients over the three nodes, $DURATION, 30% writes"
"$BIN/load" -url "$URLS" -duration "$DURATION" -concurrency "$CONCURRENCY" -write-ratio 0.3 -progress 10s

lost=0
for k in $(seq 1 "$KILLS"); do
	echo "== kill $k/$KILLS: SIGKILL the leader of range 0 while 8 writers write to it"
	for _ in 1 2 3 4 5; do # again when the leader moved before the kill (FAILOVER-RETRY)
		out=$("$BIN/load" -url "$URLS" -failover -pids "${PIDS[0]},${PIDS[1]},${PIDS[2]}" -failover-range 0 \
			-failover-prefix "/etc/failover/$k" -failover-pre 1s -failover-post 1s 2>&1) || true
		case $out in *FAILOVER-RETRY*) sleep 1 ;; *) break ;; esac
	done
	echo "$out" | grep -v '^FAILOVER ' || true
	line=$(echo "$out" | grep '^FAILOVER ' || true)
	[ -n "$line" ] || { echo "failover run failed"; KEEP=1; exit 1; }
	killed=$(echo "$line" | sed 's/.*killed=\([0-9]*\).*/\1/')
	l=$(echo "$line" | sed 's/.*lost=\([0-9]*\).*/\1/')
	lost=$((lost + l))
	wait "${PIDS[$killed]}" 2>/dev/null || true
	start "$killed" # restarts from its data directory (no -join: it is a member)
	wait_ready
done
if [ "$lost" = 0 ]; then
	echo "== every acknowledged write is still there ($KILLS leader kills)"
else
	echo "== $lost acknowledged writes LOST across $KILLS leader kills"
	KEEP=1
	exit 1
fi
