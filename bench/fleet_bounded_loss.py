#!/usr/bin/env python3
# fleet_bounded_loss.py - stream batches of newest cycles into a fleet-mode daemon from
# THREADS connections until it stops answering (bench/fleet_bounded_loss.sh kills it), then
# print, as JSON, the last acknowledged cycle of every engine and the requests answered.
# Usage: fleet_bounded_loss.py PORT ENGINES BATCH THREADS
import http.client
import json
import sys
import threading

port, engines, per, threads = (int(a) for a in sys.argv[1:5])
row = ('"settings":[-0.0007,-0.0004,100.0],"sensors":[518.67,641.82,1589.70,1400.60,14.62,'
       '21.61,554.36,2388.06,9046.19,1.30,47.47,521.66,2388.02,8138.62,8.4195,0.03,392,2388,'
       '100.00,39.06,23.4190]')
acked = {}
answered = [0]
lock = threading.Lock()


def stream(t):
    # thread t owns engines t, t + threads, ...: its cycles of an engine go in order
    mine = list(range(1 + t, engines + 1, threads))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cycle = 0
    while True:
        cycle += 1
        for s in range(0, len(mine), per):
            units = mine[s:s + per]
            body = '{"cycles":[' + ",".join('{"unit":%d,"cycle":%d,%s}' % (u, cycle, row)
                                           for u in units) + "]}"
            try:
                conn.request("POST", "/v1/cycles", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
            except Exception:
                return
            if r.status != 200:
                return
            with lock:
                answered[0] += 1
                for u in units:
                    acked[u] = cycle


ts = [threading.Thread(target=stream, args=(t,)) for t in range(threads)]
for x in ts:
    x.start()
for x in ts:
    x.join()
print(json.dumps({"answered": answered[0], "acked": acked}))
