-- cycles.lua - wrk script for POST /v1/cycles as a live fleet sends it: every request carries
-- the newest cycle of BATCH engines (env, default 1), engines taken in turn from ENGINES (env,
-- default 51200) per wrk thread, each engine's cycle one higher than its last. A round of the
-- fleet is ENGINES / BATCH requests, far more than the connections in flight, so no two
-- requests for the same engine are ever in flight at once (which could arrive out of order
-- and be refused 409 stale_cycle). The inputs are one real C-MAPSS row (FD001 train, unit 1,
-- cycle 1); only units and cycles change. Prints one RESULT line, as predict.lua does.
local batch = tonumber(os.getenv("BATCH") or "1")
local engines = tonumber(os.getenv("ENGINES") or "51200")
-- Repeated runs against one daemon: each starts above the cycles of the runs before it (gaps
-- between flights are allowed), so its first round is not refused as stale.
local cycle0 = tonumber(os.getenv("CYCLE0") or "0")
local row = '"settings":[-0.0007,-0.0004,100.0],"sensors":[518.67,641.82,1589.70,1400.60,' ..
  '14.62,21.61,554.36,2388.06,9046.19,1.30,47.47,521.66,2388.02,8138.62,8.4195,0.03,392,' ..
  '2388,100.00,39.06,23.4190]'
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local n = 0 -- engine-cycles this thread has sent

local function cycle_of(k)
  -- engine k of this thread's share, at its next cycle
  local unit = tid * engines + (k % engines) + 1
  local cycle = cycle0 + math.floor(k / engines) + 1
  return '{"unit":' .. unit .. ',"cycle":' .. cycle .. ',' .. row .. '}'
end

function request()
  local body
  if batch == 1 then
    body = cycle_of(n)
  else
    local parts = {}
    for i = 0, batch - 1 do
      parts[i + 1] = cycle_of(n + i)
    end
    body = '{"cycles":[' .. table.concat(parts, ",") .. ']}'
  end
  n = n + batch
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT requests=%d ok=%d non2xx=%d sockerr=%d seconds=%.3f " ..
                         "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.requests - e.status, e.status, sockerr, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
