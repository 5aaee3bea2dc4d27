/* SPDX-License-Identifier: MIT */
/* test_predict_plugins.c - the built model plugins: descriptor, ABI, exports, libraries. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <rulsrv/plugin.h>

Suite *predict_plugins_suite(void);

static const struct {
	const char *name;
	bool xgboost; /* links libxgboost */
} plugins[] = {
	{ "predict_forest", false },
	{ "predict_xgboost", true },
};
#define N_PLUGINS (sizeof(plugins) / sizeof(plugins[0]))

static void
plugin_path(char *path, size_t len, size_t i)
{
	snprintf(path, len, "%s/plugins/%s.so", RULSRV_BUILD_DIR, plugins[i].name);
}

START_TEST(test_descriptor)
{
	const struct rulsrv_plugin_descriptor *d;
	char path[512];
	void *h;

	plugin_path(path, sizeof(path), (size_t)_i);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "%s", dlerror());
	d = dlsym(h, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_uint_le(d->abi_minor, RULSRV_PLUGIN_ABI_MINOR);
	ck_assert_str_eq(d->name, plugins[_i].name);
	ck_assert_str_eq(d->kind, "model");
	ck_assert_ptr_nonnull(d->init);
	ck_assert_ptr_nonnull(d->ready);
	ck_assert_ptr_nonnull(d->fini);
	/* the shared model code is linked in but not exported */
	ck_assert_ptr_null(dlsym(h, "predict_request_parse_json"));
	ck_assert_ptr_null(dlsym(h, "bundle_load"));
	ck_assert_ptr_null(dlsym(h, "forest_backend"));
	dlclose(h);
}
END_TEST

/* ---- the .so files as the dynamic linker reads them ---------------------------------------- */

/* A plugin file mapped read-only, with its section headers checked to lie inside it. */
struct elf_file {
	const unsigned char *map;
	size_t len;
	const ElfW(Shdr) *sections;
	size_t section_count;
};

static void
elf_open(const char *path, struct elf_file *f)
{
	const ElfW(Ehdr) *eh;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "cannot open '%s'", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	f->len = (size_t)st.st_size;
	ck_assert_uint_ge(f->len, sizeof(*eh));
	f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	ck_assert_msg(f->map != MAP_FAILED, "cannot map '%s'", path);
	eh = (const ElfW(Ehdr) *)(const void *)f->map;
	ck_assert_msg(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0, "'%s' is not ELF", path);
	ck_assert_uint_eq(eh->e_shentsize, sizeof(ElfW(Shdr)));
	ck_assert_uint_le(eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)), f->len);
	f->sections = (const ElfW(Shdr) *)(const void *)(f->map + eh->e_shoff);
	f->section_count = eh->e_shnum;
}

static void
elf_close(struct elf_file *f)
{
	munmap((void *)f->map, f->len);
}

/* The one section of this type (.dynamic, .dynsym), its entries and its string table. */
static const void *
elf_section(const struct elf_file *f, ElfW(Word) type, size_t entsize, size_t *count,
	    const char **strtab, size_t *strtab_len)
{
	const ElfW(Shdr) *sh = NULL, *str;
	size_t i;

	for (i = 0; i < f->section_count && sh == NULL; i++)
		if (f->sections[i].sh_type == type)
			sh = &f->sections[i];
	ck_assert_ptr_nonnull(sh);
	ck_assert_uint_eq(sh->sh_entsize, entsize);
	ck_assert_uint_le(sh->sh_offset + sh->sh_size, f->len);
	ck_assert_uint_lt(sh->sh_link, f->section_count);
	str = &f->sections[sh->sh_link];
	ck_assert_uint_le(str->sh_offset + str->sh_size, f->len);
	*count = sh->sh_size / entsize;
	*strtab = (const char *)f->map + str->sh_offset;
	*strtab_len = str->sh_size;
	return f->map + sh->sh_offset;
}

static const char *
elf_string(const char *strtab, size_t len, size_t off)
{
	ck_assert_uint_lt(off, len);
	ck_assert_ptr_nonnull(memchr(strtab + off, '\0', len - off));
	return strtab + off;
}

/*
 * DT_NEEDED: only predict_xgboost.so asks the dynamic linker for libxgboost, so a host
 * without XGBoost still loads predict_forest.so (the point of the two static libraries of
 * plugins/predict/CMakeLists.txt).
 */
START_TEST(test_needed_libraries)
{
	const ElfW(Dyn) *dyn;
	struct elf_file f;
	const char *strtab, *lib;
	char path[512];
	size_t i, n, strtab_len, xgboost = 0, needed = 0;

	plugin_path(path, sizeof(path), (size_t)_i);
	elf_open(path, &f);
	dyn = elf_section(&f, SHT_DYNAMIC, sizeof(*dyn), &n, &strtab, &strtab_len);
	for (i = 0; i < n && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag != DT_NEEDED)
			continue;
		lib = elf_string(strtab, strtab_len, dyn[i].d_un.d_val);
		needed++;
		if (strncmp(lib, "libxgboost", 10) == 0)
			xgboost++;
	}
	elf_close(&f);
	ck_assert_uint_gt(needed, 0);
	ck_assert_msg(xgboost == (plugins[_i].xgboost ? 1u : 0u),
		      "%s.so needs libxgboost %zu times, expected %d", plugins[_i].name, xgboost,
		      plugins[_i].xgboost ? 1 : 0);
}
END_TEST

/*
 * .dynsym: exactly one symbol defined and visible to other objects, the descriptor. Anything
 * more (a lib/ function, a backend table) could bind to another plugin's copy at load time.
 */
START_TEST(test_one_export)
{
	const ElfW(Sym) *sym;
	struct elf_file f;
	const char *strtab, *name;
	char path[512], names[1024] = "";
	size_t i, n, strtab_len, count = 0, used = 0;
	unsigned bind;

	plugin_path(path, sizeof(path), (size_t)_i);
	elf_open(path, &f);
	sym = elf_section(&f, SHT_DYNSYM, sizeof(*sym), &n, &strtab, &strtab_len);
	for (i = 1; i < n; i++) { /* entry 0 is the null symbol */
		bind = ELF64_ST_BIND(sym[i].st_info);
		if (sym[i].st_shndx == SHN_UNDEF || bind == STB_LOCAL ||
		    ELF64_ST_VISIBILITY(sym[i].st_other) != STV_DEFAULT)
			continue;
		name = elf_string(strtab, strtab_len, sym[i].st_name);
		/* AddressSanitizer builds add an ODR indicator beside every exported global */
		if (strncmp(name, "__odr_asan", 10) == 0)
			continue;
		count++;
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, " %s", name);
	}
	elf_close(&f);
	ck_assert_msg(count == 1 && strcmp(names, " " RULSRV_PLUGIN_SYMBOL) == 0,
		      "%s.so exports %zu symbols:%s", plugins[_i].name, count, names);
}
END_TEST

Suite *
predict_plugins_suite(void)
{
	Suite *s = suite_create("predict_plugins");
	TCase *tc = tcase_create("load");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_descriptor, 0, N_PLUGINS);
	tcase_add_loop_test(tc, test_needed_libraries, 0, N_PLUGINS);
	tcase_add_loop_test(tc, test_one_export, 0, N_PLUGINS);
	suite_add_tcase(s, tc);
	return s;
}
