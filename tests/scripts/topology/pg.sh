# pg.sh - a throwaway PostgreSQL for the shell tests, sourced: initdb in a temporary folder,
# a loopback port, trust authentication on loopback (nothing but the test can reach it), fsync
# on (durability is what the tests check). As root the cluster runs as user postgres, which
# PostgreSQL requires. Sets pg_dsn; pg_stop stops it (also from an EXIT trap).
#
# pg_find_bindir: $RULSRV_PG_BINDIR, else `pg_config --bindir`, else Debian's
# /usr/lib/postgresql/<N>/bin; empty when none has initdb and pg_ctl.
pg_find_bindir() {
	local d
	for d in "${RULSRV_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" \
		/usr/lib/postgresql/17/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/15/bin; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 0
}

# pg_as CMD...: run CMD as the cluster's owner
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_start BINDIR DIR PORT: a cluster in DIR (created), listening on 127.0.0.1:PORT, with a
# database "rulsrv"; pg_dsn names it.
pg_start() {
	pg_bindir=$1 pg_dir=$2 pg_port=$3
	mkdir -p "$pg_dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$pg_dir"
		chmod 755 "$(dirname "$pg_dir")"
	fi
	pg_as "$pg_bindir/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir.initdb.log" 2>&1 ||
		{ cat "$pg_dir.initdb.log"; return 1; }
	pg_as "$pg_bindir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=on" start >/dev/null ||
		{ cat "$pg_dir/server.log"; return 1; }
	pg_as "$pg_bindir/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres rulsrv || return 1
	pg_dsn="host=127.0.0.1 port=$pg_port dbname=rulsrv user=postgres connect_timeout=2"
}

pg_stop() {
	[ -n "${pg_dir:-}" ] && [ -d "$pg_dir/data" ] || return 0
	pg_as "$pg_bindir/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# pg_sql SQL: one query's rows, unaligned
pg_sql() {
	pg_as "$pg_bindir/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d rulsrv -At -c "$1"
}
