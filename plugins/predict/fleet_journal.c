/* SPDX-License-Identifier: MIT */
/* fleet_journal.c - an append-only file of records made durable by one fdatasync each: the
 * SQLite fleet store's commit, ahead of the tables it is applied to later. */
#include "fleet_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>

/*
 * Why a journal of our own in front of SQLite: a durable SQLite commit of a group of cycles
 * writes a B-tree page per engine touched (4 KiB for a 240-byte slot), and every few commits
 * the checkpoint copies them again, all before the answer; an append of the same cycles is a
 * few hundred bytes each and one fdatasync (docs/FLEET.md, docs/BENCHMARKS.md).
 */

#define JOURNAL_MAGIC 0x4a464c52u /* "RLFJ" little-endian */
#define JOURNAL_SUFFIX "-fleet-journal-"
#define JOURNAL_SPARE JOURNAL_SUFFIX "spare"

/*
 * Appends overwrite blocks that are already written (zeros, or an applied file's old frames),
 * so that fdatasync has only data to flush: an append that grows the file changes its size,
 * and ext4 then commits its journal, which in data=ordered mode first writes out every other
 * file's new blocks (SQLite's checkpoint: stalls of half a second were measured). The first
 * file is filled with zeros when the journal opens; a file whose records are all applied is
 * kept as the spare, renamed to be the next generation when appends rotate.
 */

struct frame {
	uint32_t magic;
	uint32_t len; /* payload bytes */
	uint64_t seq;
	uint32_t crc; /* CRC-32 of len, seq and the payload */
	uint32_t zero;
};

struct jfile {
	uint64_t gen;
	uint64_t last_seq; /* of the records in it; 0 when none */
};

struct fleet_journal {
	pthread_mutex_t lock; /* seq (written), files[], n_files, released */
	char *path;
	int fd;               /* the newest file, appended to */
	off_t end;            /* its size */
	bool broken;          /* an append could not be undone: the next one starts a new file */
	uint64_t seq;         /* last appended */
	uint64_t released;
	struct jfile *files; /* oldest first; the last is the one appended to */
	size_t n_files, cap_files;
};

/* The file's generation is in every frame's CRC: a recycled file's old frames never check. */
static uint32_t
frame_crc(uint64_t gen, uint32_t len, uint64_t seq, const void *payload)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, (const Bytef *)&gen, sizeof(gen));
	c = crc32(c, (const Bytef *)&len, sizeof(len));
	c = crc32(c, (const Bytef *)&seq, sizeof(seq));
	/* zlib takes a uInt length: a record is far below 4 GiB (FLEET_MAX_GROUP items) */
	return (uint32_t)crc32(c, payload, len);
}

static char *
file_name(const char *path, uint64_t gen)
{
	char *name = NULL;

	if (asprintf(&name, "%s" JOURNAL_SUFFIX "%020llu", path, (unsigned long long)gen) < 0)
		return NULL;
	return name;
}

/* The directory of path and its last component (both allocated), for listing and syncing. */
static int
split_path(const char *path, char **dir, char **base)
{
	const char *slash = strrchr(path, '/');

	*dir = slash == NULL ? strdup(".") : slash == path ? strdup("/") :
		strndup(path, (size_t)(slash - path));
	*base = strdup(slash == NULL ? path : slash + 1);
	if (*dir == NULL || *base == NULL) {
		free(*dir);
		free(*base);
		return -ENOMEM;
	}
	return 0;
}

static int
sync_dir(const char *path)
{
	char *dir, *base;
	int fd, r = 0;

	if (split_path(path, &dir, &base) < 0)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	free(base);
	return r;
}

static int
by_gen(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The generations of path's journal files, sorted (*gens allocated, NULL when none). */
static int
list_generations(const char *path, uint64_t **gens, size_t *n)
{
	char *dir, *base, *end;
	size_t blen, cap = 0;
	struct dirent *d;
	uint64_t *v = NULL, *nv, g;
	DIR *dp;
	int r = 0;

	*gens = NULL;
	*n = 0;
	if (split_path(path, &dir, &base) < 0)
		return -ENOMEM;
	blen = strlen(base);
	dp = opendir(dir);
	if (dp == NULL)
		r = -errno;
	while (r == 0 && (d = readdir(dp)) != NULL) {
		const char *s = d->d_name;

		if (strncmp(s, base, blen) != 0 || strncmp(s + blen, JOURNAL_SUFFIX,
							    strlen(JOURNAL_SUFFIX)) != 0)
			continue;
		s += blen + strlen(JOURNAL_SUFFIX);
		if (*s < '0' || *s > '9')
			continue;
		errno = 0;
		g = strtoull(s, &end, 10);
		if (*end != '\0' || errno != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[(*n)++] = g;
	}
	if (dp != NULL)
		closedir(dp);
	free(dir);
	free(base);
	if (r < 0) {
		free(v);
		*n = 0;
		return r;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), by_gen);
	*gens = v;
	return 0;
}

/* Full reads; 1 when the file ended first (a cut append), 0, or -errno. */
static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t k = read(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* One file's intact records to fn; stops quietly at the first frame that does not check. */
static int
replay_file(const char *name, uint64_t gen, fleet_journal_fn fn, void *ud, size_t *n_records)
{
	struct frame f;
	struct stat st;
	void *buf = NULL;
	off_t at = 0;
	int fd = open(name, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	while (r == 0 && (r = read_all(fd, &f, sizeof(f))) == 0) {
		if (f.magic != JOURNAL_MAGIC || f.zero != 0 ||
		    (off_t)f.len > st.st_size - at - (off_t)sizeof(f)) {
			r = 1;
			break;
		}
		free(buf);
		buf = malloc(f.len ? f.len : 1);
		if (buf == NULL) {
			r = -ENOMEM;
			break;
		}
		r = read_all(fd, buf, f.len);
		if (r != 0)
			break;
		if (frame_crc(gen, f.len, f.seq, buf) != f.crc) {
			r = 1;
			break;
		}
		r = fn(ud, buf, f.len);
		if (r < 0)
			break;
		(*n_records)++;
		at += (off_t)sizeof(f) + f.len;
	}
	free(buf);
	close(fd);
	return r < 0 ? r : 0;
}

int
fleet_journal_replay(const char *path, fleet_journal_fn fn, void *ud, uint64_t *next_gen,
		     size_t *n_records)
{
	uint64_t *gens;
	size_t n, i;
	char *name;
	int r;

	*next_gen = 1;
	*n_records = 0;
	r = list_generations(path, &gens, &n);
	for (i = 0; r == 0 && i < n; i++) {
		name = file_name(path, gens[i]);
		r = name == NULL ? -ENOMEM : replay_file(name, gens[i], fn, ud, n_records);
		free(name);
	}
	if (n > 0)
		*next_gen = gens[n - 1] + 1;
	free(gens);
	return r;
}

static char *
spare_name(const char *path)
{
	char *name = NULL;

	if (asprintf(&name, "%s" JOURNAL_SPARE, path) < 0)
		return NULL;
	return name;
}

/* An applied file goes, or becomes the spare when there is none. */
static void
retire_gen(const char *path, uint64_t gen, bool keep)
{
	char *name = file_name(path, gen), *spare = spare_name(path);

	if (name != NULL && spare != NULL && keep && access(spare, F_OK) != 0)
		rename(name, spare);
	else if (name != NULL)
		unlink(name);
	free(name);
	free(spare);
}

static void
unlink_gen(const char *path, uint64_t gen)
{
	retire_gen(path, gen, false);
}

/* Zeros over the first FLEET_JOURNAL_ROTATE_BYTES of fd, made durable. */
static int
fill_zeros(int fd)
{
	static const char zeros[1 << 16];
	off_t at;

	for (at = 0; at < (off_t)FLEET_JOURNAL_ROTATE_BYTES; at += (off_t)sizeof(zeros))
		if (pwrite(fd, zeros, sizeof(zeros), at) != (ssize_t)sizeof(zeros))
			return errno ? -errno : -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

/* A new file of generation gen, made durable in its directory; becomes the one appended to. */
static int
start_file(struct fleet_journal *j, uint64_t gen, bool prefill)
{
	char *name = file_name(j->path, gen), *spare;
	struct jfile *nf;
	int fd, r;

	if (name == NULL)
		return -ENOMEM;
	if (j->n_files == j->cap_files) {
		size_t cap = j->cap_files ? j->cap_files * 2 : 4;

		nf = realloc(j->files, cap * sizeof(*nf));
		if (nf == NULL) {
			free(name);
			return -ENOMEM;
		}
		j->files = nf;
		j->cap_files = cap;
	}
	spare = spare_name(j->path);
	if (spare == NULL) {
		free(name);
		return -ENOMEM;
	}
	if (rename(spare, name) == 0) {
		fd = open(name, O_WRONLY | O_CLOEXEC);
	} else {
		fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0 && prefill && (r = fill_zeros(fd)) < 0) {
			close(fd);
			fd = -1;
			errno = -r;
		}
	}
	r = fd < 0 ? -errno : sync_dir(j->path);
	free(name);
	free(spare);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->end = 0;
	j->broken = false;
	pthread_mutex_lock(&j->lock);
	j->files[j->n_files++] = (struct jfile){ .gen = gen };
	pthread_mutex_unlock(&j->lock);
	return 0;
}

int
fleet_journal_open(const char *path, uint64_t gen, struct fleet_journal **out)
{
	struct fleet_journal *j = calloc(1, sizeof(*j));
	uint64_t *gens;
	size_t n, i;
	int r;

	if (j == NULL)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	j->fd = -1;
	j->path = strdup(path);
	r = j->path == NULL ? -ENOMEM : list_generations(path, &gens, &n);
	if (r == 0) {
		for (i = 0; i < n; i++)
			if (gens[i] < gen)
				retire_gen(path, gens[i], true);
		free(gens);
		r = start_file(j, gen, true);
	}
	if (r < 0) {
		fleet_journal_close(j, 0);
		return r;
	}
	*out = j;
	return 0;
}

/* Undo a failed append: cut the file back to where the record began, durably. */
static void
cut_back(struct fleet_journal *j)
{
	if (ftruncate(j->fd, j->end) < 0 || fdatasync(j->fd) < 0)
		j->broken = true;
}

int
fleet_journal_append(struct fleet_journal *j, const void *rec, size_t len, uint64_t *seq)
{
	struct frame f = { .magic = JOURNAL_MAGIC };
	struct iovec iov[2];
	size_t want, done = 0;
	ssize_t k;
	int r;

	if (len > UINT32_MAX - sizeof(f))
		return -EMSGSIZE;
	if (j->broken || j->end >= (off_t)FLEET_JOURNAL_ROTATE_BYTES) {
		r = start_file(j, j->files[j->n_files - 1].gen + 1, false);
		if (r < 0)
			return r;
	}
	f.len = (uint32_t)len;
	f.seq = j->seq + 1;
	f.crc = frame_crc(j->files[j->n_files - 1].gen, f.len, f.seq, rec);
	want = sizeof(f) + len;
	while (done < want) {
		/* the rest of the frame, then the rest of the record */
		int n = 0;

		if (done < sizeof(f))
			iov[n++] = (struct iovec){ (char *)&f + done, sizeof(f) - done };
		iov[n] = (struct iovec){ (char *)rec + (done > sizeof(f) ? done - sizeof(f) : 0),
					 len - (done > sizeof(f) ? done - sizeof(f) : 0) };
		n++;
		k = pwritev(j->fd, iov, n, j->end + (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : -EIO;
			cut_back(j);
			return r;
		}
		done += (size_t)k;
	}
	if (fdatasync(j->fd) < 0) {
		r = -errno;
		cut_back(j);
		j->broken = true; /* what reached the disk of this file is not known any more */
		return r;
	}
	j->end += (off_t)want;
	pthread_mutex_lock(&j->lock);
	j->seq = f.seq;
	j->files[j->n_files - 1].last_seq = f.seq;
	pthread_mutex_unlock(&j->lock);
	*seq = f.seq;
	return 0;
}

void
fleet_journal_release(struct fleet_journal *j, uint64_t seq)
{
	size_t i, k = 0;

	pthread_mutex_lock(&j->lock);
	if (seq > j->released)
		j->released = seq;
	/* whole files, oldest first, never the one appended to */
	while (k + 1 < j->n_files && j->files[k].last_seq <= j->released)
		k++;
	for (i = 0; i < k; i++)
		retire_gen(j->path, j->files[i].gen, true);
	memmove(j->files, j->files + k, (j->n_files - k) * sizeof(*j->files));
	j->n_files -= k;
	pthread_mutex_unlock(&j->lock);
}

uint64_t
fleet_journal_last(struct fleet_journal *j)
{
	uint64_t seq;

	pthread_mutex_lock(&j->lock);
	seq = j->seq;
	pthread_mutex_unlock(&j->lock);
	return seq;
}

void
fleet_journal_close(struct fleet_journal *j, uint64_t applied)
{
	size_t i;

	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (applied >= j->seq) {
		char *spare = spare_name(j->path);

		for (i = 0; i < j->n_files; i++)
			unlink_gen(j->path, j->files[i].gen);
		if (spare != NULL)
			unlink(spare);
		free(spare);
	}
	pthread_mutex_destroy(&j->lock);
	free(j->files);
	free(j->path);
	free(j);
}
