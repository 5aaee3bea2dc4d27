#!/usr/bin/env bash
# predlog_pg_migrate.sh - how long the first start of schema 2 takes to convert a PostgreSQL
# prediction log of schema 1 (a row per prediction) into segments.
#
# Usage: bench/predlog_pg_migrate.sh [BUILD_DIR]
# Environment: ROWS (1000000) logged predictions of schema 1, a tenth of them scored (each with
# its record). A throwaway cluster (tests/scripts/topology/pg.sh), fsync on; the schema 1
# tables are made as rulsrv made them, filled by generate_series, then `rulsrv -t` (which
# opens the store, so converts it) is timed beside a second `rulsrv -t` on the converted
# database, and the converted log is counted.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
build="$(cd "$build" && pwd)"
ROWS="${ROWS:-1000000}"
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
# shellcheck source=tests/scripts/topology/pg.sh
. "$src/tests/scripts/topology/pg.sh"
pgbin=$(pg_find_bindir)
[ -n "$pgbin" ] || { echo "predlog_pg_migrate.sh: PostgreSQL's initdb/pg_ctl not found" >&2; exit 1; }
bench_scratch predlog-pg-migrate
trap 'pg_stop; bench_cleanup' EXIT
cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console >/dev/null
pg_start "$pgbin" "$work/pg" "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" ||
	{ echo "predlog_pg_migrate.sh: PostgreSQL did not start" >&2; exit 1; }
pg_sql "
CREATE TABLE schema_version(component text PRIMARY KEY, version integer NOT NULL);
INSERT INTO schema_version VALUES('feedback', 1);
CREATE TABLE feedback_predictions(id bigserial PRIMARY KEY, unit bigint NOT NULL,
 cycle bigint NOT NULL, rul double precision NOT NULL, ts double precision NOT NULL,
 model text NOT NULL, version text NOT NULL, scored boolean NOT NULL DEFAULT false);
CREATE INDEX feedback_predictions_unit ON feedback_predictions(unit, cycle, id);
CREATE INDEX feedback_predictions_open ON feedback_predictions(unit, id) WHERE NOT scored;
CREATE INDEX feedback_predictions_ts ON feedback_predictions(ts);
CREATE TABLE feedback_records(id bigserial PRIMARY KEY, unit bigint NOT NULL,
 cycle bigint NOT NULL, predicted double precision NOT NULL, actual double precision NOT NULL,
 model text NOT NULL, source text NOT NULL, prediction_id bigint, ts double precision NOT NULL);
CREATE INDEX feedback_records_model ON feedback_records(model, id);
CREATE INDEX feedback_records_late ON feedback_records(id) WHERE source = 'failure_late';
CREATE UNIQUE INDEX feedback_records_failure_once ON feedback_records(prediction_id)
 WHERE source IN ('failure', 'failure_late');
CREATE TABLE feedback_failures(id bigserial PRIMARY KEY, unit bigint NOT NULL,
 failed_at_cycle bigint NOT NULL, scored bigint NOT NULL, ts double precision NOT NULL,
 model text NOT NULL DEFAULT '');
CREATE INDEX feedback_failures_unit ON feedback_failures(unit, id);
CREATE TABLE feedback_totals(model text PRIMARY KEY, count bigint NOT NULL,
 squared_error_sum double precision NOT NULL, abs_error_sum double precision NOT NULL,
 nasa_score double precision NOT NULL);
INSERT INTO feedback_predictions(unit, cycle, rul, ts, model, version, scored)
 SELECT i % 1000, i / 1000, 125 - (i % 125), 1.7e9 + i / 1000.0, 'rul-fd001', '1', i % 10 = 0
 FROM generate_series(1, $ROWS) AS i;
INSERT INTO feedback_records(unit, cycle, predicted, actual, model, source, prediction_id, ts)
 SELECT unit, cycle, rul, 10, model, 'failure', id, ts + 1 FROM feedback_predictions
 WHERE scored ORDER BY id;
CHECKPOINT;" >/dev/null
sed -e "s|database = \"\.\./var/feedback\.db\";|store = \"postgresql\"; dsn = \"$pg_dsn\";|g" \
	-e "s|\"\.\./|\"$src/|g" "$src/conf/rulsrv.conf" >"$work/rulsrv.conf"
t0=$(date +%s.%N)
"$build/bin/rulsrv" -t -c "$work/rulsrv.conf" -o "plugin_dir=$build/plugins" >"$work/rulsrv.log" 2>&1 ||
	{ cat "$work/rulsrv.log" >&2; exit 1; }
t1=$(date +%s.%N)
"$build/bin/rulsrv" -t -c "$work/rulsrv.conf" -o "plugin_dir=$build/plugins" >"$work/rulsrv.log" 2>&1 ||
	{ cat "$work/rulsrv.log" >&2; exit 1; }
t2=$(date +%s.%N)
echo "rows $ROWS: the first start (converting) $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s," \
	"the next one $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.1f", b - a}') s;" \
	"schema $(pg_sql "SELECT version FROM schema_version WHERE component = 'feedback'")," \
	"predictions in segments $(pg_sql "SELECT sum(length(items) / 32) FROM feedback_segments")," \
	"unscored $(pg_sql "SELECT sum(unscored) FROM feedback_segments")," \
	"records naming one $(pg_sql "SELECT count(*) FROM feedback_records r JOIN feedback_segments g ON g.id * 1024 = r.prediction_id")"
