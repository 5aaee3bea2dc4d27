-- feedback.lua - wrk script for POST /v1/feedback: BATCH records per request (env BATCH,
-- default 1; 1 sends the single-record form). Records are unique per thread and request.
local batch = tonumber(os.getenv("BATCH") or "1")
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local function record(unit, cycle)
  return string.format('{"unit": %d, "cycle": %d, "actual_rul": %d, "predicted_rul": %.1f, ' ..
                       '"model": "bench"}', unit, cycle, cycle % 150, (cycle % 150) + 3.5)
end

function request()
  counter = counter + 1
  local unit = thread_id * 1000000 + counter
  local body
  if batch == 1 then
    body = record(unit, counter)
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = record(unit, i)
    end
    body = '{"records": [' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/v1/feedback", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect -
             summary.errors.read - summary.errors.write - summary.errors.timeout
  io.write(string.format("RESULT requests=%d ok=%d seconds=%.3f batch=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, ok, summary.duration / 1e6, batch,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
