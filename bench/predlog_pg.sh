#!/usr/bin/env bash
# predlog_pg.sh - the prediction log on PostgreSQL at saturation, beside the same daemon with
# the log on SQLite (the default), in one run: does it keep up (nothing dropped, everything
# answered written), and what it costs a request.
#
# Usage: bench/predlog_pg.sh [BUILD_DIR]
# Environment: RUNS (3) alternated rounds, DUR (5) seconds per figure, CONNS (32), CMAPSS_DIR.
# Needs PostgreSQL's initdb and pg_ctl (Debian package postgresql): a throwaway cluster is
# started in the scratch folder (tests/scripts/topology/pg.sh) with fsync on.
#
# Per store and body (one engine x 30 cycles; 256 engines x 1 cycle), wrk -t1 at CONNS
# connections against the default prediction service (conf/rulsrv.conf, with both of its
# stores, the fleet's and the feedback plugin's, on that store). After each run, once the log
# is idle: the daemon's own counts (predictions answered, written, dropped, failed) and its CPU per
# request (/proc).
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
build="$(cd "$build" && pwd)"
RUNS="${RUNS:-3}" DUR="${DUR:-5}" CONNS="${CONNS:-32}"
command -v wrk >/dev/null || { echo "predlog_pg.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
# shellcheck source=tests/scripts/topology/pg.sh
. "$src/tests/scripts/topology/pg.sh"
pgbin=$(pg_find_bindir)
[ -n "$pgbin" ] || { echo "predlog_pg.sh: PostgreSQL's initdb/pg_ctl not found" >&2; exit 1; }

bench_scratch predlog-pg
trap 'pg_stop; bench_cleanup' EXIT
say() { printf '[predlog-pg %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
clk_tck="$(getconf CLK_TCK)"
cpu_of() { awk -v t="$clk_tck" '{sub(/^.*\) /, ""); printf "%.4f\n", ($12 + $13) / t}' "/proc/$1/stat"; }

cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console bench_compute >/dev/null
"$build/bin/bench_compute" bodies "$src/models/fd001" "$work/bodies" >/dev/null
pg_start "$pgbin" "$work/pg" "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" ||
	{ echo "predlog_pg.sh: PostgreSQL did not start" >&2; exit 1; }

metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f\n", s}'; }

# figure STORE BODY: one daemon, one wrk run, the counts once the log is idle; appends
# "requests/s cpu_us answered written dropped failed" to $work/STORE.BODY.
figure() {
	local store=$1 body=$2 port r c0 c1 ok req answered written i repl
	rm -rf "$work/db" && mkdir -p "$work/db"
	# the shipped configuration, both stores (the fleet's and the feedback plugin's) on STORE
	if [ "$store" = sqlite ]; then
		repl="database = \"$work/db/rulsrv.db\";"
	else
		repl="store = \"postgresql\"; dsn = \"$pg_dsn\";"
	fi
	sed -e "s|database = \"\.\./var/feedback\.db\";|$repl|g" -e "s|\"\.\./|\"$src/|g" \
		"$src/conf/rulsrv.conf" >"$work/rulsrv.conf"
	[ "$(grep -c -F "$repl" "$work/rulsrv.conf")" = 2 ] ||
		{ echo "predlog_pg.sh: store substitution failed" >&2; exit 1; }
	"$build/bin/rulsrv" -c "$work/rulsrv.conf" -s prediction -o "plugin_dir=$build/plugins" \
		-o services.prediction.listen=127.0.0.1:0 2>"$work/rulsrv.log" &
	PID[rulsrv]=$!
	port=$(ready_port "$work/rulsrv.log" prediction 300) ||
		{ cat "$work/rulsrv.log" >&2; echo "predlog_pg.sh: the daemon did not start" >&2; exit 1; }
	c0=$(cpu_of "${PID[rulsrv]}")
	r=$(BODY="$work/bodies/$body.json" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s \
		-s "$src/bench/predict.lua" "http://127.0.0.1:$port/v1/predict" | sed -n 's/^RESULT //p')
	c1=$(cpu_of "${PID[rulsrv]}")
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	ok=$(field ok) req=$(field requests)
	answered=$(metric "$port" predictions_total)
	for i in $(seq 100); do # the log drains what is queued
		written=$(metric "$port" feedback_prediction_log_written_total)
		[ "$written" -ge "$answered" ] && break
		sleep 0.1
	done
	echo "$(awk -v ok="$ok" -v s="$(field seconds)" -v c0="$c0" -v c1="$c1" -v req="$req" \
		'BEGIN {printf "%.1f %.1f", ok / s, (c1 - c0) * 1e6 / (req > 0 ? req : 1)}') $answered $written $(metric "$port" feedback_prediction_log_dropped_total) $(metric "$port" feedback_prediction_log_failed_total)" >>"$work/$store.$body"
	kill "${PID[rulsrv]}"
	wait "${PID[rulsrv]}" || true
	unset "PID[rulsrv]"
}

say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
	for body in one-w30 batch256-w1; do
		for store in sqlite postgresql; do
			say "round $i of $RUNS: $body, the log on $store"
			figure "$store" "$body"
		done
	done
done
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
sum() { awk -v c="$2" '{s += $c} END {printf "%.0f\n", s}' "$1"; }
echo "| body, $CONNS connections (median of $RUNS) | log on | requests/s | server CPU µs/request | ÷ SQLite's | predictions answered | written | dropped | failed |"
echo "|---|---|---|---|---|---|---|---|---|"
for body in one-w30 batch256-w1; do
	sr=$(cut -d' ' -f1 "$work/sqlite.$body" | med) sc=$(cut -d' ' -f2 "$work/sqlite.$body" | med)
	for store in sqlite postgresql; do
		f=$work/$store.$body
		r=$(cut -d' ' -f1 "$f" | med) c=$(cut -d' ' -f2 "$f" | med)
		awk -v b="$body" -v st="$store" -v r="$r" -v c="$c" -v sr="$sr" -v sc="$sc" \
			-v a="$(sum "$f" 3)" -v w="$(sum "$f" 4)" -v d="$(sum "$f" 5)" -v x="$(sum "$f" 6)" 'BEGIN {
			printf "| %s | %s | %.0f | %.1f | %.2f (requests/s), %.2f (CPU) | %d | %d | %d | %d |\n",
				b, st, r, c, r / sr, c / sc, a, w, d, x }'
	done
done
