#!/usr/bin/env python3
# check_live.py - drive two running rulsrv services and check, through a real Prometheus
# scraping them with the shipped configuration and rules, that the monitoring stack works:
# both targets up, the request counters increasing between scrapes, and every PromQL
# expression of every dashboard panel, annotation, variable and rule evaluating without error
# and returning data. Started by test_monitoring_live.sh, which owns the processes.
import argparse
import gzip
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--src", required=True)
ap.add_argument("--prom", required=True, help="Prometheus base URL")
ap.add_argument("--predict", required=True, help="prediction service base URL")
ap.add_argument("--feedback", required=True, help="feedback service base URL")
ap.add_argument("--conf", required=True, help="the rulsrv.conf both services read")
ap.add_argument("--feedback-pid", type=int, required=True)
ap.add_argument("--data", default="", help="C-MAPSS directory (optional)")
args = ap.parse_args()

failures = []
random.seed(7)

# Alerts whose condition this test makes true by causing the event, and when it checks.
DRIVEN = {
    "RulsrvDriftDetected": "after FD004 engines in a fresh drift window",
    "RulsrvModelAccuracyDegraded": "after ground truth 60 cycles away from the predictions",
    "RulsrvConfigReloadFailed": "while a broken rulsrv.conf is in place after POST /-/reload",
    "RulsrvServiceDown": "after the feedback service was stopped",
    "RulsrvEnginesNearEndOfLife": "after FD001 training engines streamed to their last cycles",
}
# Alerts whose condition cannot be made true here: the test checks that the alert stays quiet
# and that the quantity it watches has data (so the names and labels are right).
NOT_DRIVEN = {
    "RulsrvPredictionLatencyHigh": (
        "job_model:prediction_latency_seconds:p99_5m",
        "a p99 over 100 ms needs predictions 100x slower than this machine makes them"),
    "RulsrvHighErrorRatio": (
        "job:http_request_errors:ratio_rate5m",
        "no request of the serving API makes a healthy service answer 5xx on purpose (a failed"
        " /-/reload answers 500 but is left out of the ratio by design; checked below)"),
    "RulsrvPluginDown": (
        "rulsrv_plugin_up",
        "no plugin can be made to report itself down from outside a running service"),
    "RulsrvStoreDown": (
        "feedback_store_up",
        "the shipped feedback store is a SQLite file, always up; a PostgreSQL outage is driven"
        " by tests/integration/test_feedback_pg.c"),
}


def fail(msg):
    print("FAIL:", msg, flush=True)
    failures.append(msg)


# Everything is on loopback: never through an http_proxy of the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, ctype="application/json", timeout=10):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def query(expr):
    """(result list, None) or (None, error text) for an instant query now."""
    url = args.prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        status, body = http("GET", url)
        doc = json.loads(body)
    except (OSError, ValueError) as e:
        return None, f"query failed: {e}"
    if doc.get("status") != "success":
        return None, f"{doc.get('errorType')}: {doc.get('error')}"
    res = doc["data"]["result"]
    if doc["data"]["resultType"] == "scalar":
        res = [{"metric": {}, "value": res}]
    return res, None


def finite(result):
    return [s for s in result if math.isfinite(float(s["value"][1]))]


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            fail(f"timed out after {timeout} s waiting for {what}")
            return v
        time.sleep(0.5)


# ---- traffic -------------------------------------------------------------------------------

def read_cmapss(name):
    path = os.path.join(args.data, name + ".txt.gz") if args.data else ""
    if not path or not os.path.exists(path):
        return None
    with gzip.open(path, "rt") as f:
        return [ln.split() for ln in f if ln.strip()]


# Typical FD001 values of the 3 settings and 21 sensors, for when the data set is absent.
FD001_MEAN = [0.0, 0.0, 100.0, 518.67, 642.68, 1590.5, 1408.9, 14.62, 21.61, 553.37, 2388.1,
              9065.2, 1.3, 47.54, 521.41, 2388.1, 8143.8, 8.44, 0.03, 393.2, 2388.0, 100.0,
              38.82, 23.29]


def synthetic(units, shift):
    rows = []
    for u in range(1, units + 1):
        for c in range(1, 41):
            vals = [m * shift * (1 + random.gauss(0, 0.002)) if i >= 3 else m + random.gauss(0, 0.001)
                    for i, m in enumerate(FD001_MEAN)]
            rows.append([str(u), str(c)] + [f"{v:.4f}" for v in vals])
    return rows


def engines(rows, last=30):
    """{unit: its last `last` rows} in file order."""
    by = {}
    for r in rows:
        by.setdefault(int(r[0]), []).append(r)
    return {u: rs[-last:] for u, rs in by.items()}


NORMAL = engines(read_cmapss("test_FD001") or synthetic(100, 1.0))
DRIFTED = engines(read_cmapss("test_FD004") or synthetic(100, 1.08))
# Fleet mode: training engines run to failure, so their last cycles are predicted near the end
# of life. Without the data set, synthetic engines (no wear): the near-end alert stays quiet.
FLEET_ENGINES = 20
FLEET_CYCLES = 40
FLEET_UNIT = 5000  # streamed units never share a number with the /v1/predict ones
TRAIN = read_cmapss("train_FD001")
FLEET = engines(TRAIN or synthetic(FLEET_ENGINES, 1.0), last=FLEET_CYCLES)
if not TRAIN:
    DRIVEN.pop("RulsrvEnginesNearEndOfLife")
    NOT_DRIVEN["RulsrvEnginesNearEndOfLife"] = (
        'fleet_engines_below_rul{threshold="25"}',
        "without the C-MAPSS training files no streamed engine is near the end of its life")
print(f"traffic: {len(NORMAL)} normal engines, {len(DRIFTED)} drifted engines"
      f" ({'C-MAPSS' if args.data else 'synthetic'})", flush=True)


def predict_text(units_rows, unit_offset=0):
    """POST C-MAPSS rows of several engines; returns [(unit, cycle, rul)]."""
    text = "".join(" ".join([str(int(r[0]) + unit_offset)] + r[1:]) + "\n"
                   for rows in units_rows for r in rows)
    status, body = http("POST", args.predict + "/v1/predict", text.encode(), "text/plain")
    if status != 200:
        fail(f"POST /v1/predict (text/plain) answered {status}: {body[:200]!r}")
        return []
    return [(p["unit"], p["cycle"], p["rul"]) for p in json.loads(body)["predictions"]]


def predict_json(unit, rows):
    body = {"unit": unit, "cycles": [{"cycle": int(r[1]), "settings": [float(x) for x in r[2:5]],
                                      "sensors": [float(x) for x in r[5:26]]} for r in rows]}
    status, resp = http("POST", args.predict + "/v1/predict", body)
    if status != 200:
        fail(f"POST /v1/predict (JSON) answered {status}: {resp[:200]!r}")


def cycle_obj(unit, r):
    return {"unit": unit, "cycle": int(r[1]), "settings": [float(x) for x in r[2:5]],
            "sensors": [float(x) for x in r[5:26]]}


def fleet_traffic():
    """Stream FLEET's engines through POST /v1/cycles, one cycle per request, flight after
    flight; then a stale cycle, an invalid body and a wrong media type (refusals), a failure
    event and a DELETE (evictions). Returns (cycles ingested, engines still tracked)."""
    units = sorted(FLEET)[:FLEET_ENGINES]
    streamed = 0
    for k in range(FLEET_CYCLES):
        for u in units:
            if k >= len(FLEET[u]):
                continue
            status, body = http("POST", args.predict + "/v1/cycles",
                                cycle_obj(FLEET_UNIT + u, FLEET[u][k]))
            if status != 200:
                fail(f"POST /v1/cycles answered {status}: {body[:200]!r}")
                return streamed, 0
            streamed += 1
    first, second = FLEET_UNIT + units[0], FLEET_UNIT + units[1]
    for body, ctype, want in (
            (cycle_obj(first, FLEET[units[0]][0]), "application/json", 409),
            (b'{"unit": 1, "cycle": 1}', "application/json", 422),
            (b"1 1 0 0 100", "application/xml", 415)):
        status, resp = http("POST", args.predict + "/v1/cycles", body, ctype)
        if status != want:
            fail(f"POST /v1/cycles with a bad cycle answered {status}, want {want}: {resp[:200]!r}")
    last = int(FLEET[units[0]][-1][1])
    status, body = http("POST", args.feedback + "/v1/feedback",
                        {"unit": first, "failed_at_cycle": last})
    if status // 100 != 2:
        fail(f"failure event answered {status}: {body[:200]!r}")
    status, body = http("DELETE", args.predict + f"/v1/engines/{second}")
    if status // 100 != 2:
        fail(f"DELETE /v1/engines/{second} answered {status}: {body[:200]!r}")
    return streamed, len(units) - 2


def check_fleet(streamed, tracked):
    """What the fleet traffic did, as Prometheus scraped it."""
    for expr, want in (("sum(fleet_cycles_total)", streamed),
                       ("sum(fleet_engines)", tracked),
                       ('sum(fleet_cycle_refusals_total{reason="stale_cycle"})', 1),
                       ('sum(fleet_cycle_refusals_total{reason="invalid"})', 1),
                       ('sum(fleet_cycle_refusals_total{reason="unsupported_media_type"})', 1),
                       ('sum(fleet_evictions_total{reason="failure"})', 1),
                       ('sum(fleet_evictions_total{reason="deleted"})', 1)):
        if not wait_for(f"{expr} == {want}", lambda: scalar(expr) == want, 10):
            print(f"  {expr} is {scalar(expr)}", flush=True)
    near = scalar('sum(fleet_engines_below_rul{threshold="25"})')
    print(f"fleet: {streamed} cycles streamed, {tracked} engines tracked, {near} under 25 cycles",
          flush=True)


def fleet_row():
    """[(where, expr)] of the panels of the Fleet row of Model Performance: those below the
    row panel titled Fleet, down to the next row."""
    d = promql.dashboards(args.src)["model_performance.json"]
    top = [p for p in d["panels"] if p.get("type") == "row" and p.get("title") == "Fleet"]
    if not top:
        fail("model_performance.json has no row titled Fleet")
        return []
    y0 = top[0]["gridPos"]["y"]
    below = [p["gridPos"]["y"] for p in d["panels"] if p.get("type") == "row" and p["gridPos"]["y"] > y0]
    y1 = min(below, default=float("inf"))
    return [(f"Fleet row panel {p['id']} '{p['title']}' {t['refId']}", promql.substitute(t["expr"], {}))
            for p in d["panels"] if p.get("type") != "row" and y0 < p["gridPos"]["y"] < y1
            for t in p.get("targets", [])]


def check_fleet_row():
    """Every query of the Fleet row returns data after the fleet traffic, and the refusal and
    eviction panels show the reasons the traffic caused."""
    exprs = fleet_row()
    for where, expr in exprs:
        if not wait_for(f"{where} to return data", lambda: finite(query(expr)[0] or []), 10):
            print(f"  {where}: {expr}", flush=True)
    for metric, reasons in (("fleet_cycle_refusals_total", ("stale_cycle", "invalid", "unsupported_media_type")),
                            ("fleet_evictions_total", ("failure", "deleted"))):
        expr = next((e for _, e in exprs if metric in e), None)
        if expr is None:
            fail(f"the Fleet row has no panel of {metric}")
            continue
        def seen():
            res = finite(query(expr)[0] or [])
            return {s["metric"].get("reason") for s in res if float(s["value"][1]) > 0} >= set(reasons)
        if not wait_for(f"{expr} to show {', '.join(reasons)}", seen, 10):
            print(f"  {expr}: {query(expr)[0]}", flush=True)
    print(f"Fleet row: {len(exprs)} queries returned data", flush=True)


def feedback(preds, error):
    # Off by exactly `error` cycles, late or early, never below 0 nor above the 125 cap.
    recs = [{"unit": u, "cycle": c, "predicted_rul": rul,
             "actual_rul": rul - error if rul >= error else rul + error}
            for u, c, rul in preds]
    status, body = http("POST", args.feedback + "/v1/feedback", {"records": recs})
    if status // 100 != 2:
        fail(f"POST /v1/feedback answered {status}: {body[:200]!r}")


def bad_requests():
    for url, body, ctype, want in (
            (args.predict + "/v1/predict", b"{not json", "application/json", 400),
            (args.predict + "/v1/predict", b'{"unit": 1, "cycles": [{"cycle": 1}]}',
             "application/json", 422),
            (args.feedback + "/v1/feedback", b'{"unit": 1}', "application/json", 422),
            (args.feedback + "/v1/feedback", b"[", "application/json", 400)):
        status, _ = http("POST", url, body, ctype)
        if status != want:
            fail(f"POST {url} with a bad body answered {status}, want {want}")
    http("GET", args.predict + "/no/such/path")


def traffic(engine_map, seconds, error, unit_offset=0, batch=10, at_least=1):
    """Predictions, feedback and bad requests for `seconds`, and at least `at_least` engines."""
    units = list(engine_map)
    end = time.time() + seconds
    n = 0
    i = 0
    while time.time() < end or n < at_least:
        chunk = [engine_map[u] for u in units[i:i + batch]] or [engine_map[units[0]]]
        i = (i + batch) % len(units)
        preds = predict_text(chunk, unit_offset)
        n += len(preds)
        if preds:
            feedback(preds, error)
        u = units[i % len(units)]
        predict_json(u + unit_offset, engine_map[u])
        bad_requests()
        time.sleep(0.05)
    return n


# ---- checks --------------------------------------------------------------------------------

def targets_up():
    status, body = http("GET", args.prom + "/api/v1/targets")
    health = {}
    for t in json.loads(body)["data"]["activeTargets"]:
        health[t["labels"]["job"]] = (t["health"], t.get("lastError", ""))
    return health


def scalar(expr):
    res, err = query(expr)
    if err or not res:
        return None
    return float(res[0]["value"][1])


def check_increasing(expr, drive):
    before = wait_for(f"{expr} to have data", lambda: scalar(expr), 10)
    drive()
    time.sleep(2.5)  # more than two scrapes at the test's 1 s interval
    after = scalar(expr)
    print(f"{expr}: {before} -> {after}", flush=True)
    if before is None or after is None or not after > before:
        fail(f"{expr} did not increase between scrapes ({before} -> {after})")


def variables():
    """Values for the dashboards' own variables: a real label value, or a regex for all."""
    out = {"instance": ".*"}
    res, err = query("group by (feature) (drift_reference_proportion)")
    feats = sorted(s["metric"]["feature"] for s in res or [])
    if not feats:
        fail(f"no drift_reference_proportion series ({err}): the $feature variable is empty")
    out["feature"] = feats[0] if feats else "none"
    return out


def alert_rules():
    return {r["alert"]: r for _, _, r in promql.rules(args.src) if "alert" in r}


def evaluate_all(deadline):
    """Every dashboard and recording-rule expression; the not-driven alerts' quantities."""
    vars_ = variables()
    exprs = [(w, promql.substitute(e, vars_)) for w, e in promql.dashboard_exprs(args.src)]
    exprs += [(w, e) for w, e in promql.rule_exprs(args.src) if " record " in w]
    exprs += [(f"quantity of {a} ({q})", q) for a, (q, _) in NOT_DRIVEN.items()]
    pending = dict(exprs)
    errors = {}
    end = time.time() + deadline
    while pending and time.time() < end:
        for w, e in list(pending.items()):
            res, err = query(e)
            if err:
                errors[w] = err
            elif finite(res):
                del pending[w]
                errors.pop(w, None)
        if pending:
            time.sleep(1)
    for w, e in pending.items():
        if w in errors:
            fail(f"{w}: query error {errors[w]}: {e}")
        else:
            fail(f"{w}: no finite data: {e}")
    print(f"evaluated {len(exprs)} dashboard, rule and quantity expressions:"
          f" {len(exprs) - len(pending)} returned data", flush=True)


def alert_expr_has_data(name, timeout):
    expr = alert_rules()[name]["expr"]
    ok = wait_for(f"the condition of {name} to hold ({DRIVEN[name]})",
                  lambda: (query(expr)[0] or []), timeout)
    if ok:
        print(f"{name}: condition holds ({DRIVEN[name]})", flush=True)


def alert_is_active(name, timeout):
    def active():
        status, body = http("GET", args.prom + "/api/v1/alerts")
        return [a for a in json.loads(body)["data"]["alerts"] if a["labels"]["alertname"] == name]
    got = wait_for(f"Prometheus to report {name} pending or firing", active, timeout)
    if got:
        ann = got[0].get("annotations", {})
        print(f"{name}: {got[0]['state']} in Prometheus: {ann.get('summary')}", flush=True)
        for key in ("summary", "description"):
            text = ann.get(key, "")
            if not text or "error expanding" in text or "<no value>" in text:
                fail(f"{name}: annotation {key} did not render on real labels: {text!r}")


def rules_healthy():
    status, body = http("GET", args.prom + "/api/v1/rules")
    n = 0
    for g in json.loads(body)["data"]["groups"]:
        for r in g["rules"]:
            n += 1
            if r.get("health") != "ok":
                fail(f"rule {r['name']} in group {g['name']}: health {r.get('health')}: "
                     f"{r.get('lastError')}")
    return n


def check_fleet_psi():
    """With one instance and one drift window so far, the fleet-wide PSI that the recording
    rules compute from the bin counters must equal the plugin's own drift_psi per feature."""
    time.sleep(3)  # traffic stopped: counters flushed, scraped, rules evaluated
    plugin, err1 = query("max by (feature) (drift_psi)")
    fleet, err2 = query("feature:drift_psi:1h")
    if err1 or err2:
        fail(f"PSI queries failed: {err1 or err2}")
        return
    p = {s["metric"]["feature"]: float(s["value"][1]) for s in finite(plugin)}
    f = {s["metric"]["feature"]: float(s["value"][1]) for s in finite(fleet)}
    if not p or set(p) != set(f):
        fail(f"features with PSI differ: plugin {sorted(p)}, recording rule {sorted(f)}")
        return
    worst = max(p, key=lambda k: abs(p[k] - f[k]))
    print(f"fleet PSI = plugin PSI on {len(p)} features; largest difference"
          f" {abs(p[worst] - f[worst]):.2e} ({worst}: {p[worst]:.5f} vs {f[worst]:.5f})", flush=True)
    for k in p:
        if abs(p[k] - f[k]) > 1e-6 + 1e-3 * abs(p[k]):
            fail(f"PSI of {k}: plugin {p[k]}, recording rule feature:drift_psi:1h {f[k]}")


def first_feedback_after_start():
    """The first ground-truth record after a start shows in model:feedback_rmse:1h.

    The feedback service exports the series of the model it expects (its `bundle`) at 0
    from the start, so the first record moves feedback_count_total from 0 to 1 and
    increase() sees it; a series born at 1 would have no increase, and the record would be
    lost to the rule until a second one came. Runs before any other traffic."""
    status, body = http("GET", args.predict + "/v1/models")
    model = json.loads(body)["models"][0]["name"]
    sel = f'{{job="rulsrv-feedback", model="{model}"}}'
    # Prometheus has scraped the series at 0 before any record exists.
    wait_for(f"feedback_count_total{sel} == 0 before the first record",
             lambda: (query(f"feedback_count_total{sel} == 0")[0] or None), 10)
    unit = next(iter(NORMAL))
    preds = predict_text([NORMAL[unit]])
    if not preds:
        return
    u, c, rul = preds[-1]
    actual = rul - 5 if rul >= 5 else rul + 5
    status, body = http("POST", args.feedback + "/v1/feedback",
                        {"unit": u, "cycle": c, "predicted_rul": rul, "actual_rul": actual,
                         "model": model})
    if status // 100 != 2:
        fail(f"POST /v1/feedback answered {status}: {body[:200]!r}")
        return
    rmse = wait_for(f"model:feedback_rmse:1h{{model=\"{model}\"}} after the first record",
                    lambda: scalar(f'model:feedback_rmse:1h{{model="{model}"}}'), 15)
    print(f"first record after the start: model:feedback_rmse:1h = {rmse} (error 5)", flush=True)
    if rmse is None or abs(rmse - 5) > 1e-6:
        fail(f"model:feedback_rmse:1h after one record 5 cycles off is {rmse}, want 5")


def broken_reload():
    backup = args.conf + ".good"
    shutil.copy(args.conf, backup)
    with open(args.conf, "a") as f:
        f.write("\nthis line is not libconfig\n")
    status, body = http("POST", args.predict + "/-/reload", b"")
    print(f"POST /-/reload with a broken config: {status} {body[:120]!r}", flush=True)
    if status // 100 == 2:
        fail("POST /-/reload with a broken rulsrv.conf answered 2xx")
    alert_expr_has_data("RulsrvConfigReloadFailed", 10)
    alert_is_active("RulsrvConfigReloadFailed", 5)
    # The failed reload's 5xx is counted under its handler, and kept out of the error ratio.
    wait_for("the failed reload in http_requests_total{handler=\"/-/reload\"}", lambda: scalar(
        'sum(http_requests_total{job="rulsrv-prediction", handler="/-/reload", code=~"5.."})'), 5)
    time.sleep(1.5)
    errs = scalar('job:http_request_errors:rate5m{job="rulsrv-prediction"}')
    if errs != 0:
        fail(f"job:http_request_errors:rate5m counts the failed reload: {errs}")
    shutil.copy(backup, args.conf)
    status, body = http("POST", args.predict + "/-/reload", b"")
    if status // 100 != 2:
        fail(f"POST /-/reload with the good config answered {status}: {body[:200]!r}")
    wait_for("rulsrv_config_last_reload_successful to come back to 1",
             lambda: scalar('min(rulsrv_config_last_reload_successful{job="rulsrv-prediction"})') == 1,
             10)


def main():
    health = wait_for("both rulsrv targets up", lambda: (
        lambda h: h if all(h.get(j, ("",))[0] == "up" for j in ("rulsrv-prediction", "rulsrv-feedback")) else None
    )(targets_up()), 20)
    print(f"targets: {targets_up()}", flush=True)
    if not health:
        return

    first_feedback_after_start()
    # More engines than drift_psi's min_observations (500), or its PSI stays NaN.
    n = traffic(NORMAL, 4, error=5, at_least=600)
    print(f"normal traffic: {n} engines predicted", flush=True)
    check_increasing("sum(prediction_requests_total)", lambda: traffic(NORMAL, 1.5, error=5))
    check_increasing("sum(feedback_count_total)", lambda: traffic(NORMAL, 1.5, error=5))
    check_fleet_psi()

    # Fleet mode: engines streamed to their last cycles, refusals and evictions.
    check_fleet(*fleet_traffic())
    check_fleet_row()
    if "RulsrvEnginesNearEndOfLife" in DRIVEN:
        alert_expr_has_data("RulsrvEnginesNearEndOfLife", 10)
        alert_is_active("RulsrvEnginesNearEndOfLife", 5)

    # Quarter transition, then engines from another subset, scored badly.
    status, body = http("POST", args.predict + "/v1/drift/window", {"label": "Q2 FD004"})
    if status // 100 != 2:
        fail(f"POST /v1/drift/window answered {status}: {body[:200]!r}")
    n = traffic(DRIFTED, 5, error=60, unit_offset=1000, batch=25, at_least=1200)
    print(f"drifted traffic: {n} engines predicted", flush=True)
    alert_expr_has_data("RulsrvDriftDetected", 15)
    alert_expr_has_data("RulsrvModelAccuracyDegraded", 10)
    evaluate_all(20)
    for name in ("RulsrvDriftDetected", "RulsrvModelAccuracyDegraded"):
        alert_is_active(name, 5)
    for expr in ("max(job_model:prediction_latency_seconds:p50_5m)",
                 "max(job_model:prediction_latency_seconds:p99_5m)",
                 "max(drift_psi_max)", "fleet:drift_psi_max:1h", "max(model:feedback_rmse:1h)",
                 "count({job=\"rulsrv-prediction\"})", "count({job=\"rulsrv-feedback\"})"):
        print(f"figure: {expr} = {scalar(expr)}", flush=True)

    broken_reload()

    rules = alert_rules()
    missing = set(rules) - set(DRIVEN) - set(NOT_DRIVEN)
    if missing:
        fail(f"alerts neither driven nor listed with a reason in NOT_DRIVEN: {sorted(missing)}")
    for name, (quantity, reason) in NOT_DRIVEN.items():
        res, err = query(rules[name]["expr"])
        if err or res:
            fail(f"{name}: expected no data on a healthy service, got {err or res}")
        else:
            print(f"{name}: quiet, as expected; not driven: {reason}", flush=True)
    print(f"rules: {rules_healthy()} evaluated by Prometheus", flush=True)

    os.kill(args.feedback_pid, signal.SIGTERM)
    alert_expr_has_data("RulsrvServiceDown", 10)
    alert_is_active("RulsrvServiceDown", 5)


main()
print(f"check_live: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
