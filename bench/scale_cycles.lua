-- scale_cycles.lua - wrk script for bench/scale.sh: POST /v1/cycles as a fleet sends it through
-- HAProxy, one engine's newest cycle per request with the header X-Rulsrv-Unit that the
-- balancer routes on (docs/SCALING.md). Engines are taken in turn from ENGINES (env, default
-- 1000) per wrk thread, far more than the connections in flight, so no two requests of one
-- engine are in flight at once; CYCLE0 (env) starts a run above the cycles of the runs
-- before it, UNIT0 (env) gives a run engines of its own (units UNIT0 + 1 ...). MODE=predict sends the same cycle as a one-cycle window to /v1/predict instead
-- (no fleet store on the path). The inputs are one real C-MAPSS row (FD001 train, unit 1,
-- cycle 1). Prints one RESULT line.
local engines = tonumber(os.getenv("ENGINES") or "1000")
local cycle0 = tonumber(os.getenv("CYCLE0") or "0")
local unit0 = tonumber(os.getenv("UNIT0") or "0")
local predict = os.getenv("MODE") == "predict"
local row = '"settings":[-0.0007,-0.0004,100.0],"sensors":[518.67,641.82,1589.70,1400.60,' ..
  '14.62,21.61,554.36,2388.06,9046.19,1.30,47.47,521.66,2388.02,8138.62,8.4195,0.03,392,' ..
  '2388,100.00,39.06,23.4190]'
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end

local n = 0

function request()
  local unit = unit0 + tid * engines + (n % engines) + 1
  local cycle = cycle0 + math.floor(n / engines) + 1
  local body, path
  n = n + 1
  if predict then
    path = "/v1/predict"
    body = '{"unit":' .. unit .. ',"cycles":[{"cycle":' .. cycle .. ',' .. row .. '}]}'
  else
    path = "/v1/cycles"
    body = '{"unit":' .. unit .. ',"cycle":' .. cycle .. ',' .. row .. '}'
  end
  return wrk.format("POST", path, { ["Content-Type"] = "application/json",
                                    ["X-Rulsrv-Unit"] = tostring(unit) }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT requests=%d ok=%d non2xx=%d sockerr=%d seconds=%.3f " ..
                         "rps=%.1f mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.requests - e.status, e.status, sockerr, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
