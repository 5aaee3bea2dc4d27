/* SPDX-License-Identifier: MIT */
/* cmapss.h - read C-MAPSS rows (files plain or gzip, or bodies in memory) into a table. */
#ifndef RULSRV_CMAPSS_H
#define RULSRV_CMAPSS_H

#include <stddef.h>
#include <stdint.h>

/* A C-MAPSS row after its unit and cycle: 3 operating settings, then sensors s1..s21. */
#define CMAPSS_N_SETTINGS 3
#define CMAPSS_N_SENSORS 21
#define CMAPSS_N_INPUTS (CMAPSS_N_SETTINGS + CMAPSS_N_SENSORS)

/*
 * Name of input i (0 <= i < CMAPSS_N_INPUTS): "setting1".."setting3", then "s1".."s21", as
 * the data set's readme numbers them and bundles, features and drift labels spell them;
 * NULL past the last input.
 */
const char *cmapss_input_name(size_t i);

/* Rows in file order: unit, cycle, then CMAPSS_N_INPUTS values (3 settings, s1..s21). */
struct cmapss_table {
	size_t rows;
	int64_t *unit;
	int64_t *cycle;
	double *values; /* rows x CMAPSS_N_INPUTS, row-major */
};

/*
 * Read a C-MAPSS file, plain or gzip (zlib detects which). On a malformed row returns
 * -EINVAL with "FILE:LINE: column N: reason" in err. The caller frees out with
 * cmapss_table_free (also after a failure).
 */
int cmapss_read(const char *path, struct cmapss_table *out, char *err, size_t err_len);

/* Parse rows from memory (a text/plain request body); name is used in error messages. */
int cmapss_parse(const char *text, size_t len, const char *name, struct cmapss_table *out,
		 char *err, size_t err_len);

void cmapss_table_free(struct cmapss_table *t);

/* Read RUL_FD00N.txt: one number per line. *rul is malloc'd. */
int cmapss_read_rul(const char *path, double **rul, size_t *count, char *err, size_t err_len);

/*
 * Find the data set: $CMAPSS_DIR, then data/cmapss, then ../shared/data/cmapss. A folder
 * counts when it holds train_FD001.txt or train_FD001.txt.gz. -ENOENT when none does.
 */
int cmapss_find_dir(char *out, size_t out_len);

/* Path of FILE (e.g. "train_FD001.txt") in dir, preferring the plain file, else ".gz". */
int cmapss_path(const char *dir, const char *file, char *out, size_t out_len);

#endif
