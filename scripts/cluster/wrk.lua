-- wrk script for scripts/cluster/etcd-compare.sh's wrk modes: the same
-- requests to our server's API or to etcd's /v3/kv JSON gateway, keys
-- "wrk/<n>" drawn uniformly from KEYS, from a client nobody here wrote.
--
-- Environment: WRK_TARGET (zipora | etcd), WRK_MODE (writes | reads |
-- scans), WRK_KEYS (key space, default 20000), WRK_LIN (1: linearizable reads,
-- the default; 0: stale / serializable). Reads of a key never written
-- answer 404 on ours, which wrk counts as a status error: wrkfill.py
-- writes every key first.
local target = os.getenv("WRK_TARGET") or "zipora"
local mode = os.getenv("WRK_MODE") or "reads"
local nkeys = tonumber(os.getenv("WRK_KEYS") or "20000")
local lin = (os.getenv("WRK_LIN") or "1") == "1"
local value = string.rep("v", 64)

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local quad = {}
    for j = 4, 1, -1 do
      quad[j] = b64chars:sub(n % 64 + 1, n % 64 + 1)
      n = math.floor(n / 64)
    end
    if not b then quad[3] = "=" end
    if not c then quad[4] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end

-- etcd's range_end for a prefix: its last byte plus one (no key here ends
-- in 0xff).
local function prefixEnd(p)
  return p:sub(1, -2) .. string.char(p:byte(-1) + 1)
end

local ser = lin and "false" or "true"
local q = lin and "?consistency=linearizable" or ""

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
end

function request()
  local k = "wrk/" .. math.random(0, nkeys - 1)
  if target == "etcd" then
    local body
    if mode == "writes" then
      return wrk.format("POST", "/v3/kv/put", nil, '{"key":"' .. b64(k) .. '","value":"' .. b64(value) .. '"}')
    elseif mode == "scans" then
      local p = k:sub(1, 6) -- "wrk/12": up to 1,111 keys under it of 20,000
      body = '{"key":"' .. b64(p) .. '","range_end":"' .. b64(prefixEnd(p)) .. '","limit":100,"keys_only":true,"serializable":' .. ser .. '}'
    else
      body = '{"key":"' .. b64(k) .. '","serializable":' .. ser .. '}'
    end
    return wrk.format("POST", "/v3/kv/range", nil, body)
  end
  if mode == "writes" then
    return wrk.format("PUT", "/keys/" .. k, nil, value)
  elseif mode == "scans" then
    local sep = lin and "&consistency=linearizable" or ""
    return wrk.format("GET", "/complete?limit=100&prefix=" .. k:sub(1, 6) .. sep)
  end
  return wrk.format("GET", "/keys/" .. k .. q)
end

function done(summary, latency, requests)
  io.write(string.format("WRK target=%s mode=%s lin=%s requests=%d duration_us=%d rps=%.0f p50_us=%d p99_us=%d errors_connect=%d errors_timeout=%d errors_status=%d\n",
    target, mode, tostring(lin), summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(99), summary.errors.connect, summary.errors.timeout, summary.errors.status))
end
