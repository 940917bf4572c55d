#!/usr/bin/env bash
# Our 3-node replicated index (examples/server in cluster mode) against a
# 3-member etcd (Debian's etcd-server 3.4: apt-get install -y etcd-server
# etcd-client), all six processes on 127.0.0.1, data directories on the
# same disk, driven by the same load generator (examples/load) over
# HTTP/JSON with the same generated keys and CONCURRENCY clients spread
# over the three nodes of each. Rounds interleave the two systems (the
# machine is shared). Per round and system:
#
#   writes     PUT only: durable writes/s (committed on a majority, fsync'd)
#   lin-reads  GET only, linearizable (ours: ?consistency=linearizable; etcd: range, serializable=false)
#   scans      100-key prefix scans only, linearizable (ours: /complete?limit=100; etcd: range with range_end, limit 100, keys_only)
#   local      GET only, stale/serializable (ours: the node's replica; etcd: serializable=true)
#
# and, with the same servers, the same measurements driven by wrk (Debian's
# wrk 4.1, a client nobody here wrote; scripts/cluster/wrk.lua builds the
# requests, keys wrk/<n>): wrk-writes, wrk-lin-reads, wrk-scans, wrk-local
# (one wrk per node, CONCURRENCY/3 connections each, their req/s summed;
# every key written once per system before the rounds, wrkfill.py);
#
# then KILLS failover runs per system (alternating): SIGKILL of the leader
# while 8 writers write through the followers; the time to the first
# acknowledged write after the kill, and acknowledged writes lost.
#
# Environment: ROUNDS (3), DURATION (5s per measurement), CONCURRENCY (64),
# KEYS (20000 generated paths), PREFILL (10s of writes per system before
# the rounds), KILLS (5), HEARTBEAT (ours, 500ms; etcd: its defaults,
# heartbeat 100 ms, election 1000 ms), MODES (the measurements, default
# "writes lin-reads scans local wrk-writes wrk-lin-reads wrk-scans
# wrk-local"; the wrk modes need wrk: apt-get install -y wrk), OUT (raw outputs, default
# docs/bench/cluster-raw.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-64}
KEYS=${KEYS:-20000}
PREFILL=${PREFILL:-10s}
KILLS=${KILLS:-5}
HEARTBEAT=${HEARTBEAT:-500ms}
OUT=${OUT:-docs/bench/cluster-raw.txt}
MODES=${MODES:-writes lin-reads scans local wrk-writes wrk-lin-reads wrk-scans wrk-local}
GO=${GO:-go}
command -v etcd >/dev/null || { echo "etcd not found: apt-get install -y etcd-server etcd-client" >&2; exit 1; }
case " $MODES " in *" wrk-"*) command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; } ;; esac

$GO build -o "$BIN/server" ./examples/server
$GO build -o "$BIN/load" ./examples/load
DATA=$(mktemp -d "${TMPDIR:-/tmp}/zipora-vs-etcd.XXXXXX")
declare -a ZP EP ZH ZR
for i in 0 1 2; do
	ZH[$i]=127.0.0.1:$((18081 + i))
	ZR[$i]=127.0.0.1:$((19081 + i))
done
EC=(127.0.0.1:22379 127.0.0.1:23379 127.0.0.1:24379)
EPEER=(127.0.0.1:22380 127.0.0.1:23380 127.0.0.1:24380)
INITIAL="e1=http://${EPEER[0]},e2=http://${EPEER[1]},e3=http://${EPEER[2]}"

zstart() {
	local i=$1 join=${2:-}
	"$BIN/server" -addr "${ZH[$i]}" -node-id "n$((i + 1))" -raft-addr "${ZR[$i]}" -data "$DATA/z$((i + 1))" \
		-raft-heartbeat "$HEARTBEAT" -quiet ${join:+-join "$join"} 2>>"$DATA/z$((i + 1)).log" &
	ZP[$i]=$!
}
estart() {
	local i=$1
	etcd --name "e$((i + 1))" --data-dir "$DATA/e$((i + 1))" \
		--listen-client-urls "http://${EC[$i]}" --advertise-client-urls "http://${EC[$i]}" \
		--listen-peer-urls "http://${EPEER[$i]}" --initial-advertise-peer-urls "http://${EPEER[$i]}" \
		--initial-cluster "$INITIAL" --initial-cluster-state new --initial-cluster-token zipora-compare \
		--logger zap --log-level error 2>>"$DATA/e$((i + 1)).log" &
	EP[$i]=$!
}
cleanup() {
	for p in "${ZP[@]:-}" "${EP[@]:-}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-}" = 1 ]; then echo "data and logs kept in $DATA"; else rm -rf "$DATA"; fi
}
trap cleanup EXIT

zready() {
	for i in 0 1 2; do
		curl -sf "http://${ZH[$i]}/cluster" 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
# every range led, 3 voters, and (once the balancer is done) each node leading one range
ok = all(r["leader"] and len(r["voters"] or []) == 3 for r in v["ranges"])
sys.exit(0 if ok and len({r["leader"] for r in v["ranges"]}) == min(3, len(v["ranges"])) else 1)' 2>/dev/null || return 1
	done
}
eready() {
	for i in 0 1 2; do
		curl -sf -XPOST "http://${EC[$i]}/v3/maintenance/status" -d '{}' 2>/dev/null | grep -q '"leader"' || return 1
	done
}
waitfor() {
	for _ in $(seq 1 300); do "$1" && return 0; sleep 0.1; done
	echo "$1: not ready after 30 s; logs in $DATA" >&2
	KEEP=1
	exit 1
}

zstart 0
for _ in $(seq 1 100); do curl -sf "http://${ZH[0]}/stats" >/dev/null 2>&1 && break; sleep 0.1; done
zstart 1 "${ZR[0]}"
zstart 2 "${ZR[0]}"
for i in 0 1 2; do estart "$i"; done
waitfor zready
waitfor eready
ZURLS="http://${ZH[0]},http://${ZH[1]},http://${ZH[2]}"
EURLS="http://${EC[0]},http://${EC[1]},http://${EC[2]}"

mkdir -p "$(dirname "$OUT")"
{
	echo "# scripts/cluster/etcd-compare.sh $(date -u +%FT%TZ)"
	echo "# ROUNDS=$ROUNDS DURATION=$DURATION CONCURRENCY=$CONCURRENCY KEYS=$KEYS KILLS=$KILLS HEARTBEAT=$HEARTBEAT MODES=$MODES; $(etcd --version | head -1); $(nproc) CPUs"
} >"$OUT"

urls() { if [ "$1" = zipora ]; then echo "$ZURLS"; else echo "$EURLS"; fi; }
load() { # system mode
	local sys=$1 mode=$2 args
	case $mode in
	prefill) args=(-write-ratio 1 -duration "$PREFILL") ;;
	writes) args=(-write-ratio 1) ;;
	lin-reads) args=(-write-ratio 0 -complete-ratio 0 -consistency linearizable) ;;
	scans) args=(-write-ratio 0 -complete-ratio 1 -scan-limit 100 -consistency linearizable) ;;
	local) args=(-write-ratio 0 -complete-ratio 0 -consistency stale) ;;
	esac
	echo "## $sys $mode load=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
	"$BIN/load" -target "$sys" -url "$(urls "$sys")" -n "$KEYS" -concurrency "$CONCURRENCY" -duration "$DURATION" \
		-progress 1h "${args[@]}" >>"$OUT" 2>&1 || echo "(load failed)" >>"$OUT"
}

# wrksys system mode: one wrk per node at once, CONCURRENCY/3 connections
# each; each prints a WRK line (summed by summarize.py).
wrksys() {
	local sys=$1 mode=$2 lin=1 u pids=()
	case $mode in
	wrk-writes) mode=writes ;;
	wrk-lin-reads) mode=reads ;;
	wrk-scans) mode=scans ;;
	wrk-local) mode=reads lin=0 ;;
	esac
	echo "## $sys $2 load=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
	for u in $(urls "$sys" | tr , ' '); do
		WRK_TARGET=$sys WRK_MODE=$mode WRK_KEYS=$KEYS WRK_LIN=$lin \
			wrk -t1 -c $((CONCURRENCY / 3)) -d "$DURATION" --timeout 10s -s scripts/cluster/wrk.lua "$u" 2>&1 | grep '^WRK' >>"$OUT" &
		pids+=($!)
	done
	wait "${pids[@]}" # not the servers, also children of this shell
}

for sys in zipora etcd; do load "$sys" prefill; done
case " $MODES " in *" wrk-"*) for sys in zipora etcd; do python3 scripts/cluster/wrkfill.py "$sys" "$(urls "$sys" | cut -d, -f1)" "$KEYS"; done ;; esac
for r in $(seq 1 "$ROUNDS"); do
	order="zipora etcd"
	[ $((r % 2)) = 0 ] && order="etcd zipora"
	for mode in $MODES; do
		for sys in $order; do
			echo "round $r: $sys $mode" >&2
			case $mode in wrk-*) wrksys "$sys" "$mode" ;; *) load "$sys" "$mode" ;; esac
		done
	done
done

failover() { # system
	local sys=$1 pids line killed
	if [ "$sys" = zipora ]; then pids="${ZP[0]},${ZP[1]},${ZP[2]}"; else pids="${EP[0]},${EP[1]},${EP[2]}"; fi
	echo "## $sys failover load=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
	for _ in 1 2 3 4 5; do # again when the leader moved before the kill (FAILOVER-RETRY)
		line=$("$BIN/load" -target "$sys" -url "$(urls "$sys")" -failover -pids "$pids" -failover-prefix "/etc/failover/$sys/$RANDOM" 2>&1 | tee -a "$OUT" | grep '^FAILOVER' || true)
		case $line in FAILOVER-RETRY*) sleep 1 ;; *) break ;; esac
	done
	echo "$sys: ${line:-failover run failed}" >&2
	killed=$(echo "$line" | sed -n 's/.*killed=\([0-9]*\).*/\1/p')
	[ -n "$killed" ] || { KEEP=1; exit 1; }
	if [ "$sys" = zipora ]; then
		wait "${ZP[$killed]}" 2>/dev/null || true
		zstart "$killed"
		waitfor zready
	else
		wait "${EP[$killed]}" 2>/dev/null || true
		estart "$killed"
		waitfor eready
	fi
}
for k in $(seq 1 "$KILLS"); do # none when KILLS=0
	if [ $((k % 2)) = 1 ]; then failover zipora; failover etcd; else failover etcd; failover zipora; fi
done
python3 scripts/cluster/summarize.py "$OUT"
