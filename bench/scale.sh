#!/usr/bin/env bash
# scale.sh - the figures of docs/SCALING.md: fleet-mode throughput of 1, 2 and 3 prediction
# instances behind HAProxy (examples/haproxy/rulsrv.cfg, routed by engine) on one PostgreSQL
# database, and the database's share of a request's time. Every figure comes with a reference
# measured in the same round, and the medians of the rounds are printed with their ratios:
#
#   throughput   reference: one instance alone, wrk straight to it (no balancer); then the
#                same wrk through HAProxy in front of 1, 2 and 3 instances
#   latency      one connection at a time, straight to one instance: POST /v1/predict (a
#                one-cycle window: nothing of the database on its path) is the reference;
#                then POST /v1/cycles of the same service without the prediction log (the
#                fleet store's commit) and with it (the default, log_before_answer = "cycles":
#                the fleet store's commit, then the log's)
#   database     the share of a request's time that is the database: its mean time over
#                the reference's (round trips, statements, commits and their WAL flushes),
#                and of that PostgreSQL's own execution time of the statements
#                (pg_stat_statements, reset before each latency run; the WAL flush that
#                ends a COMMIT is not in it)
#
# The instances are the default rulsrv.conf's prediction service (model in fleet mode, drift,
# the prediction log) with both stores on PostgreSQL, as the scale-out topology runs them. wrk
# (2 threads, CONNS connections, bench/scale_cycles.lua), HAProxy, PostgreSQL and the instances
# share the machine's cores: on 2 cores more instances cannot add throughput, the figures show
# what the balancer and the extra processes cost. A machine shared with other work moves every
# figure; the ratios to the same round's reference move less.
#
# Usage: bench/scale.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNS]   (3 rounds of 10 s, 16 conns)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
rounds=${2:-3}
secs=${3:-10}
conns=${4:-16}
warm=3
. "$src/bench/daemon.sh"
. "$src/tests/scripts/topology/pg.sh"

for p in wrk haproxy; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "scale.sh: $p missing (make test-deps)" >&2; exit 1; }
done
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
pgbin=$(pg_find_bindir)
[ -n "$pgbin" ] || { echo "scale.sh: PostgreSQL's initdb/pg_ctl missing (make test-deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/rulsrv-scale.XXXXXX)
pids=()
hpid=""
cleanup() {
	local pid
	[ -z "$hpid" ] || { kill "$hpid" 2>/dev/null || true; wait "$hpid" 2>/dev/null || true; }
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pg_stop
	rm -rf "$work"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }

# PostgreSQL with pg_stat_statements (the database's own timing)
pg_start "$pgbin" "$work/pg" "$(free_port)" >/dev/null
pg_as "$pgbin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=on -c shared_preload_libraries=pg_stat_statements" restart >/dev/null
pg_sql "CREATE EXTENSION pg_stat_statements" >/dev/null
db_ms() { pg_sql "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'rulsrv')"; }

cat >"$work/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
plugins = {
  model = { file = "predict_forest.so";
    settings = { bundle = "$src/models/fd001"; fleet = true; store = "postgresql"; dsn = "$pg_dsn"; }; };
  drift = { file = "drift_psi.so"; settings = { reference = "$src/models/fd001"; }; };
  feedback = { file = "feedback.so";
    settings = { store = "postgresql"; dsn = "$pg_dsn"; bundle = "$src/models/fd001"; }; };
};
services = {
  prediction = { listen = "127.0.0.1:0"; plugins = [ "model", "drift", "feedback" ]; };
  feedback = { listen = "127.0.0.1:0"; plugins = [ "feedback" ]; };
};
CONF
# the reference of the latency figures: the same prediction service without the prediction log
sed -e 's|plugins = \[ "model", "drift", "feedback" \]|plugins = [ "model", "drift" ]|' \
	"$work/rulsrv.conf" >"$work/nolog.conf"
grep -q 'plugins = \[ "model", "drift" \]' "$work/nolog.conf" || { echo "scale.sh: nolog.conf" >&2; exit 1; }

declare -A port
start() { # NAME SERVICE CONF
	local name=$1 svc=$2
	"$build/bin/rulsrv" -c "$work/$3" -s "$svc" 2>"$work/$name.log" &
	pids+=($!)
	port[$name]=$(ready_port "$work/$name.log" "$svc" 300) || { cat "$work/$name.log" >&2; exit 1; }
}
for i in 1 2 3; do start "p$i" prediction rulsrv.conf; done
start p0 prediction nolog.conf
start f1 feedback rulsrv.conf

echo 0 >"$work/run"
# PORT SECONDS THREADS CONNS MODE UNIT0: the RESULT line (runs in subshells: the count in a
# file). Each configuration streams engines of its own (UNIT0), so that none of its engines
# was moved on by the instances of another configuration (a takeover from the store and a
# compare-and-set that fails, FLEET.md): every run measures engines that stay where they hash.
wrk_run() {
	local run=$(($(cat "$work/run") + 1))
	echo "$run" >"$work/run"
	UNIT0=$6 CYCLE0=$((run * 10000)) MODE=$5 wrk -t"$3" -c"$4" -d"$2s" --timeout 10s -s "$src/bench/scale_cycles.lua" \
		"http://127.0.0.1:$1" | grep '^RESULT'
}
# Before each measurement: the prediction logs done writing (an instance that logs after the
# answer still writes its queue, holding the bucket locks of its units, store_pg.c), and the
# dirty pages of the runs before flushed, so that each run starts from the same quiet server.
quiet() {
	local n last=-1
	for _ in $(seq 60); do
		n=$(pg_sql "SELECT coalesce(max(id), 0) FROM feedback_segments")
		[ "$n" = "$last" ] && break
		last=$n
		sleep 0.5
	done
	pg_sql "CHECKPOINT" >/dev/null
}
throughput() { # PORT UNIT0: "req/s errors" of a warmed-up run
	local out
	quiet
	wrk_run "$1" "$warm" 2 "$conns" cycles "$2" >/dev/null
	out=$(wrk_run "$1" "$secs" 2 "$conns" cycles "$2")
	# answers other than 200 (503 store_failed when the database took longer than
	# store_timeout_ms) or cut connections: counted, and the run's figure kept all the same
	echo "$(echo "$out" | field rps) $(($(echo "$out" | field non2xx) + $(echo "$out" | field sockerr)))"
}
balancer() { # N: HAProxy in front of p1..pN; sets hport
	local args=() i
	for i in $(seq "$1"); do args+=("p$i=${port[p$i]}"); done
	hport=$(free_port)
	python3 "$src/tests/scripts/haproxy/make_cfg.py" "$src/examples/haproxy/rulsrv.cfg" \
		"$work/haproxy.cfg" "$hport" "$(free_port)" "$work/haproxy.sock" \
		--predict "${args[@]}" --feedback "f1=${port[f1]}"
	"$haproxy" -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
	hpid=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done
}
latency() { # PORT MODE: "mean_ms db_ms_per_request" at one connection
	local out n before after
	quiet
	wrk_run "$1" 1 1 1 "$2" 900000 >/dev/null
	pg_sql "SELECT pg_stat_statements_reset()" >/dev/null
	before=$(db_ms)
	out=$(wrk_run "$1" "$secs" 1 1 "$2" 900000)
	after=$(db_ms)
	n=$(echo "$out" | field requests)
	echo "$(echo "$out" | field mean_ms) $(echo "($after - $before) / $n" | bc -l)"
}

echo "scale.sh: $(nproc) CPUs, shared by wrk, HAProxy, PostgreSQL, the instances and any other work on the machine; $rounds rounds"
for r in $(seq "$rounds"); do
	read -r ref bad <<<"$(throughput "${port[p1]}" 0)"
	echo "$ref" >>"$work/ref"
	line="round $r: one instance alone $ref req/s (reference)"
	[ "$bad" = 0 ] || line+=" [$bad errors]"
	for n in 1 2 3; do
		balancer "$n"
		read -r t bad <<<"$(throughput "$hport" $((n * 100000)))"
		kill "$hpid"; wait "$hpid" 2>/dev/null || true; hpid=""
		echo "$t" >>"$work/h$n"
		echo "$t / $ref" | bc -l >>"$work/h$n.ratio"
		line+="; HAProxy + $n: $t ($(printf %.2f "$(echo "$t / $ref" | bc -l)"))"
		[ "$bad" = 0 ] || line+=" [$bad errors]"
	done
	echo "$line"
	read -r c1 c1db <<<"$(latency "${port[p1]}" cycles)"
	read -r c0 c0db <<<"$(latency "${port[p0]}" cycles)"
	read -r p0 p0db <<<"$(latency "${port[p0]}" predict)"
	echo "$p0" >>"$work/lat.p0"; echo "$c0" >>"$work/lat.c0"; echo "$c1" >>"$work/lat.c1"
	echo "$c0 / $p0" | bc -l >>"$work/lat.c0.ratio"; echo "$c1 / $p0" | bc -l >>"$work/lat.c1.ratio"
	echo "$c0db / $c0" | bc -l >>"$work/db.c0"; echo "$c1db / $c1" | bc -l >>"$work/db.c1"
	echo "$c0db" >>"$work/dbms.c0"; echo "$c1db" >>"$work/dbms.c1"
	echo "($c0 - $p0) / $c0" | bc -l >>"$work/wait.c0"; echo "($c1 - $p0) / $c1" | bc -l >>"$work/wait.c1"
	printf 'round %d: one connection: /v1/predict %.3f ms (reference: no database on its path);' "$r" "$p0"
	printf ' /v1/cycles without the prediction log %.3f ms (database %.3f ms), with it (the default: the answer waits for it) %.3f ms (database %.3f ms)\n' "$c0" "$c0db" "$c1" "$c1db"
done

m() { median <"$work/$1"; }
echo
echo "medians of $rounds rounds ($secs s each, $conns connections, 2 wrk threads; fleet mode, PostgreSQL):"
printf '  throughput: one instance alone %.0f req/s (reference); through HAProxy: 1 instance %.0f (%.2f), 2 instances %.0f (%.2f), 3 instances %.0f (%.2f)\n' \
	"$(m ref)" "$(m h1)" "$(m h1.ratio)" "$(m h2)" "$(m h2.ratio)" "$(m h3)" "$(m h3.ratio)"
printf '  latency at one connection: /v1/predict %.3f ms (reference); /v1/cycles without the prediction log %.3f ms (%.2f x), with it %.3f ms (%.2f x)\n' \
	"$(m lat.p0)" "$(m lat.c0)" "$(m lat.c0.ratio)" "$(m lat.c1)" "$(m lat.c1.ratio)"
printf '  the database'"'"'s share of a /v1/cycles request'"'"'s time, as its time over the reference: %.0f %% with the prediction log (the fleet store'"'"'s commit, then the log'"'"'s), %.0f %% without it (the fleet store'"'"'s commit)\n' \
	"$(echo "$(m wait.c1) * 100" | bc -l)" "$(echo "$(m wait.c0) * 100" | bc -l)"
printf '  of it PostgreSQL'"'"'s own execution of the statements (pg_stat_statements; without the WAL flush of each COMMIT, which it does not time): %.3f ms (%.0f %%), %.3f ms (%.0f %%)\n' \
	"$(m dbms.c1)" "$(echo "$(m db.c1) * 100" | bc -l)" "$(m dbms.c0)" "$(echo "$(m db.c0) * 100" | bc -l)"
