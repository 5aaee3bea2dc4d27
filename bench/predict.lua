-- predict.lua - wrk script for POST /v1/predict with one fixed body: the file named by env BODY
-- (written by `bench_compute bodies`). The request is built once, so wrk spends no Lua time
-- per request. Prints one RESULT line that bench/run.sh reads.
local path = os.getenv("BODY")
if path == nil then
  error("predict.lua: set BODY to the request body file")
end
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT requests=%d ok=%d non2xx=%d sockerr=%d seconds=%.3f " ..
                         "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.requests - e.status, e.status, sockerr, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
