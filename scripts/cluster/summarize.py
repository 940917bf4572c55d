#!/usr/bin/env python3
"""Summarize the raw output of etcd-compare.sh: per mode and system, the
median (and min..max) over rounds of the relevant operation's req/s, the
ratio zipora/etcd of the medians; failover times and lost writes."""
import re
import statistics
import sys

ROW = {"writes": "put", "lin-reads": "get", "scans": "complete", "local": "get"}
WRK = ["wrk-writes", "wrk-lin-reads", "wrk-scans", "wrk-local"]
rates, fails, loads, order = {}, {}, [], []
cur = None
wrk_sum = None  # (req/s, errors) summed over the one-per-node wrk processes of cur


def flush():
    global wrk_sum
    if cur and wrk_sum:
        rates.setdefault(cur, []).append(wrk_sum)
        order.append((cur[0], cur[1], wrk_sum[0], "-", loads[-1]))
    wrk_sum = None


for line in open(sys.argv[1]):
    m = re.match(r"## (\S+) (\S+) load=(\S+)", line)
    if m:
        flush()
        cur = (m.group(1), m.group(2))
        loads.append(float(m.group(3)))
        continue
    m = re.match(r"WRK .*rps=(\d+) .*errors_connect=(\d+) errors_timeout=(\d+) errors_status=(\d+)", line)
    if m and cur and cur[1] in WRK:
        r, e = wrk_sum or (0.0, 0)
        wrk_sum = (r + float(m.group(1)), e + sum(int(m.group(i)) for i in (2, 3, 4)))
        continue
    if cur and cur[1] in ROW:
        f = line.split()
        if f and f[0] == ROW[cur[1]] and len(f) >= 8 and f[1].isdigit():
            rates.setdefault(cur, []).append((float(f[2]), int(f[6])))
            order.append((cur[0], cur[1], float(f[2]), f[3], loads[-1]))
    m = re.match(r"FAILOVER target=(\S+) killed=\d+ failover_ms=(-?\d+) acked=(\d+) lost=(\d+)", line)
    if m:
        fails.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3)), int(m.group(4))))

flush()
print("| measurement | zipora (median, min..max) | etcd (median, min..max) | zipora / etcd |")
print("|---|---|---|---|")
for mode in ["writes", "lin-reads", "scans", "local"] + WRK:
    cells, meds = [], []
    for sys_ in ["zipora", "etcd"]:
        r = rates.get((sys_, mode), [])
        if not r:
            cells.append("-")
            meds.append(None)
            continue
        v = [x for x, _ in r]
        errs = sum(e for _, e in r)
        med = statistics.median(v)
        meds.append(med)
        cells.append("%.0f/s (%.0f..%.0f)%s" % (med, min(v), max(v), ", %d errors" % errs if errs else ""))
    ratio = "%.2fx" % (meds[0] / meds[1]) if all(meds) else "-"
    print("| %s | %s | %s | %s |" % (mode, cells[0], cells[1], ratio))
for sys_ in ["zipora", "etcd"]:
    f = fails.get(sys_, [])
    if f:
        ms = [x for x, _, _ in f]
        print("| failover, %s | median %d ms (%d..%d ms) over %d kills | acknowledged %d | lost %d |" % (
            sys_, statistics.median(ms), min(ms), max(ms), len(f), sum(a for _, a, _ in f), sum(l for _, _, l in f)))
if loads:
    print("\nload average (1 min) during the runs: %.1f..%.1f" % (min(loads), max(loads)))

if "-v" in sys.argv:
    print("\nevery run, in the order run (system, measurement, req/s, p50, load average):")
    for sys_, mode, rate, p50, load in order:
        print("  %-6s %-9s %7.0f/s  p50 %-8s load %.1f" % (sys_, mode, rate, p50, load))
