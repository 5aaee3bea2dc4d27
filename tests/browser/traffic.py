#!/usr/bin/env python3
# traffic.py - what the console test shows: predictions of FD001 engines scored against their
# true RUL, then a new drift window ("Q2 FD004", through the admin token) filled with FD004
# engines, which drift. Without the C-MAPSS data, synthetic engines (shifted for the drift).
import argparse
import gzip
import json
import os
import random
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--predict", required=True)
ap.add_argument("--feedback", required=True)
ap.add_argument("--token", required=True, help="admin token file of the prediction service")
ap.add_argument("--data", default="")
ap.add_argument("--fleet", action="store_true", help="also stream engines through /v1/cycles")
args = ap.parse_args()
random.seed(20)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body, ctype="application/json", token=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with OPENER.open(req, timeout=30) as r:
        return json.loads(r.read())


def read(name):
    path = os.path.join(args.data, name + ".txt.gz") if args.data else ""
    if not path or not os.path.exists(path):
        return None
    with gzip.open(path, "rt") as f:
        return [ln.split() for ln in f if ln.strip()]


MEAN = [0.0, 0.0, 100.0, 518.67, 642.68, 1590.5, 1408.9, 14.62, 21.61, 553.37, 2388.1, 9065.2,
        1.3, 47.54, 521.41, 2388.1, 8143.8, 8.44, 0.03, 393.2, 2388.0, 100.0, 38.82, 23.29]


def synthetic(units, shift):
    rows = []
    for u in range(1, units + 1):
        for c in range(1, 41):
            vals = [m * shift * (1 + random.gauss(0, 0.002)) if i >= 3 else m
                    for i, m in enumerate(MEAN)]
            rows.append([str(u), str(c)] + [f"{v:.4f}" for v in vals])
    return rows


def predict(rows, offset):
    text = "".join(" ".join([str(int(r[0]) + offset)] + r[1:]) + "\n" for r in rows)
    return http("POST", args.predict + "/v1/predict", text.encode(), "text/plain")["predictions"]


def truth(rul_rows, rows):
    """True RUL at each engine's last cycle (the RUL file), else a made-up one."""
    if rul_rows:
        return {i + 1: float(r[0]) for i, r in enumerate(rul_rows)}
    return {int(r[0]): 60.0 + int(r[0]) % 40 for r in rows}


fd001 = read("test_FD001") or synthetic(100, 1.0)
true1 = truth(read("RUL_FD001"), fd001)
preds = predict(fd001, 0)
recs = [{"unit": p["unit"], "cycle": p["cycle"], "predicted_rul": p["rul"],
         "actual_rul": true1[p["unit"]]} for p in preds]
for i in range(0, len(recs), 500):
    http("POST", args.feedback + "/v1/feedback", {"records": recs[i:i + 500]})
print(f"FD001: {len(preds)} engines predicted and scored")

with open(args.token) as f:
    token = f.read().strip()
http("POST", args.predict + "/v1/drift/window", {"label": "Q2 FD004"}, token=token)
fd004 = read("test_FD004") or synthetic(250, 1.08)
n = 0
for offset in (1000, 2000, 3000):  # past the window's min_observations
    n += len(predict(fd004, offset))
print(f"FD004: {n} engines predicted in window 'Q2 FD004'")

if args.fleet:
    # the last 20 cycles of 30 engines, one request per cycle step: the fleet view's engines
    by = {}
    for r in fd001:
        by.setdefault(int(r[0]), []).append(r)
    units = sorted(by)[:30]
    for step in range(20):
        rows = [by[u][-20 + step] for u in units if len(by[u]) >= 20]
        text = "".join(" ".join([str(int(r[0]) + 5000)] + r[1:]) + "\n" for r in rows)
        http("POST", args.predict + "/v1/cycles", text.encode(), "text/plain")
    print(f"fleet: {len(units)} engines streamed through /v1/cycles")
