/* SPDX-License-Identifier: MIT */
/* log.c - leveled logging to stderr, journald priority prefixes when stderr is the journal. */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = RULSRV_LOG_INFO;
static _Atomic unsigned long log_errors;
static _Thread_local char *log_capture;
static _Thread_local size_t log_capture_len;
static bool log_to_journal;

static const char *const log_words[] = {
	[RULSRV_LOG_ERR] = "error",   [RULSRV_LOG_WARNING] = "warning", [RULSRV_LOG_NOTICE] = "notice",
	[RULSRV_LOG_INFO] = "info",   [RULSRV_LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=DEV:INO for the stream it connected to stderr. */
void
log_init(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_to_journal = false;
	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) < 0)
		return;
	log_to_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_set_level(enum rulsrv_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum rulsrv_log_level
log_get_level(void)
{
	return (enum rulsrv_log_level)atomic_load(&log_level);
}

int
log_level_parse(const char *name, enum rulsrv_log_level *out)
{
	static const struct {
		const char *name;
		enum rulsrv_log_level level;
	} names[] = {
		{ "err", RULSRV_LOG_ERR },   { "error", RULSRV_LOG_ERR },   { "warning", RULSRV_LOG_WARNING },
		{ "notice", RULSRV_LOG_NOTICE }, { "info", RULSRV_LOG_INFO }, { "debug", RULSRV_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

bool
log_enabled(enum rulsrv_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* The whole line is formatted first and written with one write(2), so threads never interleave. */
void
log_vprefixed(enum rulsrv_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char line[4096];
	size_t n = 0;
	int r;

	if (level <= RULSRV_LOG_ERR) {
		atomic_fetch_add(&log_errors, 1);
		if (log_capture != NULL && log_capture[0] == '\0') {
			va_list copy;
			int off = prefix != NULL ? snprintf(log_capture, log_capture_len, "%s: ", prefix) : 0;

			va_copy(copy, ap);
			if (off >= 0 && (size_t)off < log_capture_len)
				vsnprintf(log_capture + off, log_capture_len - (size_t)off, fmt, copy);
			va_end(copy);
		}
	}
	if (!log_enabled(level))
		return;
	if (level < RULSRV_LOG_ERR)
		level = RULSRV_LOG_ERR;
	if (level > RULSRV_LOG_DEBUG)
		level = RULSRV_LOG_DEBUG;
	if (log_to_journal) {
		r = snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line, sizeof(line), "%s.%03ld [%s] ", stamp, ts.tv_nsec / 1000000L,
			     log_words[level]);
	}
	n = r > 0 ? (size_t)r : 0;
	if (prefix != NULL && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, "%s: ", prefix);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

void
log_msg(enum rulsrv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprefixed(level, NULL, fmt, ap);
	va_end(ap);
}

unsigned long
log_error_count(void)
{
	return atomic_load(&log_errors);
}

void
log_capture_first_error(char *buf, size_t len)
{
	log_capture = buf;
	log_capture_len = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}
