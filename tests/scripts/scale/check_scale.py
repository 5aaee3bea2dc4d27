#!/usr/bin/env python3
# check_scale.py - the traffic and the checks of test_scale_prometheus.sh.
#
# The engines of test_FD001 are split among the instances by unit number (unit % N), every
# cycle streamed through POST /v1/cycles (each cycle is a prediction: drift observes it, the
# prediction log stores it), then every engine's failure event (failed_at_cycle = its last
# cycle + its true RUL) scores those predictions. The reference instance gets all of it.
# Then, once Prometheus has scraped the final counters and evaluated the rules:
# - cluster_feature:drift_psi:since_start{cluster="scaled"} per feature equals the PSI the
#   reference reports in GET /v1/drift (and the same rule over the reference's cluster);
# - cluster_model:feedback_rmse:since_start and :mae equal the all-time RMSE and MAE of the
#   reference's GET /v1/feedback/stats;
# - no single instance's own PSI is the fleet's (or the test would prove nothing).
import argparse
import gzip
import json
import math
import os
import re
import sys
import time
import urllib.parse
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--prom", required=True)
p.add_argument("--data", required=True)
p.add_argument("--instance", action="append", required=True, help="PREDICT_URL,FEEDBACK_URL")
p.add_argument("--reference", required=True, help="PREDICT_URL,FEEDBACK_URL")
p.add_argument("--rules", required=True, help="rules-fleet/fleet_wide.yml")
args = p.parse_args()

failures = []


def fail(msg):
    print("FAIL:", msg, flush=True)
    failures.append(msg)


def http(method, url, body=None, ctype=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_json(url):
    status, body = http("GET", url)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status} {body[:200]!r}")
    return json.loads(body)


def query(expr):
    url = args.prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    d = get_json(url)
    return d["data"]["result"]


def wait_for(what, pred, timeout):
    """Poll pred() every 0.5 s until it returns a true value, at most timeout seconds."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(0.5)
    fail(f"timed out after {timeout} s waiting for {what}")
    return None


def read_rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return [line.strip() for line in f if line.strip()]


def find(name):
    for n in (name + ".gz", name):
        if os.path.exists(os.path.join(args.data, n)):
            return os.path.join(args.data, n)
    raise SystemExit(f"FAIL: {name} not in {args.data}")


rows = read_rows(find("test_FD001.txt"))
ruls = [float(x) for x in read_rows(find("RUL_FD001.txt"))]
by_unit = {}
for line in rows:
    by_unit.setdefault(int(line.split()[0]), []).append(line)
units = sorted(by_unit)
last_cycle = {u: int(float(by_unit[u][-1].split()[1])) for u in units}

instances = [tuple(s.split(",")) for s in args.instance]
reference = tuple(args.reference.split(","))
n = len(instances)
share = {i: [u for u in units if u % n == i] for i in range(n)}


def post_cycles(predict_url, engines):
    """Every cycle of the engines, in cycle order per engine, at most 1000 rows a request
    (the service takes 1024, max_instances)."""
    rows_of = [r for u in engines for r in by_unit[u]]
    sent = 0
    for k in range(0, len(rows_of), 1000):
        lines = rows_of[k:k + 1000]
        status, body = http("POST", predict_url + "/v1/cycles", ("\n".join(lines) + "\n").encode(),
                            "text/plain")
        if status != 200:
            raise SystemExit(f"FAIL: POST {predict_url}/v1/cycles: {status} {body[:300]!r}")
        got = len(json.loads(body)["predictions"])
        if got != len(lines):
            raise SystemExit(f"FAIL: {predict_url}/v1/cycles answered {got} predictions for"
                             f" {len(lines)} cycles")
        sent += got
    return sent


def post_failures(feedback_url, engines):
    records = [{"unit": u, "failed_at_cycle": last_cycle[u] + int(ruls[u - 1])} for u in engines]
    for k in range(0, len(records), 500):
        status, body = http("POST", feedback_url + "/v1/feedback",
                            json.dumps({"records": records[k:k + 500]}).encode(),
                            "application/json")
        if status != 200:
            raise SystemExit(f"FAIL: POST {feedback_url}/v1/feedback: {status} {body[:300]!r}")


# Every service scraped once before the traffic: the counters' first samples are then
# before it, so the rate and increase rules see all of it.
def all_up():
    r = query('count(up{job=~"rulsrv-.*"} == 1)')
    return bool(r) and float(r[0]["value"][1]) == 2 * (n + 1)


if not wait_for("Prometheus to scrape all eight services", all_up, 60):
    sys.exit(1)

expected = {}
for i, (pu, fu) in enumerate(instances):
    expected[fu] = post_cycles(pu, share[i])
expected[reference[1]] = post_cycles(reference[0], units)
total = sum(expected[fu] for _, fu in instances)
print(f"{len(units)} engines, {total} cycles: "
      + ", ".join(f"{len(share[i])} engines / {expected[fu]} cycles" for i, (_, fu) in enumerate(instances))
      + f"; the reference {expected[reference[1]]}", flush=True)
assert total == expected[reference[1]] == len(rows)

for i, (_, fu) in enumerate(instances):
    post_failures(fu, share[i])
post_failures(reference[1], units)


# Every prediction is scored once the log has stored it (the failure events may come first:
# the log then scores on arrival), and the feedback service has followed it.
def all_scored():
    return all(get_json(fu + "/v1/feedback/stats")["all_time"]["count"] == expected[fu]
               for fu in expected)


if not wait_for("every prediction to be scored on every instance", all_scored, 90):
    for fu in expected:
        print(f"  {fu}: {get_json(fu + '/v1/feedback/stats')['all_time']['count']}"
              f" of {expected[fu]}")
    sys.exit(1)


def by_label(result, label):
    return {s["metric"].get(label): float(s["value"][1]) for s in result}


# Prometheus has scraped the final counters of all eight services and evaluated the rules.
def prom_caught_up():
    up = by_label(query('cluster_job:up:sum{job="rulsrv-prediction"}'), "cluster")
    if up.get("scaled") != n or up.get("reference") != 1:
        return None
    counts = by_label(query("cluster_model:feedback_count:since_start"), "cluster")
    if counts.get("scaled") != total or counts.get("reference") != total:
        return None
    obs = query("cluster_feature:drift_bin_observations:since_start")
    if len(obs) != 2 * 24 or any(float(s["value"][1]) != total for s in obs):
        return None
    return True


if not wait_for("Prometheus to have the final counters in the fleet-wide rules", prom_caught_up, 60):
    print("  feedback counts:", query("cluster_model:feedback_count:since_start"))
    sys.exit(1)


def close(a, b):
    return abs(a - b) <= 1e-12 + 1e-9 * max(abs(a), abs(b))


# The reference's own figures: PSI computed in C over its one drift window, the all-time RMSE
# and MAE of its store.
drift = get_json(reference[0] + "/v1/drift")
if drift["window"]["observations"] != total:
    fail(f"reference drift window has {drift['window']['observations']} observations, not {total}")
ref_psi = {f["name"]: f["psi"] for f in drift["features"]}
stats = get_json(reference[1] + "/v1/feedback/stats")["all_time"]


def compare():
    """The PromQL figures against the reference's: ([mismatches], [report lines]). A scrape
    can fall between two counter updates of one flush, so the caller asks again for a while."""
    bad, report = [], []
    fleet_psi = {}
    for s in query("cluster_feature:drift_psi:since_start"):
        fleet_psi.setdefault(s["metric"]["cluster"], {})[s["metric"]["feature"]] = float(s["value"][1])
    if set(fleet_psi.get("scaled", {})) != set(ref_psi):
        bad.append(f"features: reference {sorted(ref_psi)}, fleet rule"
                   f" {sorted(fleet_psi.get('scaled', {}))}")
    worst = 0.0
    for feat, want in ref_psi.items():
        got = fleet_psi.get("scaled", {}).get(feat, math.nan)
        same_rule = fleet_psi.get("reference", {}).get(feat, math.nan)
        worst = max(worst, abs(got - want))
        if not close(got, want):
            bad.append(f"PSI of {feat}: fleet of {n} in PromQL {got!r}, the reference instance {want!r}")
        if not close(same_rule, want):
            bad.append(f"PSI of {feat}: the rule over the reference {same_rule!r}, its own {want!r}")
    report.append(f"fleet-wide PSI = the reference's on {len(ref_psi)} features (largest"
                  f" difference {worst:.1e}; max PSI {max(ref_psi.values()):.4f})")
    for name, rule in (("rmse", "cluster_model:feedback_rmse:since_start"),
                       ("mae", "cluster_model:feedback_mae:since_start")):
        got = by_label(query(rule), "cluster")
        scaled, same_rule = got.get("scaled", math.nan), got.get("reference", math.nan)
        if not close(scaled, stats[name]):
            bad.append(f"{name}: fleet of {n} in PromQL {scaled!r}, the reference {stats[name]!r}")
        if not close(same_rule, stats[name]):
            bad.append(f"{name}: the rule over the reference {same_rule!r}, its own {stats[name]!r}")
        report.append(f"fleet-wide {name.upper()} {scaled:.6f} = the reference's {stats[name]:.6f}")
    return bad, report


end_at = time.time() + 15
while True:
    bad, report = compare()
    if not bad or time.time() > end_at:
        break
    time.sleep(0.5)
for msg in bad:
    fail(msg)
for line in report:
    print(line, flush=True)

# Every rule of the file has a finite value for the scaled cluster (a misspelt metric name
# or label would leave one empty).
records = re.findall(r"^ *- record: (\S+)$", open(args.rules).read(), re.M)


def empty_rules():
    out = []
    for r in records:
        vals = [float(x["value"][1]) for x in query(r + '{cluster="scaled"}')]
        if not any(math.isfinite(v) for v in vals):
            out.append(r)
    return out


end_at = time.time() + 20
while empty_rules() and time.time() < end_at:
    # the request-rate rules need two scrapes that differ (see the shares below)
    for pu, _ in instances:
        http("GET", pu + "/v1/models")
    time.sleep(0.5)
for r in empty_rules():
    fail(f"rule {r}: no finite value for the scaled cluster")
print(f"{len(records)} fleet-wide rules evaluated with data", flush=True)

# The split matters: each instance alone reads a PSI of its own, not the fleet's.
differs = 0
for pu, _ in instances:
    own = {f["name"]: f["psi"] for f in get_json(pu + "/v1/drift")["features"]}
    if any(not close(own[f], ref_psi[f]) for f in ref_psi):
        differs += 1
if differs != n:
    fail(f"only {differs} of {n} instances read a PSI other than the fleet's: the check is void")

# Request rates across instances. The cycles above may all have fallen between two scrapes
# (a rate needs two samples that differ), so a light stream of GET /v1/models goes to every
# instance until each has a share of the cluster's client requests; the shares add up to 1.
def shares_present():
    for pu, _ in instances:
        http("GET", pu + "/v1/models")
    got = by_label(query('cluster_job_instance:http_client_requests:share5m{cluster="scaled",'
                         ' job="rulsrv-prediction"}'), "instance")
    return got if len(got) == n and all(v > 0 for v in got.values()) else None


shares = wait_for("a request share for each of the three prediction instances", shares_present, 30)
if shares:
    if not close(sum(shares.values()), 1.0):
        fail(f"request shares of the three prediction instances add up to {sum(shares.values())}")
    print("request shares of the three: "
          + ", ".join(f"{v:.2f}" for _, v in sorted(shares.items())), flush=True)
cycles = by_label(query("sum by (cluster) (fleet_cycles_total)"), "cluster")
if cycles.get("scaled") != total or cycles.get("reference") != total:
    fail(f"fleet_cycles_total summed per cluster: {cycles}, expected {total} each")

sys.exit(1 if failures else 0)
