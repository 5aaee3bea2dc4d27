/* SPDX-License-Identifier: MIT */
/* fuzz_config.c - libFuzzer: rulsrv.conf(5) through config_load, with -o overrides. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char conf_dir[64], conf_path[96];

static void
remove_dir(void)
{
	unlink(conf_path);
	rmdir(conf_dir);
}

/* One private directory per fuzzing process; the file is rewritten for every input. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/dev/shm/rulsrv-fuzz-config-XXXXXX";

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL) {
		memcpy(dir, "/tmp/rulsrv-fuzz-config-XXXXXX", sizeof("/tmp/rulsrv-fuzz-config-XXXXXX"));
		if (mkdtemp(dir) == NULL)
			abort();
	}
	snprintf(conf_dir, sizeof(conf_dir), "%s", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/rulsrv.conf", dir);
	atexit(remove_dir);
	return 0;
}

/*
 * The input is the file, then optionally a line "---" followed by one override per line.
 * @include is left out: it reads other files by design (any path the administrator names).
 * Whatever the text, config_load returns 0 and a config, or an error message; never crashes.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *sep, *ov[8], *p, err[1024];
	struct config *c = NULL;
	size_t nov = 0;
	FILE *f;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (memchr(text, '\0', size) != NULL || strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	sep = strstr(text, "\n---\n");
	if (sep != NULL) {
		*sep = '\0';
		for (p = strtok(sep + 5, "\n"); p != NULL && nov < 8; p = strtok(NULL, "\n"))
			ov[nov++] = p;
	}
	f = fopen(conf_path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	if (config_load(conf_path, (const char *const *)ov, nov, &c, err, sizeof(err)) == 0) {
		if (c == NULL)
			abort();
		config_free(c);
	} else if (c != NULL || err[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}
