/* SPDX-License-Identifier: MIT */
/* harness.c - start the real rulsrv on loopback for integration tests and talk HTTP to it. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cmapss.h"

const char *
harness_source_dir(void)
{
	return RULSRV_SOURCE_DIR;
}

const char *
harness_build_dir(void)
{
	return RULSRV_BUILD_DIR;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Replace every occurrence of `from` in *text by `to` (reallocates *text). */
static int
replace_all(char **text, const char *from, const char *to)
{
	size_t from_len = strlen(from), to_len = strlen(to), count = 0;
	const char *p;
	char *out, *o;

	for (p = *text; (p = strstr(p, from)) != NULL; p += from_len)
		count++;
	if (count == 0)
		return 0;
	out = malloc(strlen(*text) + count * to_len + 1);
	if (out == NULL)
		return -ENOMEM;
	o = out;
	for (p = *text;;) {
		const char *hit = strstr(p, from);

		if (hit == NULL) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, to, to_len);
		o += to_len;
		p = hit + from_len;
	}
	free(*text);
	*text = out;
	return 0;
}

int
harness_prepare(struct harness_server *s, const char *conf_text)
{
	char plugins[512];
	char *text;
	FILE *f;
	int r = 0;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/rulsrv-test-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -errno;
	snprintf(s->conf, sizeof(s->conf), "%s/rulsrv.conf", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/rulsrv.log", s->dir);
	snprintf(plugins, sizeof(plugins), "%s/plugins", harness_build_dir());

	text = strdup(conf_text);
	if (text == NULL)
		return -ENOMEM;
	if (replace_all(&text, "@SRC@", harness_source_dir()) < 0 ||
	    replace_all(&text, "@PLUGINS@", plugins) < 0 ||
	    replace_all(&text, "@BUILD@", harness_build_dir()) < 0 ||
	    replace_all(&text, "@DIR@", s->dir) < 0) {
		free(text);
		return -ENOMEM;
	}
	f = fopen(s->conf, "w");
	if (f == NULL) {
		r = -errno;
	} else {
		fputs(text, f);
		if (fclose(f) != 0)
			r = -errno;
	}
	free(text);
	return r;
}

/* Parse every "service 'NAME' listening on ADDR:PORT" line of the log. */
static void
scan_listeners(struct harness_server *s)
{
	char line[1024];
	FILE *f = fopen(s->log, "r");

	if (f == NULL)
		return;
	fseek(f, s->log_start, SEEK_SET);
	s->service_count = 0;
	while (fgets(line, sizeof(line), f) != NULL && s->service_count < HARNESS_MAX_SERVICES) {
		char *p = strstr(line, "service '"), *q, *colon;

		if (p == NULL || strstr(p, "listening on ") == NULL)
			continue;
		p += strlen("service '");
		q = strchr(p, '\'');
		colon = strrchr(line, ':');
		if (q == NULL || colon == NULL || (size_t)(q - p) >= sizeof(s->services[0].name))
			continue;
		memcpy(s->services[s->service_count].name, p, (size_t)(q - p));
		s->services[s->service_count].name[q - p] = '\0';
		s->services[s->service_count].port = atoi(colon + 1);
		s->service_count++;
	}
	fclose(f);
}

void
harness_print_log(const struct harness_server *s)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(s->log, "r");

	if (f == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", s->log);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of log ----\n");
	fclose(f);
}

/* The daemon logs "rulsrv VERSION ready" once every service listens and every model loaded. */
static bool
daemon_ready(const struct harness_server *s)
{
	char line[1024];
	bool ready = false;
	FILE *f = fopen(s->log, "r");

	if (f == NULL)
		return false;
	fseek(f, s->log_start, SEEK_SET);
	while (!ready && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\n");

		line[len] = '\0';
		ready = strstr(line, "rulsrv ") != NULL && len > 6 &&
			strcmp(line + len - 6, " ready") == 0;
	}
	fclose(f);
	return ready;
}

static bool
all_healthy(const struct harness_server *s)
{
	size_t i;

	if (s->service_count == 0)
		return false;
	for (i = 0; i < s->service_count; i++) {
		struct harness_response r;
		bool ok;

		if (harness_get(s->services[i].port, "/healthz", &r) < 0)
			return false;
		ok = r.status == 200;
		harness_response_free(&r);
		if (!ok)
			return false;
	}
	return true;
}

int
harness_start(struct harness_server *s, const char *const *extra_args)
{
	char daemon[512];
	const char *argv[64];
	size_t argc = 0, i;
	int waited;

	snprintf(daemon, sizeof(daemon), "%s/bin/rulsrv", harness_build_dir());
	argv[argc++] = daemon;
	argv[argc++] = "-c";
	argv[argc++] = s->conf;
	for (i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 62; i++)
		argv[argc++] = extra_args[i];
	argv[argc] = NULL;

	struct stat st;

	s->service_count = 0;
	s->log_start = stat(s->log, &st) == 0 ? (long)st.st_size : 0;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
		execv(daemon, (char *const *)argv);
		_exit(127);
	}
	for (waited = 0; waited < 15000; waited += 20) {
		int status;

		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			fprintf(stderr, "rulsrv exited during start-up (status %d)\n", status);
			s->pid = -1;
			harness_print_log(s);
			return -1;
		}
		if (!daemon_ready(s)) {
			sleep_ms(20);
			continue;
		}
		scan_listeners(s);
		if (all_healthy(s))
			return 0;
		sleep_ms(20);
	}
	fprintf(stderr, "rulsrv did not become healthy within 15 s\n");
	harness_print_log(s);
	return -1;
}

int
harness_start_conf(struct harness_server *s, const char *conf_text)
{
	if (harness_prepare(s, conf_text) < 0)
		return -1;
	return harness_start(s, NULL);
}

int
harness_port(const struct harness_server *s, const char *service)
{
	size_t i;

	for (i = 0; i < s->service_count; i++)
		if (strcmp(s->services[i].name, service) == 0)
			return s->services[i].port;
	return -1;
}

int
harness_signal(struct harness_server *s, int sig)
{
	if (s->pid <= 0)
		return -ESRCH;
	return kill(s->pid, sig) == 0 ? 0 : -errno;
}

int
harness_wait(struct harness_server *s, int timeout_ms)
{
	int waited, status;

	if (s->pid <= 0)
		return -1;
	for (waited = 0; waited <= timeout_ms; waited += 10) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid) {
			s->pid = -1;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

int
harness_stop(struct harness_server *s)
{
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	status = harness_wait(s, 10000);
	if (status < 0 && s->pid > 0) {
		kill(s->pid, SIGKILL);
		status = harness_wait(s, 5000);
	}
	/* A daemon that did not stop cleanly says why in its log: under the sanitizers, their
	 * report. Print it before harness_cleanup removes it. */
	if (status != 0)
		harness_print_log(s);
	return status;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
harness_cleanup(struct harness_server *s)
{
	if (s->pid > 0)
		harness_stop(s);
	if (s->dir[0] != '\0' && getenv("HARNESS_KEEP") == NULL)
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

bool
harness_log_contains(const struct harness_server *s, const char *needle)
{
	char *buf;
	long len;
	bool found;
	FILE *f = fopen(s->log, "r");

	if (f == NULL)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (buf == NULL) {
		fclose(f);
		return false;
	}
	len = (long)fread(buf, 1, (size_t)len, f);
	buf[len] = '\0';
	fclose(f);
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

int
harness_run(const char *const *argv, char **output, int *exit_status)
{
	return harness_run_as(argv, NULL, NULL, output, exit_status);
}

int
harness_run_as(const char *const *argv, const char *dir, const char *user, char **output,
	       int *exit_status)
{
	struct passwd *pw = user != NULL && geteuid() == 0 ? getpwnam(user) : NULL;
	int pipefd[2], status;
	size_t len = 0, cap = 4096;
	char *buf;
	pid_t pid;
	ssize_t n;

	if (user != NULL && geteuid() == 0 && pw == NULL)
		return -ENOENT;
	/* close-on-exec: a test may run two of these from two threads at once, and a child of
	 * one must not keep the other's pipe open (its reader would wait for that child) */
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		if (dir != NULL && chdir(dir) != 0)
			_exit(126);
		if (pw != NULL && (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
				   setuid(pw->pw_uid) != 0)) {
			perror("cannot become the user to run as");
			_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		perror(argv[0]);
		_exit(127);
	}
	close(pipefd[1]);
	buf = malloc(cap);
	while (buf != NULL && (n = read(pipefd[0], buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2048) {
			char *grown = realloc(buf, cap * 2);

			if (grown == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (buf == NULL)
		return -ENOMEM;
	buf[len] = '\0';
	if (output != NULL)
		*output = buf;
	else
		free(buf);
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

static void
say(char *why, size_t why_len, const char *text)
{
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", text);
}

int
harness_run_tool(const char *tool, const char *const *args, char *why, size_t why_len)
{
	const char *argv[32];
	char path[512], *out = NULL;
	size_t n = 0;
	int status = -1;

	snprintf(path, sizeof(path), "%s/bin/%s", harness_build_dir(), tool);
	argv[n++] = path;
	while (args != NULL && *args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (access(path, X_OK) != 0) {
		if (why != NULL && why_len > 0)
			snprintf(why, why_len, "%s is not built", tool);
		return -1;
	}
	if (harness_run(argv, &out, &status) < 0 || status != 0) {
		if (why != NULL && why_len > 0)
			snprintf(why, why_len, "%s failed (status %d): %.300s", tool, status,
				 out != NULL ? out : "");
		free(out);
		return -1;
	}
	free(out);
	return 0;
}

int
harness_train_data(const char *work, char *data, size_t data_len, char *why, size_t why_len)
{
	const char *args[] = { "--out", data, "--units", "30", "--test-units", "10", NULL };

	if (cmapss_find_dir(data, data_len) == 0)
		return 0;
	snprintf(data, data_len, "%s/synth", work);
	if (harness_run_tool("cmapss-synth", args, why, why_len) < 0)
		return -1;
	return 0;
}

int
harness_train_bundle(const char *data, const char *out_dir, const char *const *extra_args,
		     char *why, size_t why_len)
{
	const char *args[31] = { "--data", data, "--subset", "FD001", "--out", out_dir,
				 "--no-tune", "--threads", "1", "--quiet" };
	size_t n = 10;

	while (extra_args != NULL && *extra_args != NULL && n < 30)
		args[n++] = *extra_args++;
	args[n] = NULL;
	return harness_run_tool("rulsrv-train", args, why, why_len);
}

int
harness_model_bundle(const char *work, const char *const *extra_args, char *dir,
		     size_t dir_len, char *why, size_t why_len)
{
	char data[512], path[700];

	snprintf(dir, dir_len, "%s/models/fd001", harness_source_dir());
	snprintf(path, sizeof(path), "%s/bundle.json", dir);
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/bin/rulsrv-train", harness_build_dir());
	if (access(path, X_OK) != 0) {
		say(why, why_len, "no models/fd001 and no rulsrv-train binary");
		return -1;
	}
	snprintf(dir, dir_len, "%s/base", work);
	if (harness_train_data(work, data, sizeof(data), why, why_len) < 0)
		return -1;
	return harness_train_bundle(data, dir, extra_args, why, why_len);
}

struct growbuf {
	char *data;
	size_t len;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct growbuf *b = ud;
	size_t n = size * nmemb;
	char *grown = realloc(b->data, b->len + n + 1);

	if (grown == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int
harness_http(int port, const char *method, const char *path, const char *content_type,
	     const char *body, size_t body_len, const char *const *headers,
	     struct harness_response *r)
{
	struct growbuf out = { calloc(1, 1), 0 }, hdr = { calloc(1, 1), 0 };
	struct curl_slist *list = NULL;
	char url[1024], ct[256];
	CURLcode rc;
	CURL *c;
	size_t i;

	memset(r, 0, sizeof(*r));
	c = curl_easy_init();
	if (c == NULL || out.data == NULL || hdr.data == NULL) {
		free(out.data);
		free(hdr.data);
		if (c != NULL)
			curl_easy_cleanup(c);
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdr);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	/* curl adds "Expect: 100-continue" to large bodies; rulsrv must not depend on it. */
	list = curl_slist_append(list, "Expect:");
	if (content_type != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		list = curl_slist_append(list, ct);
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		list = curl_slist_append(list, headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(out.data);
		free(hdr.data);
		return -1;
	}
	r->body = out.data;
	r->body_len = out.len;
	r->headers = hdr.data;
	return 0;
}

int
harness_get(int port, const char *path, struct harness_response *r)
{
	return harness_http(port, "GET", path, NULL, NULL, 0, NULL, r);
}

int
harness_post_json(int port, const char *path, const char *json, struct harness_response *r)
{
	return harness_http(port, "POST", path, "application/json", json, strlen(json), NULL, r);
}

void
harness_response_free(struct harness_response *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

double
harness_metric(const char *exposition, const char *series)
{
	size_t len = strlen(series);
	const char *p = exposition;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, series, len) == 0 && p[len] == ' ')
			return strtod(p + len + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NAN;
}

double
harness_scrape(int port, const char *series)
{
	struct harness_response r;
	double v;

	if (harness_get(port, "/metrics", &r) < 0)
		return NAN;
	v = r.status == 200 ? harness_metric(r.body, series) : NAN;
	harness_response_free(&r);
	return v;
}

double
harness_scrape_until(int port, const char *series, double want, int wait_ms)
{
	double end = harness_now() + wait_ms / 1e3, v;

	for (;;) {
		v = harness_scrape(port, series);
		if (v == want || harness_now() >= end)
			return v;
		usleep(5000);
	}
}

int
harness_connect(int port, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0), e;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    ((flags & SOCK_NONBLOCK) && errno == EINPROGRESS))
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

double
harness_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
