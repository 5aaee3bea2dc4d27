/* SPDX-License-Identifier: MIT */
/* pg_server.h - tests: a throwaway PostgreSQL cluster on loopback, started and stopped at will. */
#ifndef RULSRV_TEST_PG_SERVER_H
#define RULSRV_TEST_PG_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A cluster of its own in a fresh temporary directory (initdb), listening on 127.0.0.1 at a
 * free port, its unix socket in that directory too, trust authentication (no password: the
 * cluster lives as long as the test), fsync and synchronous_commit on, so that a commit the
 * server reported survives an immediate stop like a crash. As root, the cluster belongs to
 * the `postgres` user (PostgreSQL refuses to run as root): the directory is chowned and
 * initdb, pg_ctl and postgres run under that user.
 *
 * The binaries: $RULSRV_PG_BINDIR, else `pg_config --bindir`, else
 * /usr/lib/postgresql/<15..17>/bin (Debian). The need "postgresql" (tests/need.h) is met when
 * they are there (and, as root, the user postgres exists).
 */
struct pg_server {
	char dir[256];   /* the temporary directory, removed by pg_server_cleanup */
	char data[300];  /* dir/data, the cluster */
	char log[300];   /* dir/postgres.log, the server's log */
	char bindir[256];
	int port;
	bool running;
	char dbname[64];
	char dsn[512];   /* "host=127.0.0.1 port=N dbname=D user=postgres" */
};

/* Are the binaries there? false with the reason in why. */
bool pg_server_available(char *why, size_t why_len);
/*
 * initdb, start (pg_ctl -w) and create the database dbname (NULL: "rulsrv_test"). 0, or -1
 * with the reason in why (the head of the failing command's output); nothing is left
 * running on failure, but the directory stays until pg_server_cleanup.
 */
int pg_server_start(struct pg_server *pg, const char *dbname, char *why, size_t why_len);
/* Stop: fast (sessions ended, a clean shutdown) or immediate (no shutdown checkpoint: what
 * a crash leaves, recovered from the WAL at the next start). 0 or -1. */
int pg_server_stop(struct pg_server *pg, bool immediate);
/* Start again after a stop, on the same port and data. 0 or -1 with the reason in why. */
int pg_server_restart(struct pg_server *pg, char *why, size_t why_len);
/*
 * Run one SQL text with psql on the test database (-XAtq: unaligned, tuples only, fields
 * separated by '|'); its output (malloc'd, NUL-terminated) goes to *out when out is not
 * NULL. 0 when psql exited 0, else -1 (the output still given).
 */
int pg_server_sql(const struct pg_server *pg, const char *sql, char **out);
/* One number the SQL text returns (its first line); NAN when it fails. */
double pg_server_value(const struct pg_server *pg, const char *sql);
/* Stop immediately when running and remove the directory. Accepts a zeroed struct. */
void pg_server_cleanup(struct pg_server *pg);

#endif
