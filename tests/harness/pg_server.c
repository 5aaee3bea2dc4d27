/* SPDX-License-Identifier: MIT */
/* pg_server.c - a throwaway PostgreSQL cluster for the tests: initdb, pg_ctl, psql. */
#include "pg_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

#define PG_OWNER "postgres" /* who owns the cluster when the tests run as root */

static bool
pg_has_tools(const char *dir)
{
	static const char *const tools[] = { "initdb", "pg_ctl", "postgres", "psql", "createdb" };
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tools[i]);
		if (access(path, X_OK) != 0)
			return false;
	}
	return true;
}

/* The folder of initdb and its siblings, or false. */
static bool
pg_find_bindir(char *out, size_t len)
{
	static const char *const debian[] = {
		"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
		"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/14/bin",
	};
	const char *env = getenv("RULSRV_PG_BINDIR");
	const char *argv[] = { "/usr/bin/pg_config", "--bindir", NULL };
	char *text = NULL;
	int status;
	size_t i;

	if (env != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return pg_has_tools(out);
	}
	if (access(argv[0], X_OK) == 0 && harness_run(argv, &text, &status) == 0 && status == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(out, len, "%s", text);
		free(text);
		if (pg_has_tools(out))
			return true;
	} else {
		free(text);
	}
	for (i = 0; i < sizeof(debian) / sizeof(debian[0]); i++) {
		snprintf(out, len, "%s", debian[i]);
		if (pg_has_tools(out))
			return true;
	}
	return false;
}

bool
pg_server_available(char *why, size_t why_len)
{
	char dir[256];

	if (!pg_find_bindir(dir, sizeof(dir))) {
		snprintf(why, why_len, "PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) "
			 "not found ($RULSRV_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin"
			 "; Debian: apt-get install postgresql)");
		return false;
	}
	if (geteuid() == 0 && getpwnam(PG_OWNER) == NULL) {
		snprintf(why, why_len, "running as root without a '%s' user to own the test "
			 "cluster (PostgreSQL refuses to run as root)", PG_OWNER);
		return false;
	}
	return true;
}

/*
 * Run argv to completion with stdout and stderr in *output (malloc'd), as the cluster's owner
 * when we are root. The child's working directory is the cluster's folder, which the owner
 * can read (root's may not be).
 */
static int
pg_run(const struct pg_server *pg, const char *const *argv, char **output, int *exit_status)
{
	return harness_run_as(argv, pg->dir, PG_OWNER, output, exit_status);
}

/* Run a tool of bindir; 0 when it exited 0, else -1 with what failed in why. */
static int
pg_tool(const struct pg_server *pg, const char *tool, const char *const *args, char *why,
	size_t why_len)
{
	const char *argv[24];
	char path[512];
	char *out = NULL;
	size_t i;
	int status = -1;

	snprintf(path, sizeof(path), "%s/%s", pg->bindir, tool);
	argv[0] = path;
	for (i = 0; args[i] != NULL && i < 22; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pg_run(pg, argv, &out, &status) == 0 && status == 0) {
		free(out);
		return 0;
	}
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s exited %d: %.600s", tool, status, out ? out : "");
	free(out);
	return -1;
}

/* A port nobody listens on now (the kernel's pick for port 0). */
static int
pg_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* The settings the tests rely on, appended to postgresql.conf (the last one wins). */
static int
pg_write_conf(const struct pg_server *pg)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/postgresql.conf", pg->data);
	f = fopen(path, "a");
	if (f == NULL)
		return -1;
	fprintf(f, "\n# pg_server.c\n"
		"listen_addresses = '127.0.0.1'\n"
		"port = %d\n"
		"unix_socket_directories = '%s'\n"
		"fsync = on\n"
		"synchronous_commit = on\n"
		"full_page_writes = on\n"
		"shared_buffers = 16MB\n"
		"max_connections = 60\n"
		"log_min_messages = warning\n",
		pg->port, pg->dir);
	return fclose(f) == 0 ? 0 : -1;
}

static int
pg_ctl_start(struct pg_server *pg, char *why, size_t why_len)
{
	const char *args[] = { "-D", pg->data, "-l", pg->log, "-w", "-t", "60", "start", NULL };

	if (pg_tool(pg, "pg_ctl", args, why, why_len) < 0)
		return -1;
	pg->running = true;
	return 0;
}

static void
pg_remove_dir(const struct pg_server *pg)
{
	const char *argv[] = { "/bin/rm", "-rf", pg->dir, NULL };
	int status;

	if (pg->dir[0] != '\0' && strncmp(pg->dir, "/tmp/rulsrv-pg-", 15) == 0)
		harness_run(argv, NULL, &status);
}

/*
 * The reaper: a process of its own session (a kill of the test's process group spares it)
 * that waits for the end of its pipe, which closes when the test process exits however it
 * does (a failed assertion, a timeout's SIGKILL) or when pg_server_cleanup closes it, then
 * stops the server and removes the directory if they are still there.
 */
static void
pg_start_reaper(struct pg_server *pg)
{
	int fds[2];
	pid_t pid;
	char c;

	pg->reaper_fd = -1;
	pg->reaper_pid = -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		int fd;

		/* nothing of the test's but its end of our pipe (and stdout, stderr): another
		 * cluster's reaper pipe kept open here would keep that reaper waiting */
		for (fd = 3; fd < 1024; fd++)
			if (fd != fds[0])
				close(fd);
		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		if (access(pg->data, F_OK) == 0) {
			pg->running = true;
			pg_server_stop(pg, true);
			pg_remove_dir(pg);
		}
		_exit(0);
	}
	close(fds[0]);
	pg->reaper_fd = fds[1];
	pg->reaper_pid = pid;
}

int
pg_server_start(struct pg_server *pg, const char *dbname, char *why, size_t why_len)
{
	struct passwd *pw = geteuid() == 0 ? getpwnam(PG_OWNER) : NULL;
	char port[16];
	int attempt;

	memset(pg, 0, sizeof(*pg));
	pg->reaper_fd = -1;
	pg->reaper_pid = -1;
	if (!pg_find_bindir(pg->bindir, sizeof(pg->bindir))) {
		pg_server_available(why, why_len);
		return -1;
	}
	snprintf(pg->dir, sizeof(pg->dir), "/tmp/rulsrv-pg-XXXXXX");
	if (mkdtemp(pg->dir) == NULL) {
		snprintf(why, why_len, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	if (pw != NULL && chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
		snprintf(why, why_len, "chown %s: %s", pg->dir, strerror(errno));
		return -1;
	}
	snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir);
	snprintf(pg->log, sizeof(pg->log), "%s/postgres.log", pg->dir);
	snprintf(pg->dbname, sizeof(pg->dbname), "%s", dbname != NULL ? dbname : "rulsrv_test");
	pg_start_reaper(pg);
	{
		/* --no-sync: initdb's own files need not reach the disk for a cluster this short;
		 * the server itself runs with fsync on (pg_write_conf) */
		const char *args[] = { "-D", pg->data, "-U", "postgres", "--auth=trust", "-E",
				       "UTF8", "--locale=C", "--no-sync", NULL };

		if (pg_tool(pg, "initdb", args, why, why_len) < 0)
			return -1;
	}
	/* a port found free may be taken before the server binds it: try another */
	for (attempt = 0; attempt < 3; attempt++) {
		pg->port = pg_free_port();
		if (pg->port < 0 || pg_write_conf(pg) < 0) {
			snprintf(why, why_len, "cannot pick a port or write postgresql.conf");
			return -1;
		}
		if (pg_ctl_start(pg, why, why_len) == 0)
			break;
	}
	if (!pg->running)
		return -1;
	snprintf(port, sizeof(port), "%d", pg->port);
	{
		const char *args[] = { "-h", "127.0.0.1", "-p", port, "-U", "postgres",
				       pg->dbname, NULL };

		if (pg_tool(pg, "createdb", args, why, why_len) < 0) {
			pg_server_stop(pg, true);
			return -1;
		}
	}
	snprintf(pg->dsn, sizeof(pg->dsn), "host=127.0.0.1 port=%d dbname=%s user=postgres",
		 pg->port, pg->dbname);
	return 0;
}

int
pg_server_stop(struct pg_server *pg, bool immediate)
{
	const char *args[] = { "-D", pg->data, "-m", immediate ? "immediate" : "fast", "-w",
			       "-t", "60", "stop", NULL };

	if (!pg->running)
		return 0;
	if (pg_tool(pg, "pg_ctl", args, NULL, 0) < 0)
		return -1;
	pg->running = false;
	return 0;
}

int
pg_server_restart(struct pg_server *pg, char *why, size_t why_len)
{
	if (pg->running && pg_server_stop(pg, false) < 0) {
		snprintf(why, why_len, "pg_ctl stop failed");
		return -1;
	}
	return pg_ctl_start(pg, why, why_len);
}

int
pg_server_sql(const struct pg_server *pg, const char *sql, char **out)
{
	char port[16], path[512];
	const char *argv[] = { path, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
			       port, "-U", "postgres", "-d", pg->dbname, "-c", sql, NULL };
	char *text = NULL;
	int status = -1;

	snprintf(port, sizeof(port), "%d", pg->port);
	snprintf(path, sizeof(path), "%s/psql", pg->bindir);
	if (pg_run(pg, argv, &text, &status) < 0)
		return -1;
	if (out != NULL)
		*out = text;
	else
		free(text);
	return status == 0 ? 0 : -1;
}

double
pg_server_value(const struct pg_server *pg, const char *sql)
{
	char *out = NULL, *end;
	double v = NAN;

	if (pg_server_sql(pg, sql, &out) == 0) {
		v = strtod(out, &end);
		if (end == out)
			v = NAN;
	}
	free(out);
	return v;
}

void
pg_server_cleanup(struct pg_server *pg)
{
	if (pg->running)
		pg_server_stop(pg, true);
	pg_remove_dir(pg);
	pg->dir[0] = '\0';
	if (pg->reaper_pid > 0) {
		close(pg->reaper_fd); /* the reaper finds nothing left and exits */
		waitpid(pg->reaper_pid, NULL, 0);
	}
	pg->reaper_fd = -1;
	pg->reaper_pid = -1;
}
