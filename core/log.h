/* SPDX-License-Identifier: MIT */
/* log.h - leveled logging to stderr, journald priority prefixes when stderr is the journal. */
#ifndef RULSRV_LOG_H
#define RULSRV_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <rulsrv/plugin.h>

/* Decide once whether stderr is the journal (JOURNAL_STREAM matches stderr's dev:ino). */
void log_init(void);
void log_set_level(enum rulsrv_log_level level);
enum rulsrv_log_level log_get_level(void);
/* "err", "warning", "notice", "info", "debug" -> 0 and *out, or -EINVAL. */
int log_level_parse(const char *name, enum rulsrv_log_level *out);
bool log_enabled(enum rulsrv_log_level level);

/* One line; prefix (may be NULL) is written as "PREFIX: " before the message. */
void log_msg(enum rulsrv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vprefixed(enum rulsrv_log_level level, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Errors logged so far by any thread (to tell whether a callee already explained itself). */
unsigned long log_error_count(void);
/* Copy the first error this thread logs from now on into buf (NULL stops); for answers. */
void log_capture_first_error(char *buf, size_t len);

#define log_err(...) log_msg(RULSRV_LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(RULSRV_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(RULSRV_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(RULSRV_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(RULSRV_LOG_DEBUG, __VA_ARGS__)

#endif
