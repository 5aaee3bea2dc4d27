/* SPDX-License-Identifier: MIT */
/* read_file.c - a whole file into one NUL-terminated buffer, bounded, without logging. */
#include "read_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a pipe or a device is read in while its size is unknown. */
#define READ_FILE_CHUNK 65536u

/* Make room for at least one more byte past used (and the NUL), never beyond max_bytes + 1. */
static int
grow(char **buf, size_t *cap, size_t used, size_t max_bytes)
{
	size_t ncap;
	char *nbuf;

	if (used < *cap)
		return 0;
	/* One byte past max_bytes is enough to learn that the file is too large. */
	if (used > max_bytes)
		return -EFBIG;
	ncap = *cap < READ_FILE_CHUNK ? READ_FILE_CHUNK : *cap * 2;
	if (ncap < *cap)
		return -ENOMEM;
	if (ncap > max_bytes)
		ncap = max_bytes + 1;
	if (ncap == SIZE_MAX)
		return -ENOMEM;
	nbuf = realloc(*buf, ncap + 1);
	if (nbuf == NULL)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

static int
read_fd(int fd, size_t hint, size_t max_bytes, char **out, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, used = 0;
	ssize_t n;
	int r;

	/*
	 * A regular file's size is known: one buffer of that size plus one byte, so that the
	 * read that finds the end (or a file that grew) needs no second allocation.
	 */
	if (hint > 0) {
		cap = hint + 1;
		buf = malloc(cap + 1);
		if (buf == NULL)
			return -ENOMEM;
	}
	for (;;) {
		r = grow(&buf, &cap, used, max_bytes);
		if (r < 0)
			goto fail_buf;
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto fail_buf;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max_bytes) {
		r = -EFBIG;
		goto fail_buf;
	}
	if (buf == NULL) {
		buf = malloc(1);
		if (buf == NULL)
			return -ENOMEM;
	}
	buf[used] = '\0';
	*out = buf;
	if (len != NULL)
		*len = used;
	return 0;

fail_buf:
	free(buf);
	return r;
}

int
read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
	struct stat st;
	size_t hint = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out_fd;
	}
	if (S_ISREG(st.st_mode)) {
		if ((unsigned long long)st.st_size > max_bytes) {
			r = -EFBIG;
			goto out_fd;
		}
		hint = (size_t)st.st_size;
	}
	r = read_fd(fd, hint, max_bytes, out, len);
out_fd:
	close(fd);
	return r;
}
