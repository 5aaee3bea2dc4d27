#!/usr/bin/env python3
"""check_topology.py - the replay through the scale-out topology, against one instance.

1. The reference: rulsrv-replay against one instance (SQLite); its feedback count and
   all-time RMSE once the prediction log has caught up.
2. The same replay through HAProxy in front of the cluster; one prediction and one feedback
   instance SIGKILLed while it runs. The replay must exit 0: every request answered, with
   retries (HAProxy's for refused connections, the replay's own for cut-off ones) only.
3. The cluster's ground truth (GET /v1/feedback/stats through HAProxy, read from the shared
   PostgreSQL database) equals the reference's: the same count and all-time RMSE. A lost
   acknowledged cycle, a forked engine window or a prediction scored twice or not at all
   changes one of them.
4. Prometheus scraped the topology: the killed instances are down, the others up.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--build", required=True)
p.add_argument("--data", required=True)
p.add_argument("--bundle", required=True)
p.add_argument("--reference", nargs=2, required=True, metavar=("PREDICT", "FEEDBACK"))
p.add_argument("--cluster", nargs=2, required=True, metavar=("PREDICT", "FEEDBACK"))
p.add_argument("--prometheus", required=True)
p.add_argument("--kill", nargs="+", required=True, metavar="NAME=PID")
a = p.parse_args()

REPLAY = ["--data", a.data, "--bundle", a.bundle, "--quarters", "FD001", "--units", "12",
          "--seed", "4", "--concurrency", "6", "--fleet", "12", "--failure-delay", "0.3",
          "--rate", "300", "--retries", "8", "--no-progress"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def replay(predict, feedback):
    return subprocess.Popen([a.build + "/bin/rulsrv-replay", "--predict", predict,
                             "--feedback", feedback] + REPLAY,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def settled_stats(feedback):
    """all_time of GET /v1/feedback/stats once it stops moving (the prediction log's writer
    lets predictions gather for 0.5 s, and late ones are scored when they land)."""
    last, same = None, 0
    for _ in range(60):
        s = get_json(feedback + "/v1/feedback/stats")["all_time"]
        same = same + 1 if s == last else 0
        if same >= 4:
            return s
        last = s
        time.sleep(0.5)
    fail(f"the feedback figures of {feedback} kept moving: {last}")


t0 = time.time()
ref = replay(*a.reference)
out, _ = ref.communicate(timeout=600)
ref_seconds = time.time() - t0
if ref.returncode != 0:
    fail(f"the reference replay exited {ref.returncode}:\n{out}")
ref_stats = settled_stats(a.reference[1])
print(f"reference: {ref_stats['count']} records, RMSE {ref_stats['rmse']:.6f}, "
      f"replay {ref_seconds:.1f} s")
if ref_stats["count"] < 100:
    fail(f"the reference replay scored only {ref_stats['count']} predictions:\n{out}")

run = replay(*a.cluster)
# Kill a third of the way in, by the reference's duration.
time.sleep(ref_seconds / 3)
if run.poll() is not None:
    fail("the replay through HAProxy ended before the kills:\n" + run.stdout.read())
for k in a.kill:
    name, pid = k.split("=")
    os.kill(int(pid), signal.SIGKILL)
    print(f"SIGKILL {name} (pid {pid}) at {ref_seconds / 3:.1f} s")
out, _ = run.communicate(timeout=600)
print(out)
if run.returncode != 0:
    fail(f"the replay through the topology exited {run.returncode}: a request failed beyond "
         "the retries")

stats = settled_stats(a.cluster[1])
print(f"cluster: {stats['count']} records, RMSE {stats['rmse']:.6f}")
bad = []
if stats["count"] != ref_stats["count"]:
    bad.append(f"feedback count {stats['count']}, one instance {ref_stats['count']}")
if abs(stats["rmse"] - ref_stats["rmse"]) > 1e-6 * max(1.0, ref_stats["rmse"]):
    bad.append(f"all-time RMSE {stats['rmse']!r}, one instance {ref_stats['rmse']!r}")
if bad:
    fail("the cluster's ground truth differs from one instance's: " + "; ".join(bad))

# Prometheus: every target known, the killed ones down.
q = urllib.parse.quote('up{job=~"rulsrv-.*"}')
deadline = time.time() + 20
while True:
    res = get_json(f"{a.prometheus}/api/v1/query?query={q}")["data"]["result"]
    up = sorted(int(float(r["value"][1])) for r in res)
    if up == [0, 0, 1, 1, 1]:
        break
    if time.time() > deadline:
        fail(f"Prometheus sees up = {up} for the 5 instances, expected 2 down and 3 up")
    time.sleep(1)
print("Prometheus: 3 instances up, the 2 killed down")
print("ok: the topology lost nothing")
