-- soak.lua - wrk script for bench/soak.sh: POST /v1/predict, 30-cycle engines of 64 units in
-- turn, each connection pausing SOAK_DELAY_MS between requests (0: as fast as possible).
-- Prints one RESULT line that soak.sh reads.
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
local reqs = {}
local n = 0

local function engine(unit)
  local rows = {}
  for c = 1, 30 do
    local s = {}
    for k = 1, 21 do
      s[k] = string.format("%.4f", 500 + 10 * k + 0.01 * c + 0.001 * (unit % 7))
    end
    rows[c] = string.format('{"cycle":%d,"settings":[%.4f,%.4f,100],"sensors":[%s]}',
                            c, 0.0001 * (c % 5), -0.0002 * (unit % 3), table.concat(s, ","))
  end
  return string.format('{"unit":%d,"cycles":[%s]}', unit, table.concat(rows, ","))
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for u = 1, 64 do
    reqs[u] = wrk.format("POST", "/v1/predict", headers, engine(u))
  end
end

function request()
  n = n % #reqs + 1
  return reqs[n]
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d non2xx=%d sockerr=%d seconds=%.3f rps=%.1f " ..
                         "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
