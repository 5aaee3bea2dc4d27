#!/usr/bin/env python3
# fleet_write_path.py - stream cycles into a fleet-mode daemon as a live fleet reports them,
# cycle-major (cycle k of every engine, then cycle k + 1), over one keep-alive connection,
# BATCH cycles per POST /v1/cycles; prints the seconds it took. For bench/fleet_write_path.sh.
# Usage: fleet_write_path.py PORT ENGINES CYCLES BATCH [FIRST_UNIT]
import http.client
import random
import sys
import time

port, engines, cycles, per = (int(a) for a in sys.argv[1:5])
first = int(sys.argv[5]) if len(sys.argv) > 5 else 1
rng = random.Random(7)
base = [-0.0007, -0.0004, 100.0, 518.67, 642.6, 1590.0, 1409.0, 14.62, 21.61, 553.6, 2388.0,
        9060.0, 1.3, 47.5, 521.7, 2388.0, 8140.0, 8.42, 0.03, 392.0, 2388.0, 100.0, 38.9, 23.3]


def cycle(unit, k):
    v = [b * (1 + rng.uniform(-0.001, 0.001)) for b in base]
    return ('{"unit":%d,"cycle":%d,"settings":[%s],"sensors":[%s]}'
            % (unit, k, ",".join("%.6g" % x for x in v[:3]), ",".join("%.6g" % x for x in v[3:])))


bodies = []
for k in range(1, cycles + 1):
    for start in range(0, engines, per):
        units = range(first + start, first + min(start + per, engines))
        bodies.append(('{"cycles":[' + ",".join(cycle(u, k) for u in units) + "]}").encode())
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
t0 = time.monotonic()
for b in bodies:
    conn.request("POST", "/v1/cycles", b, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("fleet_write_path.py: status %d" % r.status)
print("%.6f" % (time.monotonic() - t0))
