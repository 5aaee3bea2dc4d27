/* SPDX-License-Identifier: MIT */
/* test_read_file.c - lib/read_file.c: whole files, pipes, the size bound and the errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "read_file.h"

Suite *read_file_suite(void);

static char tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rulsrv-read-file-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write len bytes to tmpdir/name; the path goes into path. */
static void
put(const char *name, const void *bytes, size_t len, char *path, size_t path_len)
{
	FILE *f;

	snprintf(path, path_len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The bytes as written, NULs among them, then a NUL past the end for string callers. */
START_TEST(test_whole_file)
{
	static const char bytes[] = "{\"name\": \"a\0b\"}\n";
	char path[128], *buf = NULL;
	size_t len = 0;

	put("bundle.json", bytes, sizeof(bytes) - 1, path, sizeof(path));
	ck_assert_int_eq(read_file(path, 1024, &buf, &len), 0);
	ck_assert_uint_eq(len, sizeof(bytes) - 1);
	ck_assert_mem_eq(buf, bytes, len);
	ck_assert_int_eq(buf[len], '\0');
	free(buf);
	buf = NULL;
	ck_assert_int_eq(read_file(path, 1024, &buf, NULL), 0);
	ck_assert_str_eq(buf, "{\"name\": \"a");
	free(buf);
}
END_TEST

/* An empty file is an empty string, not an error, even with max_bytes 0. */
START_TEST(test_empty_file)
{
	char path[128], *buf = NULL;
	size_t len = 99;

	put("empty", "", 0, path, sizeof(path));
	ck_assert_int_eq(read_file(path, 0, &buf, &len), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(buf, "");
	free(buf);
}
END_TEST

/* max_bytes is inclusive: a file of exactly that size reads, one byte more is -EFBIG. */
START_TEST(test_size_bound)
{
	char path[128], *buf = NULL, *sentinel = (char *)"untouched";
	size_t len = 0;

	put("ten", "0123456789", 10, path, sizeof(path));
	ck_assert_int_eq(read_file(path, 10, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "0123456789");
	free(buf);
	buf = sentinel;
	ck_assert_int_eq(read_file(path, 9, &buf, &len), -EFBIG);
	ck_assert_ptr_eq(buf, sentinel);
}
END_TEST

START_TEST(test_errors)
{
	char path[128], *buf = NULL;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(read_file(path, 1024, &buf, NULL), -ENOENT);
	ck_assert_int_eq(read_file(tmpdir, 1024, &buf, NULL), -EISDIR);
	snprintf(path, sizeof(path), "%s/missing/file", tmpdir);
	ck_assert_int_eq(read_file(path, 1024, &buf, NULL), -ENOENT);
	ck_assert_ptr_null(buf);
	if (geteuid() != 0) { /* root reads a mode 000 file */
		put("secret", "x", 1, path, sizeof(path));
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(read_file(path, 1024, &buf, NULL), -EACCES);
		ck_assert_ptr_null(buf);
	}
}
END_TEST

/* Write n bytes of a rolling pattern into a pipe from a child; return the read end's path. */
static pid_t
pipe_of(size_t n, char *path, size_t path_len, int *rfd)
{
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char chunk[4096];
		size_t i, done = 0;

		close(fds[0]);
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = (char)('a' + i % 26);
		while (done < n) {
			size_t k = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
			ssize_t w = write(fds[1], chunk, k);

			if (w <= 0)
				_exit(1);
			done += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	*rfd = fds[0];
	snprintf(path, path_len, "/dev/fd/%d", fds[0]);
	return pid;
}

/* A pipe has no size to stat: read to its end, past the first buffer's growth. */
START_TEST(test_pipe)
{
	size_t n = 300000, len = 0, i;
	char path[64], *buf = NULL;
	int rfd, status;
	pid_t pid = pipe_of(n, path, sizeof(path), &rfd);

	ck_assert_int_eq(read_file(path, n, &buf, &len), 0);
	close(rfd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(len, n);
	for (i = 0; i < n; i++)
		if (buf[i] != (char)('a' + i % 4096 % 26))
			ck_abort_msg("byte %zu is '%c'", i, buf[i]);
	ck_assert_int_eq(buf[n], '\0');
	free(buf);
}
END_TEST

/* A pipe that says more than max_bytes is -EFBIG, the writer notwithstanding. */
START_TEST(test_pipe_too_large)
{
	char path[64], *buf = NULL;
	int rfd, status;
	pid_t pid = pipe_of(100000, path, sizeof(path), &rfd);

	ck_assert_int_eq(read_file(path, 99999, &buf, NULL), -EFBIG);
	ck_assert_ptr_null(buf);
	close(rfd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

Suite *
read_file_suite(void)
{
	Suite *s = suite_create("read_file");
	TCase *tc = tcase_create("read_file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_whole_file);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_size_bound);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_pipe);
	tcase_add_test(tc, test_pipe_too_large);
	suite_add_tcase(s, tc);
	return s;
}
