#!/usr/bin/env bash
# run_topology.sh - `make test-topology`: the scale-out topology of docs/SCALING.md on loopback,
# started and stopped
# here as plain processes: PostgreSQL (initdb/pg_ctl in a temporary folder), 3 prediction and 2
# feedback instances sharing it (store = "postgresql"), HAProxy with the shipped
# examples/haproxy/rulsrv.cfg in front, Prometheus scraping every instance through file_sd
# (monitoring/prometheus/prometheus-fleet.yml). A replay (rulsrv-replay, streaming one cycle
# per request) runs through HAProxy while one prediction and one feedback instance are
# SIGKILLed. The replay must finish with no failed request (retries only), and the ground
# truth it left must equal that of the same replay against one instance on SQLite: the same
# feedback count and all-time RMSE. tests/scripts/topology/check_topology.py holds the checks.
#
# `make test` runs it as test_topology (tests/scripts/test_topology.sh). It passes because an
# answer waits for the prediction log's commit (the feedback plugin's log_before_answer) and a
# cycle retried after the kill is logged once (docs/SCALING.md, "Predictions acknowledged just
# before an instance dies"); with log_before_answer = "none" the count comes out short.
set -euo pipefail
# shellcheck source=tests/scripts/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
. "$src/tests/scripts/topology/pg.sh"

haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || skip "haproxy missing (Debian package haproxy; make test-deps)"
[ -x /usr/bin/prometheus ] || skip "/usr/bin/prometheus missing (make test-deps)"
pgbin=$(pg_find_bindir)
[ -n "$pgbin" ] || skip "PostgreSQL's initdb/pg_ctl missing (Debian package postgresql; make test-deps)"
[ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 || skip "running as root without a postgres user"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml missing (make test-deps)"
[ -x "$build/bin/rulsrv-replay" ] || skip "$build/bin/rulsrv-replay not built yet"
RULSRV_TEST_BUNDLE=$src/models/fd001 need_rulsrv
cmapss_data train_FD001.txt.gz
[ -n "$data" ] || skip "C-MAPSS data not found (CMAPSS_DIR): the replay needs FD001"

scratch topology
# shellcheck disable=SC2317  # run by the EXIT trap
topology_cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pg_stop
	scratch_cleanup
}
trap topology_cleanup EXIT

pg_start "$pgbin" "$tmp/pg" "$(free_port)" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
echo "PostgreSQL: $pg_dsn"

# conf/rulsrv.conf with absolute paths, port 0 listeners, no console; STORE "sqlite:DB" or
# "postgresql": the model's fleet store and the feedback store both.
make_store_conf() {
	local out=$1 store=$2 db
	case "$store" in
	sqlite:*) db=${store#sqlite:}; repl="database = \"$db\";" ;;
	*) repl="store = \"postgresql\"; dsn = \"$pg_dsn\";" ;;
	esac
	sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
	    -e "s|\"\.\./models/[^\"]*\"|\"$bundle\"|g" \
	    -e "s|database = \"\.\./var/feedback\.db\";|$repl|g" \
	    -e "s|\"\.\./|\"$src/|g" \
	    -e 's|listen = "127\.0\.0\.1:[0-9]*"|listen = "127.0.0.1:0"|' \
	    -e 's|, "console" \]| ]|' \
	    "$src/conf/rulsrv.conf" >"$out"
	[ "$(grep -c -F "$repl" "$out")" = 2 ] || { echo "FAIL: store substitution in $out"; exit 1; }
}

# The reference: one instance, both services, SQLite.
make_store_conf "$tmp/reference.conf" "sqlite:$tmp/reference.db"
start_rulsrv reference "$tmp/reference.conf" prediction feedback
port[reference]=${port[reference/prediction]}
port[reference-feedback]=${port[reference/feedback]}

# The cluster: one configuration, each process one service of it, as rulsrv@SERVICE runs it.
make_store_conf "$tmp/cluster.conf" postgresql
for i in 1 2 3; do
	start_rulsrv "predict$i" "$tmp/cluster.conf" prediction
	port[predict$i]=${port[predict$i/prediction]}
done
for i in 1 2; do
	start_rulsrv "feedback$i" "$tmp/cluster.conf" feedback
	port[feedback$i]=${port[feedback$i/feedback]}
done

hp=$(free_port)
hf=$(free_port)
python3 "$src/tests/scripts/haproxy/make_cfg.py" "$src/examples/haproxy/rulsrv.cfg" \
	"$tmp/haproxy.cfg" "$hp" "$hf" "$tmp/haproxy.sock" \
	--predict "predict1=${port[predict1]}" "predict2=${port[predict2]}" "predict3=${port[predict3]}" \
	--feedback "feedback1=${port[feedback1]}" "feedback2=${port[feedback2]}"
"$haproxy" -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 || { cat "$tmp/haproxy-check.log"; exit 1; }
"$haproxy" -db -f "$tmp/haproxy.cfg" 2>"$tmp/haproxy.log" &
pids+=($!)

# Prometheus: the shipped fleet configuration, its targets files written for these instances.
pp=$(free_port)
mkdir -p "$tmp/prom/targets"
python3 - "$src/monitoring/prometheus" "$tmp/prom" <<PY
import sys, yaml
shipped, out = sys.argv[1], sys.argv[2]
cfg = yaml.safe_load(open(shipped + "/prometheus-fleet.yml"))
cfg["global"]["scrape_interval"] = "1s"
cfg["global"]["evaluation_interval"] = "1s"
cfg["global"]["scrape_timeout"] = "1s"
cfg["rule_files"] = [shipped + "/" + f if not f.startswith("/") else f for f in cfg.get("rule_files", [])]
for job in cfg["scrape_configs"]:
    for sd in job.get("file_sd_configs", []):
        sd["files"] = [out + "/targets/" + f.split("/")[-1] for f in sd["files"]]
        sd["refresh_interval"] = "1s"
yaml.safe_dump(cfg, open(out + "/prometheus.yml", "w"))
pred = [f"127.0.0.1:${port[predict1]}", f"127.0.0.1:${port[predict2]}", f"127.0.0.1:${port[predict3]}"]
fb = [f"127.0.0.1:${port[feedback1]}", f"127.0.0.1:${port[feedback2]}"]
yaml.safe_dump([{"targets": pred, "labels": {"cluster": "topology"}}], open(out + "/targets/prediction.yml", "w"))
yaml.safe_dump([{"targets": fb, "labels": {"cluster": "topology"}}], open(out + "/targets/feedback.yml", "w"))
PY
/usr/bin/prometheus --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/data" \
	--web.listen-address="127.0.0.1:$pp" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)

rc=0
python3 "$src/tests/scripts/topology/check_topology.py" --build "$build" --data "$data" \
	--bundle "$bundle" \
	--reference "http://127.0.0.1:${port[reference]}" "http://127.0.0.1:${port[reference-feedback]}" \
	--cluster "http://127.0.0.1:$hp" "http://127.0.0.1:$hf" \
	--prometheus "http://127.0.0.1:$pp" \
	--kill "predict2=${spid[predict2]}" "feedback1=${spid[feedback1]}" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
