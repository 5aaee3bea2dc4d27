/* SPDX-License-Identifier: MIT */
/* test_predict_plugins.c - the built model plugins: descriptor, ABI, one exported symbol. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include <rulsrv/plugin.h>

Suite *predict_plugins_suite(void);

static const char *const plugins[] = { "predict_forest", "predict_xgboost" };

START_TEST(test_descriptor)
{
	const struct rulsrv_plugin_descriptor *d;
	char path[512];
	void *h;

	snprintf(path, sizeof(path), "%s/plugins/%s.so", RULSRV_BUILD_DIR, plugins[_i]);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "%s", dlerror());
	d = dlsym(h, RULSRV_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->abi_major, RULSRV_PLUGIN_ABI_MAJOR);
	ck_assert_uint_le(d->abi_minor, RULSRV_PLUGIN_ABI_MINOR);
	ck_assert_str_eq(d->name, plugins[_i]);
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

Suite *
predict_plugins_suite(void)
{
	Suite *s = suite_create("predict_plugins");
	TCase *tc = tcase_create("load");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_descriptor, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
