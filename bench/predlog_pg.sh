#!/usr/bin/env bash
# predlog_pg.sh - the prediction log on PostgreSQL at saturation, beside the same daemon with
# the log on SQLite (the default), in one run: does it keep up (nothing dropped, everything
# answered written), and what it costs a request.
#
# Usage: bench/predlog_pg.sh [BUILD_DIR [OLD_BUILD_DIR]]
# Environment: RUNS (3) alternated rounds, DUR (5) seconds per figure, CONNS (32), CMAPSS_DIR.
# OLD_BUILD_DIR: a build of another commit (its rulsrv and plugins), measured by turns on the
# PostgreSQL log as "postgresql-old", a new database each figure like the others.
# Needs PostgreSQL's initdb and pg_ctl (Debian package postgresql): a throwaway cluster is
# started in the scratch folder (tests/scripts/topology/pg.sh) with fsync on.
#
# Per store and body (one engine x 30 cycles; 256 engines x 1 cycle), wrk -t1 at CONNS
# connections against the default prediction service (conf/rulsrv.conf, with both of its
# stores, the fleet's and the feedback plugin's, on that store). After each run, once the log
# is idle: the daemon's own counts (predictions answered, written, dropped, failed), its CPU per
# request and the PostgreSQL server's (its postmaster and every process under it, /proc), both
# from the start of the run to the end of the log's drain.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
build="$(cd "$build" && pwd)"
old="${2:-}"
[ -z "$old" ] || old="$(cd "$old" && pwd)"
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
# the PostgreSQL server's CPU seconds: the postmaster and its processes (backends, writers)
pg_cpu() {
	local pm p total=0
	pm=$(head -1 "$pg_dir/data/postmaster.pid")
	for p in "$pm" $(pgrep -P "$pm"); do
		total=$(awk -v a="$total" -v b="$(cpu_of "$p" 2>/dev/null || echo 0)" 'BEGIN {printf "%.4f", a + b}')
	done
	echo "$total"
}

cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console bench_compute >/dev/null
[ -z "$old" ] || cmake --build "$old" -j "$(nproc)" --target rulsrv predict_forest drift_psi \
	feedback export_prometheus console >/dev/null
"$build/bin/bench_compute" bodies "$src/models/fd001" "$work/bodies" >/dev/null
pg_start "$pgbin" "$work/pg" "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" ||
	{ echo "predlog_pg.sh: PostgreSQL did not start" >&2; exit 1; }

metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f\n", s}'; }

# figure STORE BODY: one daemon, one wrk run, the counts once the log is idle; appends
# "requests/s cpu_us answered written dropped failed server_cpu_us" to $work/STORE.BODY.
figure() {
	local store=$1 body=$2 port r c0 c1 p0 p1 ok req answered written i repl bin=$build
	[ "$store" != postgresql-old ] || bin=$old
	rm -rf "$work/db" && mkdir -p "$work/db"
	# a new database each figure: every store starts empty
	if [ "$store" != sqlite ]; then
		pg_sql "DROP DATABASE IF EXISTS bench WITH (FORCE)" >/dev/null
		pg_sql "CREATE DATABASE bench" >/dev/null
	fi
	# the shipped configuration, both stores (the fleet's and the feedback plugin's) on STORE
	if [ "$store" = sqlite ]; then
		repl="database = \"$work/db/rulsrv.db\";"
	else
		repl="store = \"postgresql\"; dsn = \"${pg_dsn/dbname=rulsrv/dbname=bench}\";"
	fi
	sed -e "s|database = \"\.\./var/feedback\.db\";|$repl|g" -e "s|\"\.\./|\"$src/|g" \
		"$src/conf/rulsrv.conf" >"$work/rulsrv.conf"
	[ "$(grep -c -F "$repl" "$work/rulsrv.conf")" = 2 ] ||
		{ echo "predlog_pg.sh: store substitution failed" >&2; exit 1; }
	"$bin/bin/rulsrv" -c "$work/rulsrv.conf" -s prediction -o "plugin_dir=$bin/plugins" \
		-o services.prediction.listen=127.0.0.1:0 2>"$work/rulsrv.log" &
	PID[rulsrv]=$!
	port=$(ready_port "$work/rulsrv.log" prediction 300) ||
		{ cat "$work/rulsrv.log" >&2; echo "predlog_pg.sh: the daemon did not start" >&2; exit 1; }
	c0=$(cpu_of "${PID[rulsrv]}") p0=$(pg_cpu)
	r=$(BODY="$work/bodies/$body.json" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s \
		-s "$src/bench/predict.lua" "http://127.0.0.1:$port/v1/predict" | sed -n 's/^RESULT //p')
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	ok=$(field ok) req=$(field requests)
	answered=$(metric "$port" predictions_total)
	for i in $(seq 100); do # the log drains what is queued
		written=$(metric "$port" feedback_prediction_log_written_total)
		[ "$written" -ge "$answered" ] && break
		sleep 0.1
	done
	c1=$(cpu_of "${PID[rulsrv]}") p1=$(pg_cpu)
	echo "$(awk -v ok="$ok" -v s="$(field seconds)" -v c0="$c0" -v c1="$c1" -v req="$req" \
		'BEGIN {printf "%.1f %.1f", ok / s, (c1 - c0) * 1e6 / (req > 0 ? req : 1)}') $answered $written $(metric "$port" feedback_prediction_log_dropped_total) $(metric "$port" feedback_prediction_log_failed_total) $(awk -v a="$p0" -v b="$p1" -v req="$req" 'BEGIN {printf "%.1f", (b - a) * 1e6 / (req > 0 ? req : 1)}')" >>"$work/$store.$body"
	kill "${PID[rulsrv]}"
	wait "${PID[rulsrv]}" || true
	unset "PID[rulsrv]"
}

stores="sqlite postgresql"
[ -z "$old" ] || stores="sqlite postgresql-old postgresql"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
	for body in one-w30 batch256-w1; do
		for store in $stores; do
			say "round $i of $RUNS: $body, the log on $store"
			figure "$store" "$body"
		done
	done
done
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }
sum() { awk -v c="$2" '{s += $c} END {printf "%.0f\n", s}' "$1"; }
echo "| body, $CONNS connections (median of $RUNS; range) | log on | requests/s | daemon CPU µs/request | PostgreSQL CPU µs/request | both ÷ SQLite's | predictions answered | written | dropped | failed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for body in one-w30 batch256-w1; do
	sc=$(awk '{print $2 + $7}' "$work/sqlite.$body" | med)
	for store in $stores; do
		f=$work/$store.$body
		awk -v b="$body" -v st="$store" -v sc="$sc" \
			-v r="$(cut -d' ' -f1 "$f" | med)" -v rr="$(cut -d' ' -f1 "$f" | range)" \
			-v c="$(cut -d' ' -f2 "$f" | med)" -v cr="$(cut -d' ' -f2 "$f" | range)" \
			-v p="$(cut -d' ' -f7 "$f" | med)" -v pr="$(cut -d' ' -f7 "$f" | range)" \
			-v t="$(awk '{print $2 + $7}' "$f" | med)" \
			-v a="$(sum "$f" 3)" -v w="$(sum "$f" 4)" -v d="$(sum "$f" 5)" -v x="$(sum "$f" 6)" 'BEGIN {
			printf "| %s | %s | %.0f (%s) | %.1f (%s) | %.1f (%s) | %.2f | %d | %d | %d | %d |\n",
				b, st, r, rr, c, cr, p, pr, t / sc, a, w, d, x }'
	done
done
