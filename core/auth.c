/* SPDX-License-Identifier: MIT */
/* auth.c - admin routes: bearer token from a private file, or loopback only. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
auth_token_load(const char *path, char **token, char *err, size_t err_len)
{
	char buf[1024], ebuf[128];
	struct stat st;
	ssize_t n;
	size_t len, start = 0;
	int fd, r;

	*token = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot read admin token file '%s': %s", path,
			 strerror_r(-r, ebuf, sizeof(ebuf)));
		return r;
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, err_len,
			 "admin token file '%s' is accessible by group or others (chmod 600 it)", path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		snprintf(err, err_len, "cannot read admin token file '%s': %s", path,
			 strerror_r(-r, ebuf, sizeof(ebuf)));
		return r;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	while (len > start && isspace((unsigned char)buf[len - 1]))
		len--;
	if (len == start) {
		snprintf(err, err_len, "admin token file '%s' holds no token", path);
		explicit_bzero(buf, sizeof(buf));
		return -EINVAL;
	}
	*token = strndup(buf + start, len - start);
	explicit_bzero(buf, sizeof(buf));
	if (*token == NULL) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void
auth_token_free(char *token)
{
	if (token == NULL)
		return;
	explicit_bzero(token, strlen(token));
	free(token);
}

/* Time depends on the lengths only, never on where the first difference is. */
static bool
auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;
	size_t i;

	for (i = 0; i < blen; i++)
		diff |= (unsigned char)(a[i % (alen > 0 ? alen : 1)] ^ b[i]);
	return diff == 0 && alen > 0;
}

unsigned
auth_check(const char *token, const char *authorization, bool from_loopback)
{
	const char *v;

	if (token == NULL)
		return from_loopback ? 0 : 403;
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 401;
	v = authorization + 7;
	while (*v == ' ')
		v++;
	return auth_equal(v, strlen(v), token, strlen(token)) ? 0 : 401;
}
