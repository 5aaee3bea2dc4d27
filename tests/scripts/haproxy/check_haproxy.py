#!/usr/bin/env python3
# check_haproxy.py - the traffic and the checks of test_haproxy.sh.
#
# Engines of test_FD001 stream their cycles through HAProxy, one cycle per request with
# `X-Rulsrv-Unit`, taking turns, so that every request is answered before the next is sent:
# 1. each engine is answered by one instance (X-Rulsrv-Server) and both instances get some;
#    GET /v1/engines/{unit} reaches the same instance (the path hashed like the header);
#    POST /v1/predict without the header is spread over both; admin routes and /metrics are
#    refused at the balancer; a feedback record passes the feedback frontend;
# 2. the instance holding some engines is SIGKILLed between two requests: every later
#    request is answered 200, the first ones through HAProxy's retry and redispatch (its
#    counters show it), the moved engines by the survivor; the health check then marks the
#    dead instance DOWN.
import argparse
import gzip
import json
import os
import signal
import socket
import sys
import time
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--predict", required=True)
p.add_argument("--feedback", required=True)
p.add_argument("--stats", required=True, help="HAProxy's stats socket")
p.add_argument("--kill", required=True, help="SERVER=PID=PORT of the instance to kill")
args = p.parse_args()
kill_name, kill_pid, kill_port = args.kill.split("=")
failures = []


def fail(msg):
    print("FAIL:", msg, flush=True)
    failures.append(msg)


opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def stats():
    """HAProxy's `show stat`: {(proxy, server): {field: value}}."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(args.stats)
    s.sendall(b"show stat\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    lines = out.decode().strip().splitlines()
    head = lines[0].lstrip("# ").split(",")
    return {(r[0], r[1]): dict(zip(head, r)) for r in (line.split(",") for line in lines[1:])}


def wait_for(what, pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    fail(f"timed out after {timeout} s waiting for {what}")
    return None


def status_of(server):
    return stats().get(("prediction", server), {}).get("status", "")


# Both prediction servers UP (health checks passed: rise 3 at 1 s).
for server in ("predict1", "predict2"):
    if not wait_for(f"{server} to be UP in HAProxy", lambda: status_of(server) == "UP", 30):
        sys.exit(1)
if not wait_for("feedback1 to be UP in HAProxy",
                lambda: stats().get(("feedback", "feedback1"), {}).get("status") == "UP", 30):
    sys.exit(1)

path = os.path.join(args.data, "test_FD001.txt.gz")
if not os.path.exists(path):
    path = os.path.join(args.data, "test_FD001.txt")  # cmapss-synth writes it uncompressed
by_unit = {}
with (gzip.open if path.endswith(".gz") else open)(path, "rt") as f:
    for line in f:
        if line.strip():
            by_unit.setdefault(int(line.split()[0]), []).append(line.strip())
units = sorted(by_unit)[:20]
next_row = {u: 0 for u in units}
served_by = {}
requests = 0
refused = []


def send_cycle(u):
    """The engine's next cycle through HAProxy; returns the server that answered."""
    global requests
    row = by_unit[u][next_row[u]]
    next_row[u] += 1
    status, headers, body = http("POST", args.predict + "/v1/cycles", (row + "\n").encode(),
                                 {"Content-Type": "text/plain", "X-Rulsrv-Unit": str(u)})
    requests += 1
    if status != 200:
        refused.append(f"unit {u} cycle {next_row[u]}: {status} {body[:200]!r}")
        return None
    preds = json.loads(body)["predictions"]
    if len(preds) != 1 or preds[0]["unit"] != u:
        refused.append(f"unit {u}: answer {body[:200]!r}")
    return headers.get("X-Rulsrv-Server")


def round_of_cycles():
    return {u: send_cycle(u) for u in units if next_row[u] < len(by_unit[u])}


# 1. Routing by engine.
for _ in range(5):
    for u, server in round_of_cycles().items():
        served_by.setdefault(u, set()).add(server)
moved = [u for u, s in served_by.items() if len(s) != 1]
if moved:
    fail(f"engines answered by more than one instance before any failure: {moved}")
home = {u: next(iter(s)) for u, s in served_by.items()}
on_killed = [u for u in units if home[u] == kill_name]
counts = {s: sum(1 for u in units if home[u] == s) for s in ("predict1", "predict2")}
print(f"{len(units)} engines by X-Rulsrv-Unit: {counts}", flush=True)
if not on_killed or len(on_killed) == len(units):
    fail(f"the hash put {len(on_killed)} of {len(units)} engines on {kill_name}: no split")

for u in units:
    status, headers, body = http("GET", f"{args.predict}/v1/engines/{u}")
    if status != 200 or headers.get("X-Rulsrv-Server") != home[u]:
        fail(f"GET /v1/engines/{u}: {status} from {headers.get('X-Rulsrv-Server')},"
             f" the engine is on {home[u]}")

# Stateless predictions without the header: round robin over both.
rr = set()
for u in units[:6]:
    body = json.dumps({"unit": u, "cycles": [
        {"cycle": int(r.split()[1]), "settings": [float(x) for x in r.split()[2:5]],
         "sensors": [float(x) for x in r.split()[5:26]]} for r in by_unit[u][:30]]}).encode()
    status, headers, answer = http("POST", args.predict + "/v1/predict", body,
                                   {"Content-Type": "application/json"})
    if status != 200:
        fail(f"POST /v1/predict unit {u}: {status} {answer[:200]!r}")
    rr.add(headers.get("X-Rulsrv-Server"))
if rr != {"predict1", "predict2"}:
    fail(f"POST /v1/predict without X-Rulsrv-Unit went to {rr}, not both instances")

for method, url, want in (("POST", args.predict + "/-/reload", 403),
                          ("GET", args.predict + "/metrics", 404),
                          ("POST", args.feedback + "/-/reload", 403),
                          ("GET", args.feedback + "/v1/feedback/stats", 200)):
    status, _, _ = http(method, url)
    if status != want:
        fail(f"{method} {url} through HAProxy: {status}, expected {want}")
# A ground-truth record through the feedback frontend: answered after its durable commit.
status, headers, body = http("POST", args.feedback + "/v1/feedback",
                             b'{"unit": 9999, "cycle": 1, "actual_rul": 10, "predicted_rul": 12}',
                             {"Content-Type": "application/json"})
if status != 200 or headers.get("X-Rulsrv-Server") != "feedback1":
    fail(f"POST /v1/feedback through HAProxy: {status} from {headers.get('X-Rulsrv-Server')}"
         f" {body[:200]!r}")

# 2. Kill the instance between two requests, and go on at once (before any health check
# can have noticed: the first requests for its engines hit a closed port).
before = stats()[("prediction", "BACKEND")]
os.kill(int(kill_pid), signal.SIGKILL)


def port_closed():
    try:
        socket.create_connection(("127.0.0.1", int(kill_port)), timeout=1).close()
        return False
    except OSError:
        return True


if not wait_for(f"{kill_name}'s port to refuse connections", port_closed, 10):
    sys.exit(1)
t_kill = time.time()
after_kill = {}
first = {u: send_cycle(u) for u in on_killed}
retried_at = time.time() - t_kill
rounds = 0
while time.time() - t_kill < 4 and any(next_row[u] < len(by_unit[u]) for u in units):
    for u, server in round_of_cycles().items():
        after_kill.setdefault(u, set()).add(server)
    rounds += 1
after = stats()[("prediction", "BACKEND")]
retries = int(after["wretr"]) - int(before["wretr"])
redispatches = int(after["wredis"]) - int(before["wredis"])
survivor = "predict1" if kill_name == "predict2" else "predict2"
print(f"killed {kill_name} (pid {kill_pid}); {len(on_killed)} of its engines answered in"
      f" {retried_at:.2f} s, then {rounds} rounds; HAProxy retried {retries},"
      f" redispatched {redispatches}", flush=True)
if any(s != survivor for s in first.values()):
    fail(f"first cycles after the kill: {first}, expected all from {survivor}")
if any(s != {survivor} for s in after_kill.values()):
    fail(f"after the kill, engines were answered by {after_kill}")
# With `option redispatch 1` each retry goes to another server and counts as a redispatch.
if retries + redispatches < 1:
    fail("no retry or redispatch counted: the kill was covered by the health check alone,"
         " not by retries")
wait_for(f"{kill_name} to be DOWN in HAProxy", lambda: status_of(kill_name).startswith("DOWN"), 10)
for u in units:
    if next_row[u] < len(by_unit[u]):
        if send_cycle(u) != survivor:
            fail(f"unit {u} not answered by {survivor} once {kill_name} is down")

if refused:
    fail(f"{len(refused)} of {requests} requests failed: {refused[:5]}")
print(f"{requests} cycles through HAProxy, {len(refused)} failed", flush=True)
sys.exit(1 if failures else 0)
