/* SPDX-License-Identifier: MIT */
/* test_fleet_journal.c - plugins/predict/fleet_journal.c: records back in order after a crash,
 * a cut or damaged last record ignored, files rotated and deleted once applied. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "fleet_journal.h"

Suite *fleet_journal_suite(void);

static char tmpdir[64], dbpath[128];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rulsrv-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/fleet.db", tmpdir);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The records a replay hands back, as integers (each record is its value as text). */
struct seen {
	long v[4096];
	size_t n;
};

static int
collect(void *ud, const void *rec, size_t len)
{
	struct seen *s = ud;
	char *buf = malloc(len + 1);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, rec, len);
	buf[len] = '\0';
	ck_assert_uint_lt(s->n, 4096);
	s->v[s->n++] = strtol(buf, NULL, 10);
	free(buf);
	return 0;
}

static void
append_value(struct fleet_journal *j, long v, uint64_t *seq)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", v);

	ck_assert_int_eq(fleet_journal_append(j, buf, (size_t)n, seq), 0);
}

static size_t
journal_files(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, "fleet.db-fleet-journal-") == e->d_name &&
		     strcmp(e->d_name, "fleet.db-fleet-journal-spare") != 0;
	closedir(d);
	return n;
}

/* The newest journal file's path. */
static void
newest_file(char *out, size_t len)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char best[256] = "";

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, "fleet.db-fleet-journal-0") == e->d_name &&
		    strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	ck_assert_str_ne(best, "");
	snprintf(out, len, "%s/%s", tmpdir, best);
}

/* A record of 1 MiB less a byte whose value is k (spaces, then k), appended as number k. */
static void
append_big(struct fleet_journal *j, uint64_t k)
{
	static char big[1 << 20];
	uint64_t seq;

	memset(big, ' ', sizeof(big)); /* strtol skips the spaces */
	snprintf(big + sizeof(big) - 16, 16, "%15llu", (unsigned long long)k);
	ck_assert_int_eq(fleet_journal_append(j, big, sizeof(big) - 1, &seq), 0);
	ck_assert_uint_eq(seq, k);
}

/* A crash (no close): every appended record comes back, in order, once. */
START_TEST(journal_replays_every_record_in_order)
{
	struct fleet_journal *j;
	struct seen s = { .n = 0 };
	uint64_t gen, seq;
	size_t n, i;

	ck_assert_int_eq(fleet_journal_replay(dbpath, collect, &s, &gen, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(gen, 1);
	ck_assert_int_eq(fleet_journal_open(dbpath, gen, &j), 0);
	for (i = 0; i < 100; i++) {
		append_value(j, (long)i, &seq);
		ck_assert_uint_eq(seq, i + 1);
	}
	ck_assert_uint_eq(fleet_journal_last(j), 100);
	/* a second process sees the files as a restart after a SIGKILL would */
	ck_assert_int_eq(fleet_journal_replay(dbpath, collect, &s, &gen, &n), 0);
	ck_assert_uint_eq(n, 100);
	ck_assert_uint_eq(gen, 2);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(s.v[i], (long)i);
	/* closed with nothing applied, the files stay */
	fleet_journal_close(j, 0);
	ck_assert_uint_eq(journal_files(), 1);
	/* the next journal deletes the older generations: their records are applied */
	ck_assert_int_eq(fleet_journal_open(dbpath, gen, &j), 0);
	ck_assert_uint_eq(journal_files(), 1);
	fleet_journal_close(j, fleet_journal_last(j));
	ck_assert_uint_eq(journal_files(), 0);
}
END_TEST

/* The last append cut short by a crash, or damaged: the records before it come back, and
 * nothing of it. _i: 0 cuts the frame's header, 1 the record, 2 flips a byte of the record. */
START_TEST(journal_ignores_a_cut_or_damaged_last_record)
{
	struct fleet_journal *j;
	struct seen s = { .n = 0 };
	char path[256], byte;
	struct stat st;
	uint64_t gen, seq;
	size_t n;
	int fd;

	ck_assert_int_eq(fleet_journal_open(dbpath, 1, &j), 0);
	append_value(j, 11, &seq);
	append_value(j, 22, &seq);
	append_value(j, 123456789, &seq);
	fleet_journal_close(j, 0);
	/* frames of 24 bytes: the records end at 3 * 24 + 2 + 2 + 9 = 85, the third's frame
	 * begins at 52 and its bytes at 76; the file is longer, zeros or old frames after them */
	newest_file(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_ge(st.st_size, 85);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	if (_i < 2) { /* a torn write: the tail of the append never reached the disk */
		static const char zeros[64];
		off_t cut = _i == 0 ? 62 : 81;

		ck_assert_int_eq(pwrite(fd, zeros, (size_t)(85 - cut), cut), 85 - cut);
	} else {
		ck_assert_int_eq(pread(fd, &byte, 1, 82), 1);
		byte ^= 0x01;
		ck_assert_int_eq(pwrite(fd, &byte, 1, 82), 1);
	}
	close(fd);
	ck_assert_int_eq(fleet_journal_replay(dbpath, collect, &s, &gen, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(s.v[0], 11);
	ck_assert_int_eq(s.v[1], 22);
}
END_TEST

/* Past FLEET_JOURNAL_ROTATE_BYTES appends go to a new file; a replay reads the files in order;
 * release deletes the files whose records are all applied, never the one appended to. */
START_TEST(journal_rotates_and_releases_whole_files)
{
	struct fleet_journal *j;
	struct seen s = { .n = 0 };
	uint64_t gen, seq, k;
	size_t n, files;

	ck_assert_int_eq(fleet_journal_open(dbpath, 7, &j), 0);
	for (k = 1; k <= 40; k++) /* 40 MiB: three files at 16 MiB each */
		append_big(j, k);
	files = journal_files();
	ck_assert_uint_eq(files, 3);
	/* a crash now: every record back, across the files, oldest first */
	ck_assert_int_eq(fleet_journal_replay(dbpath, collect, &s, &gen, &n), 0);
	ck_assert_uint_eq(n, 40);
	ck_assert_uint_eq(gen, 10);
	for (k = 0; k < 40; k++)
		ck_assert_int_eq(s.v[k], (long)k + 1);
	fleet_journal_release(j, 10); /* the first file holds 1..16: not all applied */
	ck_assert_uint_eq(journal_files(), 3);
	fleet_journal_release(j, 20);
	ck_assert_uint_eq(journal_files(), 2);
	fleet_journal_release(j, 40); /* all applied; the newest stays, it is appended to */
	ck_assert_uint_eq(journal_files(), 1);
	append_value(j, 41, &seq);
	fleet_journal_close(j, 40); /* 41 is not applied: its file stays */
	ck_assert_uint_eq(journal_files(), 1);
}
END_TEST

/*
 * An applied file is kept as the spare and written over as a later generation: after a crash
 * its old frames, past the new ones, are not read back (the generation is in their CRC).
 */
START_TEST(journal_recycled_file_replays_only_new_records)
{
	struct fleet_journal *j;
	struct seen s = { .n = 0 };
	uint64_t gen, k;
	size_t n;
	char spare[256];

	snprintf(spare, sizeof(spare), "%s-fleet-journal-spare", dbpath);
	ck_assert_int_eq(fleet_journal_open(dbpath, 1, &j), 0);
	for (k = 1; k <= 20; k++) /* 1..16 fill the first file, 17.. go to the second */
		append_big(j, k);
	fleet_journal_release(j, 16);
	ck_assert_int_eq(access(spare, F_OK), 0);
	for (; k <= 34; k++) /* the second file fills at 32: 33.. go to the recycled one */
		append_big(j, k);
	ck_assert_int_ne(access(spare, F_OK), 0);
	/* a crash: the second file (17..32) and the third (33, 34, then the first's old frames) */
	ck_assert_int_eq(fleet_journal_replay(dbpath, collect, &s, &gen, &n), 0);
	ck_assert_uint_eq(n, 18);
	for (k = 0; k < 18; k++)
		ck_assert_int_eq(s.v[k], (long)k + 17);
	fleet_journal_close(j, 34);
	ck_assert_uint_eq(journal_files(), 0);
	ck_assert_int_ne(access(spare, F_OK), 0);
}
END_TEST

Suite *
fleet_journal_suite(void)
{
	Suite *s = suite_create("fleet_journal");
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, journal_replays_every_record_in_order);
	tcase_add_loop_test(tc, journal_ignores_a_cut_or_damaged_last_record, 0, 3);
	tcase_add_test(tc, journal_rotates_and_releases_whole_files);
	tcase_add_test(tc, journal_recycled_file_replays_only_new_records);
	suite_add_tcase(s, tc);
	return s;
}
