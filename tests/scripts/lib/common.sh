# shellcheck shell=bash
# common.sh - sourced by the tests/scripts tests that run rulsrv (and Prometheus, HAProxy...) as
# plain processes on loopback: the source and build trees, the skips every such test makes,
# a scratch folder whose processes are stopped on exit, the shipped rulsrv.conf made to run
# from it, and starting an instance until its services answer /readyz.
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}

skip() { echo "skip: $*"; exit 77; }

# need_rulsrv [PLUGIN...]: skip unless curl, python3, the daemon, the plugins of a default
# instance (and each PLUGIN) and the model bundle are there. The bundle is conf/rulsrv.conf's,
# or RULSRV_TEST_BUNDLE=/abs/dir; its folder is left in $bundle.
need_rulsrv() {
	local p
	command -v curl >/dev/null || skip "curl missing (make test-deps)"
	command -v python3 >/dev/null || skip "python3 missing"
	[ -x "$build/bin/rulsrv" ] || skip "$build/bin/rulsrv not built yet"
	for p in predict_forest drift_psi feedback export_prometheus "$@"; do
		[ -f "$build/plugins/$p.so" ] || skip "plugin $build/plugins/$p.so not built yet"
	done
	bundle=${RULSRV_TEST_BUNDLE:-}
	if [ -z "$bundle" ]; then
		bundle=$src/$(sed -n 's|^ *bundle = "\.\./\(.*\)";|\1|p' "$src/conf/rulsrv.conf" | head -n1)
	fi
	[ -f "$bundle/bundle.json" ] || skip "model bundle $bundle (conf/rulsrv.conf) not there yet"
}

# scratch NAME: a new folder $tmp (/tmp/rulsrv-NAME.*); on exit every process whose pid is in
# $pids is stopped, then the folder is removed.
scratch() {
	tmp=$(mktemp -d "/tmp/rulsrv-$1.XXXXXX")
	pids=()
	trap scratch_cleanup EXIT
	trap 'exit 1' INT TERM
}
# shellcheck disable=SC2317  # run by the EXIT trap
scratch_cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}

# dump_logs [LINES]: the last LINES (30) of every log in $tmp and its folders, for a failure's
# output.
dump_logs() {
	local f
	for f in "$tmp"/*.log "$tmp"/*/*.log; do
		[ -f "$f" ] && { echo "---- $f (last ${1:-30} lines)"; tail -n "${1:-30}" "$f"; }
	done
	return 0
}

# cmapss_data [FILE...]: the first C-MAPSS folder ($CMAPSS_DIR, data/cmapss, ../shared/data/
# cmapss) that holds every FILE (default test_FD001.txt.gz), in $data; empty when none does.
cmapss_data() {
	local d f ok
	[ $# -gt 0 ] || set -- test_FD001.txt.gz
	data=""
	for d in "${CMAPSS_DIR:-}" "$src/data/cmapss" "$src/../shared/data/cmapss"; do
		[ -n "$d" ] || continue
		ok=1
		for f in "$@"; do [ -f "$d/$f" ] || ok=0; done
		if [ "$ok" = 1 ]; then data=$d; return 0; fi
	done
	return 0
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_conf DIR [SED_ARG...]: DIR/rulsrv.conf, the shipped configuration with absolute paths,
# port 0 listeners and the instance's own database (DIR/feedback.db, shared by its services
# as in the default); each SED_ARG (-e 'EXPR') is applied after those.
make_conf() {
	local dir=$1
	shift
	mkdir -p "$dir"
	sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
	    -e "s|\"\.\./models/[^\"]*\"|\"$bundle\"|g" \
	    -e "s|\"\.\./var/|\"$dir/|g" \
	    -e "s|\"\.\./|\"$src/|g" \
	    -e 's|listen = "127\.0\.0\.1:[0-9]*"|listen = "127.0.0.1:0"|' \
	    "$@" "$src/conf/rulsrv.conf" >"$dir/rulsrv.conf"
	grep -q "\"$dir/feedback.db\"" "$dir/rulsrv.conf" || { echo "FAIL: database substitution"; exit 1; }
}
# The console asks the feedback service at a fixed address; tests with port 0 listeners drop it.
no_console=(-e 's|, "console" \]| ]|')

# start_rulsrv NAME CONF SERVICE...: one rulsrv process with CONF, its log $tmp/rulsrv-NAME.log,
# running the one SERVICE given (-s, as rulsrv@SERVICE does) or, given several, all of CONF's.
# Returns once each SERVICE answers /readyz, with the pid in spid[NAME] and the port each
# logged in port[NAME/SERVICE]; fails the test when it does not within 30 s.
declare -A port spid
start_rulsrv() {
	local name=$1 conf=$2 log=$tmp/rulsrv-$1.log svc p ready _
	shift 2
	: >"$log"
	if [ $# = 1 ]; then
		"$build/bin/rulsrv" -c "$conf" -s "$1" 2>"$log" &
	else
		"$build/bin/rulsrv" -c "$conf" 2>"$log" &
	fi
	pids+=($!)
	spid[$name]=$!
	for _ in $(seq 150); do
		ready=1
		for svc in "$@"; do
			p=$(sed -n "s/.*service '$svc' listening on [0-9.]*:\([0-9]*\).*/\1/p" "$log" | head -n1)
			if [ -n "$p" ] && curl --noproxy "*" -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1; then
				port[$name/$svc]=$p
			else
				ready=0
			fi
		done
		if [ "$ready" = 1 ]; then
			echo "$name: $(for svc in "$@"; do printf '%s :%s ' "$svc" "${port[$name/$svc]}"; done)(pid ${spid[$name]})"
			return 0
		fi
		kill -0 "${spid[$name]}" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: $name did not become ready"
	dump_logs
	exit 1
}

# start_prometheus CONFIG PORT: Debian's Prometheus with CONFIG on 127.0.0.1:PORT, its data in
# $tmp/prometheus-data and its log $tmp/prometheus.log; returns once it is ready, fails the
# test when it is not within 30 s.
start_prometheus() {
	local i
	/usr/bin/prometheus --config.file="$1" --storage.tsdb.path="$tmp/prometheus-data" \
		--web.listen-address="127.0.0.1:$2" --log.level=warn 2>"$tmp/prometheus.log" &
	pids+=($!)
	for i in $(seq 150); do
		curl --noproxy "*" -fsS "http://127.0.0.1:$2/-/ready" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: Prometheus did not become ready"
	dump_logs
	exit 1
}
