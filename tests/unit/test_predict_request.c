/* SPDX-License-Identifier: MIT */
/* test_predict_request.c - the /v1/predict body parser: exact errors (numbers: test_number.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "predict_request.h"

Suite *predict_request_suite(void);

static const struct predict_limits limits = { .max_instances = 16, .max_cycles = 8 };

/* A valid cycle object with every input = base + index/100. */
static void
append_cycle(char *buf, size_t len, long cycle, double base, size_t nsensors)
{
	size_t used = strlen(buf), i;

	used += (size_t)snprintf(buf + used, len - used, "{\"cycle\": %ld, \"settings\": [", cycle);
	for (i = 0; i < 3; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%.2f", i ? ", " : "",
					 base + (double)i / 100);
	used += (size_t)snprintf(buf + used, len - used, "], \"sensors\": [");
	for (i = 0; i < nsensors; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%.2f", i ? "," : "",
					 base + (double)(i + 3) / 100);
	snprintf(buf + used, len - used, "]}");
}

/* One engine with n cycles (1..n); the cycle `short_at` gets `nsensors` sensors. */
static char *
engine_json(long unit, size_t n, size_t short_at, size_t nsensors)
{
	char *buf = calloc(1, 65536);
	size_t i;

	snprintf(buf, 65536, "{\"unit\": %ld, \"cycles\": [", unit);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(buf, ", ");
		append_cycle(buf, 65536, (long)i + 1, (double)i, i == short_at ? nsensors : 21);
	}
	strcat(buf, "]}");
	return buf;
}

struct bad_case {
	const char *body;
	unsigned status;
	const char *code;
	const char *message; /* exact when it has no '*', else the prefix before '*' */
};

#define C1 "{\"cycle\":1,\"settings\":[1,2,3],\"sensors\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}"
#define C2 "{\"cycle\":2,\"settings\":[1,2,3],\"sensors\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}"
#define S20 "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]"
#define S21 "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]"

static const struct bad_case bad_cases[] = {
	{ "", 400, "malformed_json", "malformed JSON at byte 0: empty body" },
	{ "   ", 400, "malformed_json", "malformed JSON at byte 3: empty body" },
	{ "{", 400, "malformed_json", "malformed JSON at byte 1: expected a string as object key" },
	{ "{\"unit\": 1, \"cycles\": [}", 400, "malformed_json",
	  "malformed JSON at byte 23: *" },
	{ "{\"unit\": 1 \"cycles\": []}", 400, "malformed_json",
	  "malformed JSON at byte 11: expected ',' or '}'" },
	{ "{\"unit\": 1, \"cycles\": [" C1 "]} x", 400, "malformed_json",
	  "malformed JSON at byte *: trailing characters after the JSON value" },
	{ "{\"unit\": 01, \"cycles\": [" C1 "]}", 400, "malformed_json", "malformed JSON at byte 10: *" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[NaN,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid value" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[Infinity,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid value" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[-Infinity,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid number" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1.,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid number" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[.5,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid value" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[+1,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid value" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1e,2,3],\"sensors\":" S21 "}]}",
	  400, "malformed_json", "malformed JSON at byte 46: invalid number" },
	{ "\xef\xbb\xbf{\"unit\": 1, \"cycles\": [" C1 "]}", 400, "malformed_json",
	  "malformed JSON at byte 0: *" },
	{ "{\"un\x01it\": 1}", 400, "malformed_json",
	  "malformed JSON at byte 4: control character in string" },
	{ "{\"un\xc3it\": 1}", 400, "malformed_json",
	  "malformed JSON at byte 4: invalid UTF-8 in string" },
	{ "{\"un\\qit\": 1}", 400, "malformed_json",
	  "malformed JSON at byte 4: invalid escape in string" },
	{ "{\"unit\": \"x\", \"cycles\": [}", 400, "malformed_json", "malformed JSON at byte *" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1e999,2,3],\"sensors\":" S21 "}]}",
	  422, "non_finite_number", "cycles[0].settings[0]: number out of range: 1e999" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2,3],\"sensors\":" S20 "}]}",
	  422, "invalid_shape", "cycles[0].sensors: expected 21 numbers, got 20" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0].settings: expected 3 numbers, got 2" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2,3,4],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0].settings: expected 3 numbers, got 4" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,null,3],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0].settings[1]: expected a number, got null" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2,\"3\"],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0].settings[2]: expected a number, got a string" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2,3],\"sensors\":" S21 ",\"x\":1}]}",
	  422, "invalid_shape", "cycles[0]: unknown field \"x\"" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"settings\":[1,2,3]}]}",
	  422, "invalid_shape", "cycles[0]: missing field \"sensors\"" },
	{ "{\"unit\": 1, \"cycles\": [{\"settings\":[1,2,3],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0]: missing field \"cycle\"" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":1,\"cycle\":2,\"settings\":[1,2,3],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0]: duplicate field \"cycle\"" },
	{ "{\"unit\": 1, \"unit\": 2, \"cycles\": [" C1 "]}", 422, "invalid_shape",
	  "body: duplicate field \"unit\"" },
	{ "{\"unit\": 1}", 422, "invalid_shape", "body: missing field \"cycles\"" },
	{ "{\"cycles\": [" C1 "]}", 422, "invalid_shape", "body: missing field \"unit\"" },
	{ "{\"unit\": 1, \"cycles\": []}", 422, "invalid_shape", "cycles: expected at least 1 cycle" },
	{ "{\"unit\": 1, \"cycles\": {}}", 422, "invalid_shape",
	  "cycles: expected an array of cycles, got an object" },
	{ "{\"unit\": \"7\", \"cycles\": [" C1 "]}", 422, "invalid_shape",
	  "unit: expected an integer, got a string" },
	{ "{\"unit\": 7.5, \"cycles\": [" C1 "]}", 422, "invalid_shape",
	  "unit: expected an integer, got 7.5" },
	{ "{\"unit\": 1, \"cycles\": [" C1 "," C1 "]}", 422, "cycles_not_increasing",
	  "cycles[1].cycle: 1 does not follow 1: cycles must increase strictly" },
	{ "{\"unit\": 1, \"cycles\": [" C2 "," C1 "]}", 422, "cycles_not_increasing",
	  "cycles[1].cycle: 1 does not follow 2: cycles must increase strictly" },
	{ "[1, 2]", 422, "invalid_shape", "body: expected an object, got an array" },
	{ "{}", 422, "invalid_shape", "body: expected \"instances\" or \"unit\" and \"cycles\"" },
	{ "{\"color\": 1}", 422, "invalid_shape", "body: unknown field \"color\"" },
	{ "{\"instances\": []}", 422, "invalid_shape", "instances: expected at least 1 instance" },
	{ "{\"instances\": {}}", 422, "invalid_shape",
	  "instances: expected an array of engines, got an object" },
	{ "{\"instances\": [1]}", 422, "invalid_shape", "instances[0]: expected an object, got a number" },
	{ "{\"instances\": [{}]}", 422, "invalid_shape", "instances[0]: missing field \"unit\"" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]}], \"model\": 1}", 422, "invalid_shape",
	  "body: unknown field \"model\"" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]}], \"instances\": 1}", 422,
	  "invalid_shape", "body: duplicate field \"instances\"" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]},{\"unit\":2,\"cycles\":[" C1
	  ",{\"cycle\":2,\"settings\":[1,2,3],\"sensors\":" S20 "}]}]}",
	  422, "invalid_shape", "instances[1].cycles[1].sensors: expected 21 numbers, got 20" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]},{\"unit\":2,\"cycles\":[" C1
	  ",{\"cycle\":2,\"settings\":[1,2,3],\"sensors\":" S20 "}]}], x}",
	  400, "malformed_json", "malformed JSON at byte *: expected a string as object key" },
	/* units and cycles are non-negative, as in text/plain rows and /v1/feedback */
	{ "{\"unit\": -4, \"cycles\": [" C1 "]}", 422, "invalid_shape",
	  "unit: expected a non-negative integer, got -4" },
	{ "{\"cycles\": [" C1 "], \"unit\": -1}", 422, "invalid_shape",
	  "unit: expected a non-negative integer, got -1" },
	{ "{\"unit\": 1, \"cycles\": [{\"cycle\":-3,\"settings\":[1,2,3],\"sensors\":" S21 "}]}",
	  422, "invalid_shape", "cycles[0].cycle: expected a non-negative integer, got -3" },
	{ "{\"unit\": 1, \"cycles\": [" C1 ",{\"cycle\":-2,\"settings\":[1,2,3],\"sensors\":"
	  S21 "}]}", 422, "invalid_shape", "cycles[1].cycle: expected a non-negative integer, got -2" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]},{\"unit\":-4,\"cycles\":[" C1 "]}]}",
	  422, "invalid_shape", "instances[1].unit: expected a non-negative integer, got -4" },
	{ "{\"instances\": [{\"unit\":1,\"cycles\":[" C1 "]},{\"unit\":2,\"cycles\":["
	  "{\"cycle\":-3,\"settings\":[1,2,3],\"sensors\":" S21 "}]}]}",
	  422, "invalid_shape", "instances[1].cycles[0].cycle: expected a non-negative integer, got -3" },
	{ "{\"unit\": -1.5, \"cycles\": [" C1 "]}", 422, "invalid_shape",
	  "unit: expected an integer, got -1.5" },
	/* malformed later in the body still outranks the negative unit */
	{ "{\"unit\": -4, \"cycles\": [}", 400, "malformed_json", "malformed JSON at byte *" },
};

static void
check_bad(const struct bad_case *c)
{
	struct predict_request r;
	struct predict_error err;
	const char *star;
	int rc;

	predict_request_init(&r);
	memset(&err, 0, sizeof(err));
	rc = predict_request_parse_json(c->body, strlen(c->body), &limits, &r, &err);
	ck_assert_msg(rc < 0, "accepted: %s", c->body);
	ck_assert_msg(err.status == c->status, "status %u, want %u for %s (%s)", err.status,
		      c->status, c->body, err.message);
	ck_assert_str_eq(err.code, c->code);
	star = strchr(c->message, '*');
	if (star == NULL)
		ck_assert_str_eq(err.message, c->message);
	else
		ck_assert_msg(strncmp(err.message, c->message, (size_t)(star - c->message)) == 0,
			      "message '%s', want prefix '%.*s'", err.message,
			      (int)(star - c->message), c->message);
	predict_request_free(&r);
}

START_TEST(test_bad_bodies)
{
	check_bad(&bad_cases[_i]);
}
END_TEST

/* A too-deep body and a batch over the instance limit. */
START_TEST(test_limits)
{
	struct predict_request r;
	struct predict_error err;
	char *body = malloc(200000), *one = engine_json(1, 1, 99, 21);
	size_t i, used;
	int rc;

	used = (size_t)sprintf(body, "{\"instances\": [");
	for (i = 0; i < 17; i++)
		used += (size_t)sprintf(body + used, "%s%s", i ? "," : "", one);
	sprintf(body + used, "]}");
	predict_request_init(&r);
	rc = predict_request_parse_json(body, strlen(body), &limits, &r, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_uint_eq(err.status, 413);
	ck_assert_str_eq(err.code, "too_many_instances");
	ck_assert_str_eq(err.message, "instances: more than 16 instances (max_instances)");
	predict_request_free(&r);

	/* 16 is fine */
	used = (size_t)sprintf(body, "{\"instances\": [");
	for (i = 0; i < 16; i++)
		used += (size_t)sprintf(body + used, "%s%s", i ? "," : "", one);
	sprintf(body + used, "]}");
	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_json(body, strlen(body), &limits, &r, &err), 0);
	ck_assert_uint_eq(r.count, 16);
	predict_request_free(&r);

	/* 9 cycles, one over max_cycles */
	free(one);
	one = engine_json(1, 9, 99, 21);
	used = (size_t)sprintf(body, "{\"instances\": [%s]}", one);
	predict_request_init(&r);
	rc = predict_request_parse_json(body, used, &limits, &r, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_uint_eq(err.status, 413);
	ck_assert_str_eq(err.code, "too_many_cycles");
	ck_assert_str_eq(err.message, "instances[0].cycles: more than 8 cycles (max_cycles)");
	predict_request_free(&r);

	/* 90000 nested arrays, unterminated: malformed (400) found without recursion */
	used = (size_t)sprintf(body, "{\"unit\": ");
	for (i = 0; i < 90000; i++)
		body[used++] = '[';
	body[used] = '\0';
	predict_request_init(&r);
	rc = predict_request_parse_json(body, used, &limits, &r, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_uint_eq(err.status, 400);
	ck_assert_str_eq(err.message, "malformed JSON at byte 90009: unexpected end of input");
	predict_request_free(&r);

	/* the same, well-formed: the shape error stands (422) */
	for (i = 0; i < 90000; i++)
		body[used++] = ']';
	body[used++] = '}';
	predict_request_init(&r);
	rc = predict_request_parse_json(body, used, &limits, &r, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_uint_eq(err.status, 422);
	ck_assert_str_eq(err.message, "unit: expected an integer, got an array");
	predict_request_free(&r);
	free(body);
	free(one);
}
END_TEST

/* One engine, exact numbers and cycles; the body needs no NUL terminator. */
START_TEST(test_single_engine)
{
	struct predict_request r;
	struct predict_error err;
	char *body = engine_json(7, 5, 99, 21);
	size_t len = strlen(body), i, k;

	body[len] = 'X'; /* past the end: must not be read */
	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_json(body, len, &limits, &r, &err), 0);
	ck_assert(!r.batch);
	ck_assert_uint_eq(r.count, 1);
	ck_assert_int_eq(r.engines[0].unit, 7);
	ck_assert_uint_eq(r.engines[0].n, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(r.engines[0].cycles[i], (int64_t)i + 1);
		for (k = 0; k < CMAPSS_N_INPUTS; k++) {
			char txt[32];

			snprintf(txt, sizeof(txt), "%.2f", (double)i + (double)k / 100);
			ck_assert_double_eq(r.engines[0].inputs[i * CMAPSS_N_INPUTS + k],
					    strtod(txt, NULL));
		}
	}
	predict_request_free(&r);
	free(body);
}
END_TEST

/* A batch that outgrows the inline storage, with whitespace, escapes and field orders. */
START_TEST(test_batch)
{
	struct predict_limits big = { .max_instances = 1024, .max_cycles = 1024 };
	struct predict_request r;
	struct predict_error err;
	char *body = malloc(4 << 20), *e;
	size_t used, i, j;

	used = (size_t)sprintf(body, " {\n\t\"\\u0069nstances\" : [ ");
	for (i = 0; i < 40; i++) {
		e = engine_json(100 + (long)i, 10 + i % 7, 99, 21);
		used += (size_t)sprintf(body + used, "%s%s", i ? " ,\r\n" : "", e);
		free(e);
	}
	used += (size_t)sprintf(body + used, ", {\"cycles\": [{\"sensors\": " S21
				", \"settings\": [-1.5e2, 0, -0.0], \"cycle\": 3E1}], \"unit\": 0} ] } \n");
	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_json(body, used, &big, &r, &err), 0);
	ck_assert(r.batch);
	ck_assert_uint_eq(r.count, 41);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(r.engines[i].unit, 100 + (int64_t)i);
		ck_assert_uint_eq(r.engines[i].n, 10 + i % 7);
		for (j = 0; j < r.engines[i].n; j++) {
			ck_assert_int_eq(r.engines[i].cycles[j], (int64_t)j + 1);
			char txt[32];

			snprintf(txt, sizeof(txt), "%.2f", (double)j + 0.04);
			ck_assert_double_eq(r.engines[i].inputs[j * CMAPSS_N_INPUTS + 4],
					    strtod(txt, NULL));
		}
	}
	ck_assert_int_eq(r.engines[40].unit, 0);
	ck_assert_int_eq(r.engines[40].cycles[0], 30);
	ck_assert_double_eq(r.engines[40].inputs[0], -150.0);
	ck_assert(signbit(r.engines[40].inputs[2]));
	ck_assert_double_eq(r.engines[40].inputs[3 + 20], 21.0);
	predict_request_free(&r);
	free(body);
}
END_TEST

/*
 * Unit and cycle 0 (and -0) are accepted, negatives refused, by both body forms alike: a
 * client sees the same verdict whichever Content-Type it sends.
 */
START_TEST(test_unit_cycle_sign)
{
	static const char *const json[] = {
		"{\"unit\": 0, \"cycles\": [{\"cycle\": 0, \"settings\": [1,2,3], \"sensors\": " S21 "}]}",
		"{\"unit\": -0, \"cycles\": [{\"cycle\": -0.0, \"settings\": [1,2,3], \"sensors\": " S21 "}]}",
	};
	static const char text_zero[] = "0 0 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n";
	static const char text_neg_unit[] = "-4 1 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n";
	static const char text_neg_cycle[] = "1 -3 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n";
	struct predict_request r;
	struct predict_error err;
	size_t i;

	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		predict_request_init(&r);
		ck_assert_msg(predict_request_parse_json(json[i], strlen(json[i]), &limits, &r, &err) == 0,
			      "refused %s: %s", json[i], err.message);
		ck_assert_int_eq(r.engines[0].unit, 0);
		ck_assert_int_eq(r.engines[0].cycles[0], 0);
		predict_request_free(&r);
	}
	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_cmapss(text_zero, strlen(text_zero), &limits, &r,
						      &err), 0);
	ck_assert_int_eq(r.engines[0].unit, 0);
	ck_assert_int_eq(r.engines[0].cycles[0], 0);
	predict_request_free(&r);
	predict_request_init(&r);
	ck_assert_int_lt(predict_request_parse_cmapss(text_neg_unit, strlen(text_neg_unit), &limits,
						      &r, &err), 0);
	ck_assert_uint_eq(err.status, 400);
	ck_assert_ptr_nonnull(strstr(err.message, "column 1: unit '-4'"));
	predict_request_free(&r);
	predict_request_init(&r);
	ck_assert_int_lt(predict_request_parse_cmapss(text_neg_cycle, strlen(text_neg_cycle),
						      &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 400);
	ck_assert_ptr_nonnull(strstr(err.message, "column 2: cycle '-3'"));
	predict_request_free(&r);
}
END_TEST

/*
 * Mutated bodies (bytes replaced by JSON-significant ones, deleted, duplicated, cut): never a
 * crash, only 0 / 400 / 413 / 422, and the 400 verdict agrees with cJSON in the direction
 * cJSON is trustworthy: whatever cJSON cannot parse is malformed for us too, and whatever we
 * accept cJSON parses.
 */
START_TEST(test_mutations)
{
	static const char alphabet[] = "{}[],:\"0123456789.eE+-tfnul \\x\x01\xc3";
	char *seed = engine_json(3, 3, 99, 21), *buf = malloc(65536);
	size_t seed_len = strlen(seed), len, i, pos, n;
	struct predict_request r;
	struct predict_error err;
	unsigned rng = 99;
	cJSON *j;
	int rc, round;

	for (round = 0; round < 20000; round++) {
		memcpy(buf, seed, seed_len);
		len = seed_len;
		for (i = 0; i < 1 + (unsigned)round % 3; i++) {
			rng = rng * 1103515245u + 12345u;
			pos = (rng >> 8) % len;
			switch ((rng >> 4) % 4) {
			case 0:
				buf[pos] = alphabet[(rng >> 16) % (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			case 2:
				n = (rng >> 20) % 16;
				if (pos + n <= len && len + n < 65536) {
					memmove(buf + pos + n, buf + pos, len - pos);
					len += n;
				}
				break;
			default:
				len = pos + 1;
				break;
			}
		}
		predict_request_init(&r);
		rc = predict_request_parse_json(buf, len, &limits, &r, &err);
		predict_request_free(&r);
		j = cJSON_ParseWithLength(buf, len);
		if (rc == 0)
			ck_assert_msg(j != NULL, "accepted what cJSON cannot parse: %.*s", (int)len, buf);
		else
			ck_assert_msg(err.status == 400 || err.status == 413 || err.status == 422,
				      "status %u", err.status);
		if (j == NULL && rc < 0)
			ck_assert_msg(err.status == 400, "cJSON cannot parse, we said %u (%s): %.*s",
				      err.status, err.message, (int)len, buf);
		cJSON_Delete(j);
	}
	free(seed);
	free(buf);
}
END_TEST

/* ---- the cycle objects' fast path ------------------------------------------------------ */

/*
 * Cycle objects are read by a fast path first (predict_request.c), which gives up on anything
 * unusual and lets the general functions read the object again. These bodies are laid out as
 * clients send them, so the fast path reads far into a cycle before it meets the fault: the
 * verdict, the location and the byte offset must still be the general functions'.
 */
#define FAST_SETTINGS "[-0.0027, -0.0003, 100]"
#define FAST_SENSORS "[518.67, 641.71, 1588.45, 1395.42, 14.62, 21.61, 554.85, 2388.01, " \
	"9054.42, 1.3, 47.5, 522.16, 2388.06, 8139.62, 8.3803, 0.03, 393, 2388, 100, 39.02, 23.3916]"
#define FAST_CYCLE(n) "{\"cycle\": " #n ", \"settings\": " FAST_SETTINGS ", \"sensors\": " \
	FAST_SENSORS "}"

struct fast_fault {
	const char *cycle2;  /* the second cycle object */
	const char *mark;    /* the message's byte offset is where this starts in the body */
	unsigned status;
	const char *message; /* after "malformed JSON at byte N: " when mark is not NULL */
};

static const struct fast_fault fast_faults[] = {
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": [518.67, 641.71, 1588.45, "
	  "1395.42, 14.62, 21.61, 554.85, 2388.01, 9054.42, 1.3, 47.5, 522.16, 2388.06, 8139.62, "
	  "8.3803, 0.03, 393, 2388, 100, 39.02, 23.}]}", "23.}", 400,
	  "invalid number" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": [518.67, 641.71, 1588.45, "
	  "1395.42; 14.62]}", "; 14.62", 400, "expected ',' or ']'" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": [518.67, 641.71, 1588.45, "
	  "1395.42, 14.62, 1e999, 554.85]}", NULL, 422,
	  "cycles[1].sensors[5]: number out of range: 1e999" },
	{ "{\"cycle\": 2, \"settings\": [-0.0027, -0.0003, \"100\"], \"sensors\": " FAST_SENSORS "}",
	  NULL, 422, "cycles[1].settings[2]: expected a number, got a string" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": [518.67, 641.71, 1588.45, "
	  "1395.42, 14.62, 21.61, 554.85, 2388.01, 9054.42, 1.3, 47.5, 522.16, 2388.06, 8139.62, "
	  "8.3803, 0.03, 393, 2388, 100, 39.02]}", NULL, 422,
	  "cycles[1].sensors: expected 21 numbers, got 20" },
	{ "{\"cycle\": 2, \"settings\": [-0.0027, -0.0003, 100, 1], \"sensors\": " FAST_SENSORS "}",
	  NULL, 422, "cycles[1].settings: expected 3 numbers, got 4" },
	{ "{\"cycle\": 2.5, \"settings\": " FAST_SETTINGS ", \"sensors\": " FAST_SENSORS "}", NULL,
	  422, "cycles[1].cycle: expected an integer, got 2.5" },
	{ "{\"cycle\": -2, \"settings\": " FAST_SETTINGS ", \"sensors\": " FAST_SENSORS "}", NULL,
	  422, "cycles[1].cycle: expected a non-negative integer, got -2" },
	{ "{\"cycle\": 2, \"sensors\": " FAST_SENSORS ", \"settings\": " FAST_SETTINGS
	  ", \"sensors\": " FAST_SENSORS "}", NULL, 422, "cycles[1]: duplicate field \"sensors\"" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": " FAST_SENSORS
	  ", \"x\": 1}", NULL, 422, "cycles[1]: unknown field \"x\"" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS "}", NULL, 422,
	  "cycles[1]: missing field \"sensors\"" },
	{ "{\"cycle\": 2, \"settings\": " FAST_SETTINGS ", \"sensors\": " FAST_SENSORS " x}", " x}",
	  400, "expected ',' or '}'" },
	{ FAST_CYCLE(1), NULL, 422,
	  "cycles[1].cycle: 1 does not follow 1: cycles must increase strictly" },
};

START_TEST(test_fast_path_faults)
{
	const struct fast_fault *f = &fast_faults[_i];
	struct predict_request r;
	struct predict_error err;
	char body[4096], want[256];
	int rc;

	snprintf(body, sizeof(body), "{\"unit\": 1, \"cycles\": [" FAST_CYCLE(1) ", %s, "
		 FAST_CYCLE(3) "]}", f->cycle2);
	if (f->mark != NULL)
		snprintf(want, sizeof(want), "malformed JSON at byte %zu: %s",
			 (size_t)(strstr(body, f->mark) - body) + (f->mark[0] == ' '), f->message);
	else
		snprintf(want, sizeof(want), "%s", f->message);
	predict_request_init(&r);
	rc = predict_request_parse_json(body, strlen(body), &limits, &r, &err);
	ck_assert_msg(rc < 0, "accepted: %s", body);
	ck_assert_uint_eq(err.status, f->status);
	ck_assert_str_eq(err.message, want);
	predict_request_free(&r);
}
END_TEST

/* A random JSON number of any valid shape, its text and (by strtod) its value. */
static void
random_json_number(unsigned *rng, char *out, size_t len)
{
	double v;

	*rng = *rng * 1103515245u + 12345u;
	v = ((double)(*rng >> 8) / (1 << 24) - 0.3) * (double)(1u << (*rng % 14));
	*rng = *rng * 1103515245u + 12345u;
	switch ((*rng >> 12) % 9) {
	case 0: snprintf(out, len, "%.2f", v); break;
	case 1: snprintf(out, len, "%.4f", v); break;
	case 2: snprintf(out, len, "%.0f", v); break;
	case 3: snprintf(out, len, "%.17g", v); break;
	case 4: snprintf(out, len, "%.6e", v); break;
	case 5: snprintf(out, len, "%g", v); break;
	case 6: snprintf(out, len, "%.3E", v); break;
	case 7: snprintf(out, len, "%.9f", v); break;
	default: snprintf(out, len, "%s", (*rng >> 24) % 2 ? "-0" : "0"); break;
	}
}

/* JSON whitespace of 0 to 3 bytes, mostly none or one space. */
static void
random_ws(unsigned *rng, char *buf, size_t *used)
{
	static const char ws[] = "  \n\t\r";
	unsigned n;

	*rng = *rng * 1103515245u + 12345u;
	n = (*rng >> 10) % 8;
	for (n = n < 4 ? 0 : n - 4; n > 0; n--) {
		*rng = *rng * 1103515245u + 12345u;
		buf[(*used)++] = ws[(*rng >> 16) % (sizeof(ws) - 1)];
	}
}

/*
 * Valid bodies in every layout the fast path must take or hand over (whitespace anywhere,
 * fields in any order, numbers of every shape: short, long, exponents, -0): every input is
 * strtod's double of its text, bit for bit, read back from cJSON's tree of the same body.
 */
START_TEST(test_fast_path_values)
{
	static const char *const keys[] = { "\"cycle\"", "\"settings\"", "\"sensors\"" };
	static const size_t orders[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
					     { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	static const char *const cycle_forms[] = { "", ".0", "e0", ".000E+00" };
	struct predict_limits big = { .max_instances = 64, .max_cycles = 64 };
	char *body = malloc(1 << 20), num[64];
	unsigned rng = 2024, order;
	struct predict_request r;
	struct predict_error err;
	const cJSON *inst, *cyc, *c, *arr;
	cJSON *root;
	size_t used, e, t, k, i, row;
	int round;

	for (round = 0; round < 300; round++) {
		size_t engines = 1 + (size_t)round % 5;

		used = (size_t)sprintf(body, "{\"instances\": [");
		for (e = 0; e < engines; e++) {
			size_t cycles = 1 + (size_t)(round + e) % 9;

			used += (size_t)sprintf(body + used, "%s{\"unit\": %zu, \"cycles\": [",
						e ? ", " : "", e);
			for (t = 0; t < cycles; t++) {
				rng = rng * 1103515245u + 12345u;
				order = (rng >> 8) % 6;
				body[used++] = t ? ',' : ' ';
				random_ws(&rng, body, &used);
				body[used++] = '{';
				for (k = 0; k < 3; k++) {
					size_t f = orders[order][k], want = f == 1 ? 3 : 21;

					random_ws(&rng, body, &used);
					if (k > 0)
						body[used++] = ',';
					random_ws(&rng, body, &used);
					used += (size_t)sprintf(body + used, "%s", keys[f]);
					random_ws(&rng, body, &used);
					body[used++] = ':';
					random_ws(&rng, body, &used);
					if (f == 0) {
						used += (size_t)sprintf(body + used, "%zu%s", t + 1,
									cycle_forms[rng % 4]);
						continue;
					}
					body[used++] = '[';
					for (i = 0; i < want; i++) {
						random_ws(&rng, body, &used);
						random_json_number(&rng, num, sizeof(num));
						used += (size_t)sprintf(body + used, "%s%s",
									i ? "," : "", num);
						random_ws(&rng, body, &used);
					}
					body[used++] = ']';
				}
				random_ws(&rng, body, &used);
				body[used++] = '}';
			}
			used += (size_t)sprintf(body + used, "]}");
		}
		used += (size_t)sprintf(body + used, "]}");
		predict_request_init(&r);
		ck_assert_msg(predict_request_parse_json(body, used, &big, &r, &err) == 0,
			      "refused (%s): %.*s", err.message, (int)used, body);
		root = cJSON_ParseWithLength(body, used);
		ck_assert_ptr_nonnull(root);
		inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
		ck_assert_uint_eq(r.count, (size_t)cJSON_GetArraySize(inst));
		row = 0;
		for (e = 0; e < r.count; e++) {
			cyc = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(inst, (int)e),
							       "cycles");
			ck_assert_uint_eq(r.engines[e].n, (size_t)cJSON_GetArraySize(cyc));
			for (t = 0; t < r.engines[e].n; t++, row++) {
				c = cJSON_GetArrayItem(cyc, (int)t);
				ck_assert_int_eq(r.cycles[row],
						 (int64_t)cJSON_GetObjectItemCaseSensitive(c, "cycle")
							 ->valuedouble);
				for (k = 0; k < CMAPSS_N_INPUTS; k++) {
					double got = r.inputs[row * CMAPSS_N_INPUTS + k], want;

					arr = cJSON_GetObjectItemCaseSensitive(
						c, k < 3 ? "settings" : "sensors");
					want = cJSON_GetArrayItem(arr, (int)(k < 3 ? k : k - 3))
						       ->valuedouble;
					ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0,
						      "row %zu input %zu: %.17g, want %.17g", row, k,
						      got, want);
				}
			}
		}
		cJSON_Delete(root);
		predict_request_free(&r);
	}
	free(body);
}
END_TEST

/*
 * The row storage is sized from the first rows' bytes (predict_request.c, rows_estimate): a
 * body whose first rows are long (whitespace) and the rest short needs it to grow again, by
 * realloc, and every row must still hold its own numbers.
 */
START_TEST(test_rows_growth)
{
	struct predict_limits big = { .max_instances = 1024, .max_cycles = 1024 };
	char *body = malloc(4 << 20), *e;
	struct predict_request r;
	struct predict_error err;
	size_t used, i, j, row = 0;

	used = (size_t)sprintf(body, "{\"instances\": [{\"unit\": 0, \"cycles\": [");
	for (j = 0; j < 100; j++)
		used += (size_t)sprintf(body + used, "%s{\"cycle\": %zu, \"settings\": [%zu, 0, 0], "
					"%1000s\"sensors\": " S21 "}", j ? "," : "", j + 1, j, "");
	used += (size_t)sprintf(body + used, "]}");
	for (i = 1; i <= 60; i++) {
		e = engine_json((long)i, 1 + i % 8, 99, 21);
		used += (size_t)sprintf(body + used, ", %s", e);
		free(e);
	}
	used += (size_t)sprintf(body + used, "]}");
	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_json(body, used, &big, &r, &err), 0);
	ck_assert_uint_eq(r.count, 61);
	for (j = 0; j < 100; j++, row++) {
		ck_assert_int_eq(r.engines[0].cycles[j], (int64_t)j + 1);
		ck_assert_double_eq(r.engines[0].inputs[j * CMAPSS_N_INPUTS], (double)j);
		ck_assert_double_eq(r.engines[0].inputs[j * CMAPSS_N_INPUTS + 23], 21.0);
	}
	for (i = 1; i <= 60; i++) {
		ck_assert_uint_eq(r.engines[i].n, 1 + i % 8);
		ck_assert_uint_eq(r.engines[i].first, row);
		for (j = 0; j < r.engines[i].n; j++, row++) {
			ck_assert_int_eq(r.engines[i].cycles[j], (int64_t)j + 1);
			ck_assert_double_eq(r.cycles[row], (double)j + 1);
			ck_assert_double_eq(r.engines[i].inputs[j * CMAPSS_N_INPUTS + 4],
					    strtod(j == 0 ? "0.04" : j == 1 ? "1.04" : j == 2 ? "2.04" :
						   j == 3 ? "3.04" : j == 4 ? "4.04" : j == 5 ? "5.04" :
						   j == 6 ? "6.04" : "7.04", NULL));
		}
	}
	ck_assert_uint_eq(r.rows, row);
	ck_assert_uint_ge(r.cap_rows, row);
	predict_request_free(&r);
	free(body);
}
END_TEST

/* ---- text/plain ---------------------------------------------------------------------- */

static char *
cmapss_rows(const long *units, const long *cycles, size_t n)
{
	char *buf = calloc(1, n * 400 + 1);
	size_t used = 0, i, k;

	for (i = 0; i < n; i++) {
		used += (size_t)sprintf(buf + used, "%ld %ld", units[i], cycles[i]);
		for (k = 0; k < CMAPSS_N_INPUTS; k++)
			used += (size_t)sprintf(buf + used, " %.4f",
						(double)units[i] * 1000 + (double)cycles[i] + (double)k / 100);
		used += (size_t)sprintf(buf + used, " \n");
	}
	return buf;
}

START_TEST(test_cmapss_grouping)
{
	static const long units[] = { 3, 3, 1, 3, 1, 2 };
	static const long cycles[] = { 1, 2, 1, 3, 2, 1 };
	struct predict_request r;
	struct predict_error err;
	char *body = cmapss_rows(units, cycles, 6);

	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_cmapss(body, strlen(body), &limits, &r, &err), 0);
	ck_assert(r.batch);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_int_eq(r.engines[0].unit, 3);
	ck_assert_uint_eq(r.engines[0].n, 3);
	ck_assert_int_eq(r.engines[0].cycles[2], 3);
	ck_assert_double_eq_tol(r.engines[0].inputs[2 * CMAPSS_N_INPUTS + 5], 3003.05, 1e-9);
	ck_assert_int_eq(r.engines[1].unit, 1);
	ck_assert_uint_eq(r.engines[1].n, 2);
	ck_assert_double_eq_tol(r.engines[1].inputs[1 * CMAPSS_N_INPUTS], 1002.0, 1e-9);
	ck_assert_int_eq(r.engines[2].unit, 2);
	ck_assert_uint_eq(r.engines[2].n, 1);
	predict_request_free(&r);
	free(body);
}
END_TEST

START_TEST(test_cmapss_errors)
{
	static const long units[] = { 1, 1, 2 };
	static const long cycles[] = { 2, 2, 1 };
	long many_units[20], many_cycles[20];
	struct predict_request r;
	struct predict_error err;
	char *body = cmapss_rows(units, cycles, 3);
	size_t i;

	predict_request_init(&r);
	ck_assert_int_lt(predict_request_parse_cmapss(body, strlen(body), &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 422);
	ck_assert_str_eq(err.code, "cycles_not_increasing");
	ck_assert_str_eq(err.message, "row 2: unit 1: cycle 2 does not follow 2: cycles must "
			 "increase strictly");
	predict_request_free(&r);
	free(body);

	for (i = 0; i < 20; i++) {
		many_units[i] = (long)i + 1;
		many_cycles[i] = 1;
	}
	body = cmapss_rows(many_units, many_cycles, 20);
	predict_request_init(&r);
	ck_assert_int_lt(predict_request_parse_cmapss(body, strlen(body), &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 413);
	ck_assert_str_eq(err.code, "too_many_instances");
	predict_request_free(&r);
	free(body);

	predict_request_init(&r);
	body = "1 1 0.5 0.5\n";
	ck_assert_int_lt(predict_request_parse_cmapss(body, strlen(body), &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 400);
	ck_assert_str_eq(err.code, "malformed_rows");
	predict_request_free(&r);

	predict_request_init(&r);
	body = "1 1 0 0 100 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 1e999\n";
	ck_assert_int_lt(predict_request_parse_cmapss(body, strlen(body), &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 422);
	ck_assert_str_eq(err.code, "non_finite_number");
	ck_assert_ptr_nonnull(strstr(err.message, "column 26"));
	predict_request_free(&r);

	predict_request_init(&r);
	ck_assert_int_lt(predict_request_parse_cmapss("", 0, &limits, &r, &err), 0);
	ck_assert_uint_eq(err.status, 422);
	predict_request_free(&r);
}
END_TEST

/* ---- /v1/cycles bodies ------------------------------------------------------------------ */

#define FL_S3 "\"settings\":[1,2,3]"
#define FL_S21 "\"sensors\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]"

/* One cycle, a batch in body order (a unit may repeat), each cycle its own engine of n 1. */
START_TEST(test_cycles_json)
{
	const char *one = "{\"unit\":7,\"cycle\":113," FL_S3 "," FL_S21 "}";
	const char *batch = "{\"cycles\":[{\"unit\":9,\"cycle\":2," FL_S3 "," FL_S21 "},"
			    "{\"cycle\":1,\"unit\":7," FL_S21 "," FL_S3 "},"
			    "{\"unit\":9,\"cycle\":1," FL_S3 "," FL_S21 "}]}";
	struct predict_request r;
	struct predict_error err;

	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_cycles_json(one, strlen(one), &limits, &r, &err), 0);
	ck_assert_uint_eq(r.count, 1);
	ck_assert(!r.batch);
	ck_assert_int_eq(r.engines[0].unit, 7);
	ck_assert_int_eq(r.engines[0].cycles[0], 113);
	ck_assert_uint_eq(r.engines[0].n, 1);
	ck_assert_double_eq(r.engines[0].inputs[3], 1);
	ck_assert_double_eq(r.engines[0].inputs[23], 21);
	predict_request_free(&r);
	ck_assert_int_eq(predict_request_parse_cycles_json(batch, strlen(batch), &limits, &r, &err),
			 0);
	ck_assert_uint_eq(r.count, 3);
	ck_assert(r.batch);
	ck_assert_int_eq(r.engines[1].unit, 7);
	ck_assert_int_eq(r.engines[2].unit, 9);
	ck_assert_int_eq(r.engines[2].cycles[0], 1); /* not ordered here: the fleet checks */
	predict_request_free(&r);
}
END_TEST

START_TEST(test_cycles_errors)
{
	static const struct bad_case cases[] = {
		{ "{\"cycles\":[{\"unit\":1,\"cycle\":1," FL_S3 ",\"sensors\":[1,2]}]}", 422,
		  PREDICT_ERR_INVALID_SHAPE, "cycles[0].sensors: expected 21 numbers, got 2" },
		{ "{\"unit\":1,\"cycle\":1," FL_S3 "}", 422, PREDICT_ERR_INVALID_SHAPE,
		  "body: missing field \"sensors\"" },
		{ "{\"unit\":1,\"cycles\":[]}", 422, PREDICT_ERR_INVALID_SHAPE,
		  "body: unknown field \"cycles\"" },
		{ "{\"cycles\":[]}", 422, PREDICT_ERR_INVALID_SHAPE,
		  "cycles: expected at least 1 cycle" },
		{ "{\"cycles\":[{\"unit\":-1,\"cycle\":1," FL_S3 "," FL_S21 "}]}", 422,
		  PREDICT_ERR_INVALID_SHAPE, "cycles[0].unit: expected a non-negative integer, got -1" },
		{ "{\"cycles\":[{\"unit\":1,\"cycle\":1," FL_S3 "," FL_S21 "},]}", 400,
		  PREDICT_ERR_MALFORMED_JSON, "malformed JSON at byte *" },
		{ "{}", 422, PREDICT_ERR_INVALID_SHAPE, "body: expected \"cycles\" or *" },
	};
	struct predict_request r;
	struct predict_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		const char *star = strchr(c->message, '*');

		predict_request_init(&r);
		ck_assert_int_eq(predict_request_parse_cycles_json(c->body, strlen(c->body), &limits,
								   &r, &err), -EINVAL);
		ck_assert_uint_eq(err.status, c->status);
		ck_assert_str_eq(err.code, c->code);
		if (star == NULL)
			ck_assert_str_eq(err.message, c->message);
		else
			ck_assert_msg(strncmp(err.message, c->message, (size_t)(star - c->message)) == 0,
				      "%s", err.message);
		predict_request_free(&r);
	}
}
END_TEST

/* Text rows: one cycle per row, in body order, any units. */
START_TEST(test_cycles_cmapss)
{
	const char *rows = "2 5 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n"
			   "1 9 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n"
			   "2 4 1 2 3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n";
	struct predict_request r;
	struct predict_error err;

	predict_request_init(&r);
	ck_assert_int_eq(predict_request_parse_cycles_cmapss(rows, strlen(rows), &limits, &r, &err),
			 0);
	ck_assert_uint_eq(r.count, 3);
	ck_assert_int_eq(r.engines[0].unit, 2);
	ck_assert_int_eq(r.engines[2].cycles[0], 4);
	ck_assert_uint_eq(r.engines[1].n, 1);
	predict_request_free(&r);
}
END_TEST

Suite *
predict_request_suite(void)
{
	Suite *s = suite_create("predict_request");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_bad_bodies, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_single_engine);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_unit_cycle_sign);
	tcase_add_test(tc, test_mutations);
	tcase_add_loop_test(tc, test_fast_path_faults, 0,
			    (int)(sizeof(fast_faults) / sizeof(fast_faults[0])));
	tcase_add_test(tc, test_fast_path_values);
	tcase_add_test(tc, test_rows_growth);
	suite_add_tcase(s, tc);
	tc = tcase_create("cmapss");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cmapss_grouping);
	tcase_add_test(tc, test_cmapss_errors);
	tcase_add_test(tc, test_cycles_json);
	tcase_add_test(tc, test_cycles_errors);
	tcase_add_test(tc, test_cycles_cmapss);
	suite_add_tcase(s, tc);
	return s;
}
