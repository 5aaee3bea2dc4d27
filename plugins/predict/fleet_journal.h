/* SPDX-License-Identifier: MIT */
/* fleet_journal.h - an append-only file of records made durable by one fdatasync each: the
 * SQLite fleet store's commit, ahead of the tables it is applied to later. */
#ifndef RULSRV_FLEET_JOURNAL_H
#define RULSRV_FLEET_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The records live in files named <path>-fleet-journal-<generation> beside the database:
 * appends go to the newest; past FLEET_JOURNAL_ROTATE_BYTES the next append starts a new
 * generation, so that files whose records are all applied can be deleted whole while appends
 * go on. Each record is framed (magic, length, sequence number, CRC-32 of the rest); a replay
 * stops reading a file at the first frame that is short or does not check, which is where a
 * crash cut an append. Records are numbered from 1 in append order across generations.
 *
 * Threads: append from one thread at a time; release and the accessors from any thread.
 */

#define FLEET_JOURNAL_ROTATE_BYTES (16u << 20)

struct fleet_journal;

/* A record read back: rec (len bytes) is the journal's until fn returns. fn's negative
 * result stops the replay and is returned. */
typedef int (*fleet_journal_fn)(void *ud, const void *rec, size_t len);

/*
 * Every intact record of every journal file of path, oldest first, to fn; *next_gen is the
 * generation a new journal must take (above every file found), *n_records the records read.
 * 0 when there is no file; -errno when a file cannot be read.
 */
int fleet_journal_replay(const char *path, fleet_journal_fn fn, void *ud, uint64_t *next_gen,
			 size_t *n_records);

/*
 * Start journaling at generation gen: the files of older generations are deleted (their
 * records must be applied where they are read from now on), a new file is made, and its
 * directory synced so that the file survives a crash. *out owns the files; -errno otherwise.
 */
int fleet_journal_open(const char *path, uint64_t gen, struct fleet_journal **out);

/*
 * Append one record of len bytes (copied) and make it durable. *seq receives its number.
 * 0 once it is on stable storage; on -errno nothing of it will be replayed.
 */
int fleet_journal_append(struct fleet_journal *j, const void *rec, size_t len, uint64_t *seq);

/* Records up to seq are applied elsewhere durably: the files that hold only such records,
 * but the one appended to, are deleted. */
void fleet_journal_release(struct fleet_journal *j, uint64_t seq);

/* The number of the last record appended (0 before the first). */
uint64_t fleet_journal_last(struct fleet_journal *j);

/* Close; when every record is applied (applied >= the last appended), delete the files too.
 * Accepts NULL. */
void fleet_journal_close(struct fleet_journal *j, uint64_t applied);

#endif
