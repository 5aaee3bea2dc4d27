#!/usr/bin/env bash
# test_scale_prometheus.sh - three rulsrv instances share the traffic of a C-MAPSS file (its
# engines split among them), a fourth, the reference, takes all of it; a real Prometheus
# scrapes the four through file_sd (monitoring/prometheus/prometheus-fleet.yml) and evaluates
# rules-fleet/fleet_wide.yml. The fleet-wide PSI per feature and the RMSE and MAE computed in
# PromQL over the three must be what the reference instance reports itself (GET /v1/drift,
# GET /v1/feedback/stats), within float rounding. docs/SCALING.md describes the set-up.
#
# Each instance is one rulsrv process with both services (prediction and feedback) on
# loopback ports of its own choosing (port 0) and its own SQLite file; drift windows are
# manual, so the reference's one window holds all of its traffic.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}

skip() { echo "skip: $*"; exit 77; }
[ -x /usr/bin/prometheus ] || skip "/usr/bin/prometheus missing (Debian package prometheus; make test-deps)"
command -v curl >/dev/null || skip "curl missing (make test-deps)"
command -v python3 >/dev/null || skip "python3 missing"
[ -x "$build/bin/rulsrv" ] || skip "$build/bin/rulsrv not built yet"
for p in predict_forest drift_psi feedback export_prometheus; do
	[ -f "$build/plugins/$p.so" ] || skip "plugin $build/plugins/$p.so not built yet"
done
bundle=${RULSRV_TEST_BUNDLE:-}
if [ -z "$bundle" ]; then
	bundle=$src/$(sed -n 's|^ *bundle = "\.\./\(.*\)";|\1|p' "$src/conf/rulsrv.conf" | head -n1)
fi
[ -f "$bundle/bundle.json" ] || skip "model bundle $bundle (conf/rulsrv.conf) not there yet"

tmp=$(mktemp -d /tmp/rulsrv-scale.XXXXXX)
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

dump_logs() {
	local f
	for f in "$tmp"/*.log; do echo "---- $f (last 20 lines)"; tail -n 20 "$f"; done
}

# The C-MAPSS test file FD001 (its engines, their last cycles and true RULs), else the same
# shape from cmapss-synth.
data=""
for d in "${CMAPSS_DIR:-}" "$src/data/cmapss" "$src/../shared/data/cmapss"; do
	if [ -n "$d" ] && [ -f "$d/test_FD001.txt.gz" ] && [ -f "$d/RUL_FD001.txt.gz" ]; then
		data=$d
		break
	fi
done
if [ -z "$data" ]; then
	echo "note: C-MAPSS data not found; synthetic engines from cmapss-synth are used"
	data=$tmp/synth
	"$build/bin/cmapss-synth" --out "$data" --seed 18 --units 20 --test-units 60 >/dev/null
fi

# rulsrv.conf with absolute paths, port 0 listeners, the instance's own database, manual drift
# windows, and without the console (which would fetch from a fixed feedback port).
make_conf() {
	local dir=$1
	mkdir -p "$dir"
	sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
	    -e "s|\"\.\./models/[^\"]*\"|\"$bundle\"|g" \
	    -e "s|\"\.\./var/feedback\.db\"|\"$dir/feedback.db\"|g" \
	    -e "s|\"\.\./|\"$src/|g" \
	    -e 's|listen = "127\.0\.0\.1:[0-9]*"|listen = "127.0.0.1:0"|' \
	    -e 's|^\( *reference = "[^"]*";\)$|\1 window = "manual";|' \
	    -e 's|, "console" \]| ]|' \
	    "$src/conf/rulsrv.conf" >"$dir/rulsrv.conf"
	grep -q 'window = "manual"' "$dir/rulsrv.conf" || { echo "FAIL: drift window substitution"; exit 1; }
	grep -q "\"$dir/feedback.db\"" "$dir/rulsrv.conf" || { echo "FAIL: database substitution"; exit 1; }
}

declare -A pport fport
start_instance() {
	local name=$1 log=$tmp/rulsrv-$1.log i p f
	make_conf "$tmp/$name"
	: >"$log"
	"$build/bin/rulsrv" -c "$tmp/$name/rulsrv.conf" 2>"$log" &
	pids+=($!)
	for i in $(seq 150); do
		p=$(sed -n "s/.*service 'prediction' listening on [0-9.]*:\([0-9]*\).*/\1/p" "$log" | head -n1)
		f=$(sed -n "s/.*service 'feedback' listening on [0-9.]*:\([0-9]*\).*/\1/p" "$log" | head -n1)
		if [ -n "$p" ] && [ -n "$f" ] &&
		   curl --noproxy "*" -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 &&
		   curl --noproxy "*" -fsS "http://127.0.0.1:$f/readyz" >/dev/null 2>&1; then
			pport[$name]=$p
			fport[$name]=$f
			echo "instance $name: prediction :$p, feedback :$f (pid $!)"
			return 0
		fi
		kill -0 "$!" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: instance $name did not become ready"
	dump_logs
	exit 1
}
for n in a b c ref; do start_instance "$n"; done

# file_sd targets: the three in cluster "scaled", the reference in a cluster of its own.
mkdir -p "$tmp/prom/targets"
for svc in prediction feedback; do
	{
		echo "- targets:"
		for n in a b c; do
			if [ "$svc" = prediction ]; then echo "    - \"127.0.0.1:${pport[$n]}\""; else echo "    - \"127.0.0.1:${fport[$n]}\""; fi
		done
		echo "  labels: {cluster: \"scaled\"}"
		echo "- targets:"
		if [ "$svc" = prediction ]; then echo "    - \"127.0.0.1:${pport[ref]}\""; else echo "    - \"127.0.0.1:${fport[ref]}\""; fi
		echo "  labels: {cluster: \"reference\"}"
	} >"$tmp/prom/targets/$svc.yml"
done

# The shipped prometheus-fleet.yml, with only what the test needs substituted: 1 s intervals,
# absolute rule and targets paths, Prometheus's own port.
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e 's|^\(  scrape_interval:\).*|\1 1s|' \
    -e 's|^\(  scrape_timeout:\).*|\1 1s|' \
    -e 's|^\(  evaluation_interval:\).*|\1 1s|' \
    -e "s|\"localhost:9090\"|\"127.0.0.1:$prom_port\"|" \
    -e "s|^\(  - \)rules\(-fleet\)*/|\1$src/monitoring/prometheus/rules\2/|" \
    -e "s|\"targets/|\"$tmp/prom/targets/|" \
    "$src/monitoring/prometheus/prometheus-fleet.yml" >"$tmp/prom/prometheus.yml"
grep -q "$tmp/prom/targets/prediction" "$tmp/prom/prometheus.yml" || { echo "FAIL: targets substitution"; exit 1; }
grep -q "scrape_interval: 1s" "$tmp/prom/prometheus.yml" || { echo "FAIL: interval substitution"; exit 1; }
grep -q "$src/monitoring/prometheus/rules-fleet/" "$tmp/prom/prometheus.yml" || { echo "FAIL: rule path substitution"; exit 1; }

/usr/bin/prometheus --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/data" \
	--web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$tmp/prometheus.log" &
pids+=($!)
for i in $(seq 150); do
	curl --noproxy "*" -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break
	[ "$i" = 150 ] && { echo "FAIL: Prometheus did not become ready"; dump_logs; exit 1; }
	sleep 0.2
done

args=(--prom "http://127.0.0.1:$prom_port" --data "$data")
for n in a b c; do args+=(--instance "http://127.0.0.1:${pport[$n]},http://127.0.0.1:${fport[$n]}"); done
args+=(--reference "http://127.0.0.1:${pport[ref]},http://127.0.0.1:${fport[ref]}")
args+=(--rules "$src/monitoring/prometheus/rules-fleet/fleet_wide.yml")
rc=0
python3 "$src/tests/scripts/scale/check_scale.py" "${args[@]}" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
