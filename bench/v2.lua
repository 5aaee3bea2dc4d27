-- v2.lua - wrk script for one fixed POST body: the file named by env BODY, to env URL_PATH,
-- with Content-Type env CT and, when env HEADER_LENGTH is set, the Open Inference Protocol's
-- Inference-Header-Content-Length. Prints one RESULT line that bench/v2.sh reads.
local path = os.getenv("BODY")
if path == nil then
  error("v2.lua: set BODY to the request body file")
end
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.path = os.getenv("URL_PATH") or "/v1/predict"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CT") or "application/json"
local hl = os.getenv("HEADER_LENGTH")
if hl ~= nil and hl ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = hl
end

function done(summary, latency, requests)
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT requests=%d ok=%d non2xx=%d sockerr=%d seconds=%.3f " ..
                         "p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.requests - e.status, e.status, sockerr, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
