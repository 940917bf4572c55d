#!/usr/bin/env python3
"""Writes the keys wrk.lua reads (wrk/0 .. wrk/N-1, 64-byte values) into
our cluster (one POST /batch) or etcd (transactions of 128 puts), so that
every read of the wrk modes finds its key on both systems.

usage: wrkfill.py zipora|etcd URL N"""
import base64
import json
import sys
import urllib.request

target, url, n = sys.argv[1], sys.argv[2].rstrip("/"), int(sys.argv[3])
value = "v" * 64


def post(path, body):
    req = urllib.request.Request(url + path, data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        if r.status != 200:
            sys.exit("%s %s: %d" % (target, path, r.status))


def b64(s):
    return base64.b64encode(s.encode()).decode()


if target == "zipora":
    post("/batch", "".join(json.dumps({"op": "put", "key": "wrk/%d" % i, "value": value}) + "\n" for i in range(n)))
else:
    for lo in range(0, n, 128):
        ops = [{"requestPut": {"key": b64("wrk/%d" % i), "value": b64(value)}} for i in range(lo, min(n, lo + 128))]
        post("/v3/kv/txn", json.dumps({"success": ops}))
