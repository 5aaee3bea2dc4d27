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
# shellcheck source=tests/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

[ -x /usr/bin/prometheus ] || skip "/usr/bin/prometheus missing (Debian package prometheus; make test-deps)"
need_rulsrv
scratch scale

# The C-MAPSS test file FD001 (its engines, their last cycles and true RULs), else the same
# shape from cmapss-synth.
cmapss_data test_FD001.txt.gz RUL_FD001.txt.gz
if [ -z "$data" ]; then
	echo "note: C-MAPSS data not found; synthetic engines from cmapss-synth are used"
	data=$tmp/synth
	"$build/bin/cmapss-synth" --out "$data" --seed 18 --units 20 --test-units 60 >/dev/null
fi

declare -A pport fport
# Each instance: both services in one process, its own database, manual drift windows, and no
# console.
manual_window=(-e 's|^\( *reference = "[^"]*";\)$|\1 window = "manual";|')
for n in a b c ref; do
	make_conf "$tmp/$n" "${manual_window[@]}" "${no_console[@]}"
	grep -q 'window = "manual"' "$tmp/$n/rulsrv.conf" || { echo "FAIL: drift window substitution"; exit 1; }
	start_rulsrv "$n" "$tmp/$n/rulsrv.conf" prediction feedback
	pport[$n]=${port[$n/prediction]}
	fport[$n]=${port[$n/feedback]}
done

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
prom_port=$(free_port)
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

start_prometheus "$tmp/prom/prometheus.yml" "$prom_port"

args=(--prom "http://127.0.0.1:$prom_port" --data "$data")
for n in a b c; do args+=(--instance "http://127.0.0.1:${pport[$n]},http://127.0.0.1:${fport[$n]}"); done
args+=(--reference "http://127.0.0.1:${pport[ref]},http://127.0.0.1:${fport[ref]}")
args+=(--rules "$src/monitoring/prometheus/rules-fleet/fleet_wide.yml")
rc=0
python3 "$src/tests/scripts/scale/check_scale.py" "${args[@]}" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
