-- wrk script for examples/server (docs/bench/server.md).
--
-- Environment: WORDS the word list the server was loaded with (default
-- Debian's wamerican-insane), MIX "complete" (every request
-- GET /complete?prefix=<first 2 bytes of a random word, never cutting a
-- UTF-8 character>&limit=10) or
-- "mixed" (10% PUT /keys/<word>, 45% GET /keys/<word>, 45% /complete, as
-- examples/load -write-ratio 0.1). Keys are percent-encoded byte by byte.
-- done() prints one RESULT line with the request count, rate, latency
-- percentiles (p99.99 included) and error counts.

local path = os.getenv("WORDS") or "/usr/share/dict/american-english-insane"
local mix = os.getenv("MIX") or "complete"
local words = {}

local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- prefix returns the first 2 bytes of w, extended to the end of a UTF-8
-- character cut by them (the server refuses prefixes that are not UTF-8).
local function prefix(w)
  local n = math.min(2, #w)
  while n < #w do
    local b = string.byte(w, n + 1)
    if b < 0x80 or b >= 0xC0 then break end
    n = n + 1
  end
  return w:sub(1, n)
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  for line in io.lines(path) do
    if #line > 0 then words[#words + 1] = line end
  end
  math.randomseed((tonumber(wrk.thread:get("id")) or 1) * 7919)
end

function request()
  local w = words[math.random(#words)]
  if mix == "mixed" then
    local r = math.random()
    if r < 0.1 then
      return wrk.format("PUT", "/keys/" .. enc(w), nil, "v")
    elseif r < 0.55 then
      return wrk.format("GET", "/keys/" .. enc(w))
    end
  end
  return wrk.format("GET", "/complete?prefix=" .. enc(prefix(w)) .. "&limit=10")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_us=%d p99_us=%d p9999_us=%d max_us=%d sock_errors=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
