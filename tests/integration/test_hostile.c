/* SPDX-License-Identifier: MIT */
/* test_hostile.c - hostile requests against the live services: exact refusals, metrics, state. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "harness/harness.h"
#include "harness/harness_check.h"
#include "need.h"

Suite *hostile_suite(void);

/*
 * The two services of the default rulsrv.conf (prediction: forest model, drift, feedback log,
 * Prometheus; feedback: feedback, Prometheus) on models/fd001, with small limits so that
 * "over the limit" is cheap to send: 256 KiB bodies, 50 instances, 400 cycles, 50 records,
 * 2 s to deliver a whole request (5 s of silence close a connection).
 */
static const char h_conf[] =
	"plugin_dir = \"@PLUGINS@\";\n"
	"log_level = \"info\";\n"
	"plugins = {\n"
	"  model = { file = \"predict_forest.so\";\n"
	"    settings = { bundle = \"@SRC@/models/fd001\"; max_instances = 50; max_cycles = 400; }; };\n"
	"  drift = { file = \"drift_psi.so\"; settings = { reference = \"@SRC@/models/fd001\"; }; };\n"
	"  feedback = { file = \"feedback.so\";\n"
	"    settings = { database = \"@DIR@/feedback.db\"; max_batch = 50; }; };\n"
	"  prometheus = { file = \"export_prometheus.so\"; };\n"
	"};\n"
	"services = {\n"
	"  prediction = { listen = \"127.0.0.1:0\"; max_body_bytes = 262144;\n"
	"    connection_timeout_seconds = 5; request_timeout_seconds = 2;\n"
	"    plugins = [ \"model\", \"drift\", \"feedback\", \"prometheus\" ]; };\n"
	"  feedback = { listen = \"127.0.0.1:0\"; max_body_bytes = 262144;\n"
	"    connection_timeout_seconds = 5; request_timeout_seconds = 2;\n"
	"    plugins = [ \"feedback\", \"prometheus\" ]; };\n"
	"};\n";

#define H_LIMIT 262144

static struct harness_server h_srv;
static int h_port[2]; /* [P] prediction, [F] feedback */
static char h_model[128];
static bool h_skip;

enum { P, F };

/* ---- bodies ---------------------------------------------------------------------------------- */

#define SETS "[0.0005,0.0002,100]"
#define SENS "[518.67,642.5,1590,1405,14.62,21.61,553.5,2388.05,9050,1.3,47.5,521.5,2388.05,8140," \
	     "8.43,0.03,393,2388,100,38.9,23.3]"
#define ROW_C(c) "{\"cycle\":" c ",\"settings\":" SETS ",\"sensors\":" SENS "}"
#define ROW1 ROW_C("1")
#define ONE(cycles) "{\"unit\":7,\"cycles\":[" cycles "]}"
#define TEXT_ROW(u, c) u " " c " 0.0005 0.0002 100 518.67 642.5 1590 1405 14.62 21.61 553.5 " \
		       "2388.05 9050 1.3 47.5 521.5 2388.05 8140 8.43 0.03 393 2388 100 38.9 23.3\n"
#define FB_OK "{\"unit\":1,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4}"

/* Bodies too big or too deep to write out: made at run time. */
enum gen {
	G_NONE,
	G_DEEP_ARRAY,    /* cycles: 5000 nested arrays */
	G_DEEP_OBJECT,   /* a cycle holding 5000 nested objects */
	G_OVER_LIMIT,    /* H_LIMIT + 1 bytes of whitespace */
	G_INSTANCES_51,  /* one over max_instances */
	G_CYCLES_401,    /* one over max_cycles */
	G_TEXT_CYCLES_401,
	G_RECORDS_51,    /* one over max_batch */
	G_FB_DEEP,       /* feedback: 5000 nested arrays */
	G_HUGE_NUMBER,   /* a number of 100000 digits */
};

struct hcase {
	const char *name;
	int svc;
	const char *method;
	const char *path;
	const char *type; /* NULL: no Content-Type header at all */
	const char *body; /* NULL with gen */
	size_t len;       /* 0: strlen(body) */
	enum gen gen;
	long status;
	const char *code;    /* the error code, or NULL for a success */
	const char *message; /* substring of the message, or NULL */
	const char *reason;  /* prediction_errors_total / feedback_errors_total reason, or NULL */
};

#define J "application/json"
#define T "text/plain"
#define PRED(name, type, body, st, code, msg) \
	{ name, P, "POST", "/v1/predict", type, body, 0, G_NONE, st, code, msg, code }
#define PREDG(name, type, gen, st, code, msg) \
	{ name, P, "POST", "/v1/predict", type, NULL, 0, gen, st, code, msg, code }
#define FB(name, body, st, code, msg, reason) \
	{ name, F, "POST", "/v1/feedback", J, body, 0, G_NONE, st, code, msg, reason }

static const struct hcase h_cases[] = {
	/* /v1/predict, JSON: truncated and empty */
	PRED("empty JSON body", J, "", 400, "malformed_json", "at byte 0: empty body"),
	PRED("whitespace only", J, " \n\t ", 400, "malformed_json", "at byte 4"),
	PRED("lone brace", J, "{", 400, "malformed_json", "at byte 1"),
	PRED("truncated in cycles", J, "{\"unit\":7,\"cycles\":[" ROW1, 400, "malformed_json",
	     "at byte 189"),
	PRED("truncated in a number", J, "{\"unit\":7,\"cycles\":[{\"cycle\":1", 400,
	     "malformed_json", "at byte"),
	PRED("truncated in a string", J, "{\"unit\":7,\"cyc", 400, "malformed_json", "at byte"),
	PRED("trailing garbage", J, ONE(ROW1) " x", 400, "malformed_json", "trailing"),
	PRED("two documents", J, ONE(ROW1) ONE(ROW1), 400, "malformed_json", "trailing"),
	{ "NUL byte inside", P, "POST", "/v1/predict", J, "{\"unit\":7\0,\"cycles\":[]}", 22, G_NONE,
	  400, "malformed_json", NULL, "malformed_json" },
	{ "NUL byte in text", P, "POST", "/v1/predict", T, TEXT_ROW("1", "1") "\0" TEXT_ROW("1", "2"),
	  sizeof(TEXT_ROW("1", "1")) * 2 - 1, G_NONE, 400, "malformed_rows", NULL, "malformed_rows" },
	/* nesting */
	PREDG("5000 nested arrays", J, G_DEEP_ARRAY, 422, "invalid_shape", "cycles[0]"),
	PREDG("5000 nested objects", J, G_DEEP_OBJECT, 422, "invalid_shape", "unknown field"),
	PRED("array at the top", J, "[[[[[[[[[[]]]]]]]]]]", 422, "invalid_shape", "expected an object"),
	PRED("null at the top", J, "null", 422, "invalid_shape", "got null"),
	PRED("number at the top", J, "42", 422, "invalid_shape", "expected an object"),
	/* numbers */
	PRED("1e400 sensor", J, ONE("{\"cycle\":1,\"settings\":" SETS ",\"sensors\":[1e400,642.5,"
				   "1590,1405,14.62,21.61,553.5,2388.05,9050,1.3,47.5,521.5,2388.05,"
				   "8140,8.43,0.03,393,2388,100,38.9,23.3]}"),
	     422, "non_finite_number", "cycles[0].sensors[0]: number out of range"),
	PRED("-1e999 setting", J, ONE("{\"cycle\":1,\"settings\":[-1e999,0,100],\"sensors\":" SENS "}"),
	     422, "non_finite_number", "cycles[0].settings[0]"),
	PREDG("100000-digit number", J, G_HUGE_NUMBER, 422, "non_finite_number", "settings[2]"),
	PRED("NaN literal", J, ONE("{\"cycle\":1,\"settings\":[NaN,0,100],\"sensors\":" SENS "}"),
	     400, "malformed_json", "invalid value"),
	PRED("Infinity literal", J, ONE("{\"cycle\":1,\"settings\":[Infinity,0,100],\"sensors\":"
					SENS "}"), 400, "malformed_json", NULL),
	PRED("-Infinity literal", J, ONE("{\"cycle\":1,\"settings\":[-Infinity,0,100],\"sensors\":"
					 SENS "}"), 400, "malformed_json", NULL),
	PRED("leading zeros", J, ONE("{\"cycle\":01,\"settings\":" SETS ",\"sensors\":" SENS "}"),
	     400, "malformed_json", NULL),
	PRED("hex number", J, ONE("{\"cycle\":0x10,\"settings\":" SETS ",\"sensors\":" SENS "}"),
	     400, "malformed_json", NULL),
	PRED("fractional unit", J, "{\"unit\":7.5,\"cycles\":[" ROW1 "]}", 422, "invalid_shape",
	     "unit: expected an integer, got 7.5"),
	PRED("unit 1e30", J, "{\"unit\":1e30,\"cycles\":[" ROW1 "]}", 422, "invalid_shape",
	     "unit: expected an integer"),
	PRED("cycle 2^60", J, ONE(ROW_C("1152921504606846976")), 422, "invalid_shape",
	     "cycles[0].cycle: expected an integer"),
	/* types */
	PRED("string unit", J, "{\"unit\":\"7\",\"cycles\":[" ROW1 "]}", 422, "invalid_shape",
	     "unit: expected an integer, got a string"),
	PRED("null unit", J, "{\"unit\":null,\"cycles\":[" ROW1 "]}", 422, "invalid_shape",
	     "unit: expected an integer, got null"),
	PRED("null sensor", J, ONE("{\"cycle\":1,\"settings\":" SETS ",\"sensors\":[null,642.5,1590,"
				  "1405,14.62,21.61,553.5,2388.05,9050,1.3,47.5,521.5,2388.05,8140,"
				  "8.43,0.03,393,2388,100,38.9,23.3]}"),
	     422, "invalid_shape", "cycles[0].sensors[0]: expected a number, got null"),
	PRED("string setting", J, ONE("{\"cycle\":1,\"settings\":[\"0\",0,100],\"sensors\":" SENS "}"),
	     422, "invalid_shape", "cycles[0].settings[0]: expected a number, got a string"),
	PRED("boolean cycle", J, ONE(ROW_C("true")), 422, "invalid_shape", "cycles[0].cycle"),
	PRED("cycles not an array", J, "{\"unit\":7,\"cycles\":{}}", 422, "invalid_shape", "cycles"),
	PRED("cycle not an object", J, "{\"unit\":7,\"cycles\":[1]}", 422, "invalid_shape",
	     "cycles[0]: expected an object"),
	/* counts */
	PRED("no cycles", J, "{\"unit\":7,\"cycles\":[]}", 422, "invalid_shape",
	     "cycles: expected at least 1 cycle"),
	PRED("2 settings", J, ONE("{\"cycle\":1,\"settings\":[0,0],\"sensors\":" SENS "}"), 422,
	     "invalid_shape", "cycles[0].settings: expected 3 numbers, got 2"),
	PRED("22 sensors", J, ONE("{\"cycle\":1,\"settings\":" SETS ",\"sensors\":[1,2,3,4,5,6,7,8,9,"
				 "10,11,12,13,14,15,16,17,18,19,20,21,22]}"),
	     422, "invalid_shape", "cycles[0].sensors: expected 21 numbers, got 22"),
	PRED("20 sensors in a batch", J, "{\"instances\":[" ONE(ROW1) ",{\"unit\":8,\"cycles\":[" ROW1
	     ",{\"cycle\":2,\"settings\":" SETS ",\"sensors\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,"
	     "16,17,18,19,20]}]}]}",
	     422, "invalid_shape", "instances[1].cycles[1].sensors: expected 21 numbers, got 20"),
	PRED("missing sensors", J, ONE("{\"cycle\":1,\"settings\":" SETS "}"), 422, "invalid_shape",
	     "sensors"),
	PRED("missing unit", J, "{\"cycles\":[" ROW1 "]}", 422, "invalid_shape", NULL),
	PRED("empty instances", J, "{\"instances\":[]}", 422, "invalid_shape",
	     "instances: expected at least 1 instance"),
	PREDG("51 instances", J, G_INSTANCES_51, 413, "too_many_instances", NULL),
	PREDG("401 cycles", J, G_CYCLES_401, 413, "too_many_cycles", NULL),
	/* cycles */
	PRED("repeated cycle", J, ONE(ROW1 "," ROW1), 422, "cycles_not_increasing",
	     "cycles[1].cycle: 1 does not follow 1"),
	PRED("decreasing cycle", J, ONE(ROW_C("5") "," ROW_C("4")), 422, "cycles_not_increasing",
	     "cycles[1].cycle: 4 does not follow 5"),
	PRED("negative cycle", J, ONE(ROW_C("-1")), 422, "invalid_shape",
	     "cycles[0].cycle: expected a non-negative integer, got -1"),
	PRED("negative unit in a batch", J, "{\"instances\":[" ONE(ROW1) ",{\"unit\":-4,\"cycles\":["
	     ROW1 "]}]}", 422, "invalid_shape",
	     "instances[1].unit: expected a non-negative integer, got -4"),
	/* keys */
	PRED("duplicated unit", J, "{\"unit\":7,\"unit\":8,\"cycles\":[" ROW1 "]}", 422,
	     "invalid_shape", "duplicate field \"unit\""),
	PRED("duplicated sensors", J, ONE("{\"cycle\":1,\"settings\":" SETS ",\"sensors\":" SENS
					  ",\"sensors\":" SENS "}"),
	     422, "invalid_shape", "duplicate field \"sensors\""),
	PRED("unknown field", J, "{\"unit\":7,\"cycles\":[" ROW1 "],\"extra\":1}", 422,
	     "invalid_shape", "unknown field \"extra\""),
	PRED("batch beside an engine", J, "{\"instances\":[" ONE(ROW1) "],\"unit\":7}", 422,
	     "invalid_shape", NULL),
	/* strings */
	PRED("invalid UTF-8 key", J, "{\"unit\":7,\"cycles\":[" ROW1 "],\"\xff\xfe\":1}", 400,
	     "malformed_json", "invalid UTF-8"),
	PRED("overlong UTF-8", J, "{\"\xc0\xaf\":1}", 400, "malformed_json", "invalid UTF-8"),
	PRED("bad escape", J, "{\"\\x\":1}", 400, "malformed_json", NULL),
	PRED("raw control char in a key", J, "{\"a\tb\":1}", 400, "malformed_json", NULL),
	/* text/plain */
	PRED("empty text", T, "", 422, "invalid_shape", "at least 1 C-MAPSS row"),
	PRED("25 columns", T, "1 1 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", 400,
	     "malformed_rows", "body:1: column 26: missing"),
	PRED("27 columns", T, "1 1 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", 400,
	     "malformed_rows", "too many columns"),
	PRED("nan in text", T, "1 1 nan 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", 422,
	     "non_finite_number", "column 3: 'nan' is not a finite number"),
	PRED("inf in text", T, "1 1 0 inf 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", 422,
	     "non_finite_number", "column 4"),
	PRED("1e999 in text", T, "1 1 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1e999\n", 422,
	     "non_finite_number", "not a finite number"),
	PRED("negative cycle in text", T, TEXT_ROW("1", "-1"), 400, "malformed_rows",
	     "column 2: cycle '-1'"),
	PRED("negative unit in text", T, TEXT_ROW("-3", "1"), 400, "malformed_rows", "column 1"),
	PRED("word in text", T, "1 1 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 x\n", 400,
	     "malformed_rows", "'x' is not a number"),
	PRED("invalid UTF-8 in text", T, "1 1 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \xff\n",
	     400, "malformed_rows", "column 26"),
	PRED("non-increasing text rows", T, TEXT_ROW("1", "2") TEXT_ROW("1", "1"), 422,
	     "cycles_not_increasing", "row 2: unit 1: cycle 1 does not follow 2"),
	PREDG("401 text rows of one unit", T, G_TEXT_CYCLES_401, 413, "too_many_cycles", NULL),
	PRED("JSON sent as text", T, ONE(ROW1), 400, "malformed_rows", NULL),
	/* content types */
	PRED("XML", "application/xml", "<x/>", 415, "unsupported_media_type",
	     "got 'application/xml'"),
	PRED("form", "application/x-www-form-urlencoded", "unit=7", 415, "unsupported_media_type",
	     NULL),
	PRED("multipart", "multipart/form-data; boundary=x", "--x--", 415, "unsupported_media_type",
	     "got 'multipart/form-data'"),
	PRED("no content type", NULL, ONE(ROW1), 415, "unsupported_media_type", "got 'none'"),
	PRED("text sent as JSON", J, TEXT_ROW("1", "1"), 400, "malformed_json", NULL),
	/* size */
	{ "body over the limit", P, "POST", "/v1/predict", J, NULL, 0, G_OVER_LIMIT, 413,
	  "payload_too_large", "over the limit of 262144 bytes", "payload_too_large" },
	/* methods and paths */
	{ "GET /v1/predict", P, "GET", "/v1/predict", NULL, NULL, 0, G_NONE, 405,
	  "method_not_allowed", "allowed: POST", NULL },
	{ "PUT /v1/predict", P, "PUT", "/v1/predict", J, "{}", 0, G_NONE, 405, "method_not_allowed",
	  "method PUT is not allowed on /v1/predict", NULL },
	{ "BREW /healthz", P, "BREW", "/healthz", NULL, NULL, 0, G_NONE, 405, "method_not_allowed",
	  "allowed: GET", NULL },
	{ "DELETE /v1/models", P, "DELETE", "/v1/models", NULL, NULL, 0, G_NONE, 405,
	  "method_not_allowed", NULL, NULL },
	{ "unknown path", P, "GET", "/v2/predict", NULL, NULL, 0, G_NONE, 404, "not_found",
	  "no such endpoint: /v2/predict", NULL },
	{ "dot-dot path", P, "GET", "/v1/../../etc/passwd", NULL, NULL, 0, G_NONE, 404, "not_found",
	  NULL, NULL },
	{ "trailing slash", P, "POST", "/v1/predict/", J, ONE(ROW1), 0, G_NONE, 404, "not_found",
	  NULL, NULL },
	{ "predict on the feedback service", F, "POST", "/v1/predict", J,
	  ONE(ROW1), 0, G_NONE, 404, "not_found", NULL, NULL },
	{ "drift on the feedback service", F, "POST", "/v1/drift/window", J, "{\"label\":\"x\"}", 0,
	  G_NONE, 404, "not_found", NULL, NULL },
	/* /v1/drift/window */
	{ "drift: truncated", P, "POST", "/v1/drift/window", J, "{\"label\":", 0, G_NONE, 400,
	  "malformed_json", NULL, NULL },
	{ "drift: array", P, "POST", "/v1/drift/window", J, "[]", 0, G_NONE, 422, "invalid_request",
	  "expected an object", NULL },
	{ "drift: number label", P, "POST", "/v1/drift/window", J, "{\"label\":5}", 0, G_NONE, 422,
	  "invalid_request", "label", NULL },
	{ "drift: unknown member", P, "POST", "/v1/drift/window", J, "{\"label\":\"x\",\"y\":1}", 0,
	  G_NONE, 422, "invalid_request", "y", NULL },
	{ "drift: invalid UTF-8 label", P, "POST", "/v1/drift/window", J, "{\"label\":\"\xff\xfe\"}",
	  0, G_NONE, 422, "invalid_request", "label: not valid UTF-8", NULL },
	{ "drift: surrogate in a label", P, "POST", "/v1/drift/window", J,
	  "{\"label\":\"\xed\xa0\x80\"}", 0, G_NONE, 422, "invalid_request", "UTF-8", NULL },
	{ "drift: duplicated label", P, "POST", "/v1/drift/window", J,
	  "{\"label\":\"a\",\"label\":\"b\"}", 0, G_NONE, 422, "invalid_request", "duplicate", NULL },
	{ "drift: control character", P, "POST", "/v1/drift/window", J, "{\"label\":\"a\\u0001\"}",
	  0, G_NONE, 422, "invalid_request", "control character", NULL },
	{ "drift: text", P, "POST", "/v1/drift/window", T, "x", 0, G_NONE, 415,
	  "unsupported_media_type", NULL, NULL },
	{ "drift: GET", P, "GET", "/v1/drift/window", NULL, NULL, 0, G_NONE, 405,
	  "method_not_allowed", "allowed: POST", NULL },
	/* /-/reload */
	{ "reload: GET", P, "GET", "/-/reload", NULL, NULL, 0, G_NONE, 405, "method_not_allowed",
	  NULL, NULL },
	{ "reload: PUT on feedback", F, "PUT", "/-/reload", J, "{}", 0, G_NONE, 405,
	  "method_not_allowed", NULL, NULL },
	{ "reload: over the limit", F, "POST", "/-/reload", J, NULL, 0, G_OVER_LIMIT, 413,
	  "payload_too_large", NULL, NULL },
	/* /v1/feedback */
	FB("feedback: empty", "", 400, "malformed_json", "at byte 0", "malformed_json"),
	FB("feedback: truncated", "{\"unit\":1,\"cycle\":", 400, "malformed_json", NULL,
	   "malformed_json"),
	FB("feedback: trailing", FB_OK "x", 400, "malformed_json", "trailing", "malformed_json"),
	FB("feedback: NaN", "{\"unit\":1,\"cycle\":2,\"actual_rul\":NaN,\"predicted_rul\":4}", 400,
	   "malformed_json", NULL, "malformed_json"),
	{ "feedback: 5000 nested arrays", F, "POST", "/v1/feedback", J, NULL, 0, G_FB_DEEP, 400,
	  "malformed_json", NULL, "malformed_json" },
	FB("feedback: 1e400", "{\"unit\":1,\"cycle\":2,\"actual_rul\":1e400,\"predicted_rul\":4}", 422,
	   "invalid_request", "actual_rul: expected a finite number", "invalid"),
	FB("feedback: tiny number is fine but negative is not",
	   "{\"unit\":1,\"cycle\":2,\"actual_rul\":-1e-300,\"predicted_rul\":4}", 422,
	   "invalid_request", "actual_rul: expected a number from 0 to 5000", "invalid"),
	FB("feedback: huge actual", "{\"unit\":1,\"cycle\":2,\"actual_rul\":1e300,\"predicted_rul\":4}",
	   422, "invalid_request", "actual_rul", "invalid"),
	FB("feedback: string", "{\"unit\":1,\"cycle\":2,\"actual_rul\":\"3\",\"predicted_rul\":4}", 422,
	   "invalid_request", "actual_rul", "invalid"),
	FB("feedback: null unit", "{\"unit\":null,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4}",
	   422, "invalid_request", "unit: expected a non-negative integer", "invalid"),
	FB("feedback: negative cycle", "{\"unit\":1,\"cycle\":-2,\"actual_rul\":3,\"predicted_rul\":4}",
	   422, "invalid_request", "cycle: expected a non-negative integer", "invalid"),
	FB("feedback: fractional unit", "{\"unit\":1.5,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4}",
	   422, "invalid_request", "unit", "invalid"),
	FB("feedback: missing cycle", "{\"unit\":1,\"actual_rul\":3,\"predicted_rul\":4}", 422,
	   "invalid_request", "cycle: required", "invalid"),
	FB("feedback: unknown field", "{\"unit\":1,\"cycle\":2,\"actual_rul\":3,\"x\":1}", 422,
	   "invalid_request", "x: unknown field", "invalid"),
	FB("feedback: duplicated field",
	   "{\"unit\":1,\"unit\":5,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4}", 422,
	   "invalid_request", "unit: duplicate field", "invalid"),
	FB("feedback: invalid UTF-8 model",
	   "{\"unit\":1,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4,\"model\":\"\xff\xfe\"}", 422,
	   "invalid_request", "model", "invalid"),
	FB("feedback: control char in model",
	   "{\"unit\":1,\"cycle\":2,\"actual_rul\":3,\"predicted_rul\":4,\"model\":\"a\\nb\"}", 422,
	   "invalid_request", "model", "invalid"),
	FB("feedback: invalid UTF-8 key", "{\"\xff\":1}", 422, "invalid_request", "unknown field",
	   "invalid"),
	FB("feedback: array at the top", "[" FB_OK "]", 422, "invalid_request",
	   "expected a JSON object", "invalid"),
	FB("feedback: failure with a cycle", "{\"unit\":1,\"failed_at_cycle\":9,\"cycle\":3}", 422,
	   "invalid_request", "cycle: not allowed beside failed_at_cycle", "invalid"),
	FB("feedback: empty batch", "{\"records\":[]}", 422, "invalid_request",
	   "records: expected at least one record", "invalid"),
	FB("feedback: records not an array", "{\"records\":{}}", 422, "invalid_request",
	   "records: expected an array", "invalid"),
	FB("feedback: one bad record of two", "{\"records\":[" FB_OK ",{\"unit\":1}]}", 422,
	   "invalid_request", "records[1].cycle: required", "invalid"),
	FB("feedback: records beside a record", "{\"records\":[" FB_OK "],\"unit\":1}", 422,
	   "invalid_request", NULL, "invalid"),
	{ "feedback: 51 records", F, "POST", "/v1/feedback", J, NULL, 0, G_RECORDS_51, 413,
	  "payload_too_large", "at most 50 records per request, got 51", "too_large" },
	FB("feedback: nothing logged to match", "{\"unit\":987654,\"cycle\":2,\"actual_rul\":3}", 422,
	   "no_prediction", "no logged prediction of unit 987654 at cycle 2", "no_prediction"),
	{ "feedback: text", F, "POST", "/v1/feedback", T, FB_OK, 0, G_NONE, 415,
	  "unsupported_media_type", "got 'text/plain'", "unsupported_media_type" },
	{ "feedback: over the limit", F, "POST", "/v1/feedback", J, NULL, 0, G_OVER_LIMIT, 413,
	  "payload_too_large", "over the limit of 262144 bytes", "too_large" },
	{ "feedback: no content type", F, "POST", "/v1/feedback", NULL, FB_OK, 0, G_NONE, 415,
	  "unsupported_media_type", "got 'none'", "unsupported_media_type" },
	{ "feedback: GET", F, "GET", "/v1/feedback", NULL, NULL, 0, G_NONE, 405,
	  "method_not_allowed", "allowed: POST", NULL },
	{ "feedback: POST stats", F, "POST", "/v1/feedback/stats", J, "{}", 0, G_NONE, 405,
	  "method_not_allowed", "allowed: GET", NULL },
};

#define N_CASES (sizeof(h_cases) / sizeof(h_cases[0]))

static char *
gen_repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *b = malloc(hl + ul * n + tl + 1), *p = b;

	ck_assert_ptr_nonnull(b);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	*len = (size_t)(p - b) + tl;
	return b;
}

/* A body that ends with the n-fold repetition of close after open. */
static char *
gen_nest(const char *head, const char *open, const char *mid, const char *close, size_t n,
	 const char *tail, size_t *len)
{
	size_t l1, l2;
	char *a = gen_repeat(head, open, n, mid, &l1);
	char *b = gen_repeat("", close, n, tail, &l2);
	char *out = realloc(a, l1 + l2 + 1);

	ck_assert_ptr_nonnull(out);
	memcpy(out + l1, b, l2 + 1);
	free(b);
	*len = l1 + l2;
	return out;
}

static char *
gen_rows(size_t n, size_t *len)
{
	char *b = malloc(n * 160 + 64);
	size_t used = 0, i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		used += (size_t)sprintf(b + used, "7 %zu 0 0 100 518 642 1590 1405 14 21 553 2388 9050 "
					"1.3 47 521 2388 8140 8.4 0.03 393 2388 100 38 23\n", i + 1);
	*len = used;
	return b;
}

static char *
gen_cycles(size_t n, size_t *len)
{
	char *b = malloc(n * 400 + 64);
	size_t used, i;

	ck_assert_ptr_nonnull(b);
	used = (size_t)sprintf(b, "{\"unit\":7,\"cycles\":[");
	for (i = 0; i < n; i++)
		used += (size_t)sprintf(b + used, "%s{\"cycle\":%zu,\"settings\":" SETS ",\"sensors\":"
					SENS "}", i ? "," : "", i + 1);
	used += (size_t)sprintf(b + used, "]}");
	*len = used;
	return b;
}

static char *
generate(enum gen g, size_t *len)
{
	char *b;

	switch (g) {
	case G_DEEP_ARRAY:
		return gen_nest("{\"unit\":7,\"cycles\":", "[", "", "]", 5000, "}", len);
	case G_DEEP_OBJECT:
		return gen_nest("{\"unit\":7,\"cycles\":[{\"cycle\":1,\"deep\":", "{\"a\":", "1", "}",
				5000, "}]}", len);
	case G_FB_DEEP:
		return gen_nest("{\"unit\":", "[", "", "]", 5000, "}", len);
	case G_OVER_LIMIT:
		b = malloc(H_LIMIT + 2);
		ck_assert_ptr_nonnull(b);
		memset(b, ' ', H_LIMIT + 1);
		b[H_LIMIT + 1] = '\0';
		*len = H_LIMIT + 1;
		return b;
	case G_INSTANCES_51:
		b = gen_repeat("{\"instances\":[", ONE(ROW1) ",", 51, "", len);
		b[*len - 1] = ']';
		b = realloc(b, *len + 2);
		strcpy(b + *len, "}");
		*len += 1;
		return b;
	case G_CYCLES_401:
		return gen_cycles(401, len);
	case G_TEXT_CYCLES_401:
		return gen_rows(401, len);
	case G_RECORDS_51:
		b = gen_repeat("{\"records\":[", FB_OK ",", 51, "", len);
		b[*len - 1] = ']';
		b = realloc(b, *len + 2);
		strcpy(b + *len, "}");
		*len += 1;
		return b;
	case G_HUGE_NUMBER:
		b = gen_repeat("{\"unit\":7,\"cycles\":[{\"cycle\":1,\"settings\":[0,0,", "9", 100000,
			       "],\"sensors\":" SENS "}]}", len);
		return b;
	case G_NONE:
		break;
	}
	*len = 0;
	return NULL;
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* Is s (n bytes) valid UTF-8? The answers must be, whatever the client sent. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		need = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
		if (need == 0 || (need == 1 && c < 0xc2) || i + need >= n)
			return false;
		for (k = 1; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

/* {"error":{"code":C,"message":M}} exactly: two string members, nothing else. */
static void
check_error_json(const struct hcase *c, const struct harness_response *r)
{
	cJSON *root = cJSON_Parse(r->body), *e, *code, *msg;

	ck_assert_msg(utf8_valid((const unsigned char *)r->body, r->body_len),
		      "%s: the answer is not UTF-8: %s", c->name, r->body);
	ck_assert_msg(root != NULL && cJSON_IsObject(root) && cJSON_GetArraySize(root) == 1,
		      "%s: not an error object: %s", c->name, r->body);
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	ck_assert_msg(cJSON_IsObject(e) && cJSON_GetArraySize(e) == 2, "%s: bad error member: %s",
		      c->name, r->body);
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	ck_assert_msg(cJSON_IsString(code) && cJSON_IsString(msg) && msg->valuestring[0] != '\0',
		      "%s: code and message must be strings: %s", c->name, r->body);
	ck_assert_msg(strcmp(code->valuestring, c->code) == 0, "%s: code '%s', expected '%s'",
		      c->name, code->valuestring, c->code);
	if (c->message != NULL)
		ck_assert_msg(strstr(msg->valuestring, c->message) != NULL,
			      "%s: message '%s' does not say '%s'", c->name, msg->valuestring,
			      c->message);
	ck_assert_msg(strstr(r->headers, "application/json") != NULL,
		      "%s: error answered without a JSON content type", c->name);
	cJSON_Delete(root);
}

/* Routes of each service: other paths are counted under handler="other". */
static bool
route_known(int svc, const char *path)
{
	static const char *const known[2][9] = {
		{ "/v1/predict", "/v1/models", "/v1/drift", "/v1/drift/window", "/healthz", "/readyz",
		  "/metrics", "/-/reload", NULL },
		{ "/v1/feedback", "/v1/feedback/stats", "/v1/feedback/predictions", "/healthz",
		  "/readyz", "/metrics", "/-/reload", NULL, NULL },
	};
	size_t i;

	for (i = 0; known[svc][i] != NULL; i++)
		if (strcmp(known[svc][i], path) == 0)
			return true;
	return false;
}

/* The series a case must move: http_requests_total, and the service's error counter. */
static void
series_of(const struct hcase *c, char *http, size_t hlen, char *err, size_t elen)
{
	snprintf(http, hlen, "http_requests_total{handler=\"%s\",code=\"%ld\"}",
		 route_known(c->svc, c->path) ? c->path : "other", c->status);
	err[0] = '\0';
	if (c->reason == NULL)
		return;
	if (c->svc == P)
		snprintf(err, elen, "prediction_errors_total{model=\"%s\",reason=\"%s\"}", h_model,
			 c->reason);
	else
		snprintf(err, elen, "feedback_errors_total{reason=\"%s\"}", c->reason);
}

static double
zero_if_absent(double v)
{
	return isnan(v) ? 0 : v;
}

static void
healthy(int port, const char *after)
{
	struct harness_response r;

	ck_assert_msg(harness_get(port, "/healthz", &r) == 0 && r.status == 200,
		      "not healthy after '%s'", after);
	harness_response_free(&r);
	ck_assert_msg(harness_get(port, "/readyz", &r) == 0 && r.status == 200,
		      "not ready after '%s'", after);
	harness_response_free(&r);
}

static double
fb_count(void)
{
	struct harness_response r;
	cJSON *root;
	double n = -1;

	ck_assert_int_eq(harness_get(h_port[F], "/v1/feedback/stats", &r), 0);
	ck_assert_int_eq(r.status, 200);
	root = cJSON_Parse(r.body);
	if (root != NULL && cJSON_IsNumber(cJSON_GetObjectItem(root, "count")))
		n = cJSON_GetObjectItem(root, "count")->valuedouble;
	cJSON_Delete(root);
	harness_response_free(&r);
	ck_assert_msg(n >= 0, "no count in /v1/feedback/stats");
	return n;
}

static void
run_case(const struct hcase *c)
{
	const char *const no_type[] = { "Content-Type:", NULL };
	char http[256], err[256];
	double h0, e0, h1, e1;
	struct harness_response r;
	char *owned = NULL;
	const char *body = c->body;
	size_t len = c->len;
	int port = h_port[c->svc];

	if (c->gen != G_NONE)
		body = owned = generate(c->gen, &len);
	else if (body != NULL && len == 0)
		len = strlen(body);
	series_of(c, http, sizeof(http), err, sizeof(err));
	h0 = zero_if_absent(harness_scrape(port, http));
	e0 = err[0] ? zero_if_absent(harness_scrape(port, err)) : 0;
	ck_assert_msg(harness_http(port, c->method, c->path, c->type, body, len,
				   c->type == NULL && body != NULL ? no_type : NULL, &r) == 0,
		      "%s: no answer", c->name);
	ck_assert_msg(r.status == c->status, "%s: status %ld, expected %ld: %s", c->name, r.status,
		      c->status, r.body);
	check_error_json(c, &r);
	harness_response_free(&r);
	h1 = harness_scrape_until(port, http, h0 + 1, 1000);
	e1 = err[0] ? harness_scrape_until(port, err, e0 + 1, 1000) : 0;
	ck_assert_msg(h1 == h0 + 1, "%s: %s went from %g to %g", c->name, http, h0, h1);
	if (err[0])
		ck_assert_msg(e1 == e0 + 1, "%s: %s went from %g to %g", c->name, err, e0, e1);
	healthy(port, c->name);
	free(owned);
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static void
h_setup(void)
{
	char path[600];
	struct stat st;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&h_srv, 0, sizeof(h_srv));
	snprintf(path, sizeof(path), "%s/models/fd001/bundle.json", harness_source_dir());
	h_skip = stat(path, &st) != 0;
	if (h_skip) {
		test_skip("models/fd001 is not in the source tree");
		return;
	}
	ck_assert_int_eq(harness_start_conf(&h_srv, h_conf), 0);
	h_port[P] = harness_port(&h_srv, "prediction");
	h_port[F] = harness_port(&h_srv, "feedback");
	ck_assert_int_gt(h_port[P], 0);
	ck_assert_int_gt(h_port[F], 0);
	{
		struct harness_response r;
		cJSON *root, *m;

		ck_assert_int_eq(harness_get(h_port[P], "/v1/models", &r), 0);
		root = cJSON_Parse(r.body);
		m = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0);
		ck_assert_ptr_nonnull(m);
		snprintf(h_model, sizeof(h_model), "%s",
			 cJSON_GetObjectItem(m, "name")->valuestring);
		cJSON_Delete(root);
		harness_response_free(&r);
	}
}

/* A clean SIGTERM exit after all that: under the sanitizers, no leak or error at exit. */
static void
h_teardown(void)
{
	int status = h_srv.pid > 0 ? harness_stop(&h_srv) : 0;

	harness_cleanup(&h_srv);
	ck_assert_msg(status == 0, "rulsrv exited with %d after the hostile requests", status);
}

/* ---- tests ----------------------------------------------------------------------------------- */

START_TEST(test_hostile_table)
{
	char series[256];
	double predictions, fb_total, count, window, observed;
	size_t i;

	if (h_skip)
		return;
	ck_assert_int_ge(N_CASES, 60);
	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", h_model);
	predictions = zero_if_absent(harness_scrape(h_port[P], series));
	window = harness_scrape(h_port[P], "drift_window_index");
	observed = harness_scrape(h_port[P], "drift_window_observations");
	fb_total = zero_if_absent(harness_scrape(h_port[F], "feedback_count_total{model=\"unknown\"}"));
	count = fb_count();
	for (i = 0; i < N_CASES; i++)
		run_case(&h_cases[i]);
	/* nothing refused left a trace in the state */
	ck_assert_double_eq(zero_if_absent(harness_scrape(h_port[P], series)), predictions);
	ck_assert_double_eq(zero_if_absent(harness_scrape(h_port[F],
							  "feedback_count_total{model=\"unknown\"}")),
			    fb_total);
	ck_assert_double_eq(fb_count(), count);
	/* no refused body reached the drift window, no refused admin call moved it */
	ck_assert_double_eq(harness_scrape(h_port[P], "drift_window_index"), window);
	ck_assert_double_eq(harness_scrape(h_port[P], "drift_window_observations"), observed);
	/* and the services still do their work */
	{
		struct harness_response r;

		ck_assert_int_eq(harness_post_json(h_port[P], "/v1/predict", ONE(ROW1), &r), 0);
		ck_assert_msg(r.status == 200, "predict after the table: %ld %s", r.status, r.body);
		harness_response_free(&r);
		ck_assert_int_eq(harness_post_json(h_port[F], "/v1/feedback", FB_OK, &r), 0);
		ck_assert_msg(r.status == 200, "feedback after the table: %ld %s", r.status, r.body);
		harness_response_free(&r);
		ck_assert_double_eq(fb_count(), count + 1);
	}
}
END_TEST

/* ---- raw sockets: lying lengths, chunked bodies, broken HTTP ----------------------------------- */

/*
 * Send req (len bytes), optionally half-close, and read until the server closes or
 * timeout_ms pass. Returns the bytes read (malloc'd, NUL-terminated); *ms is how long it took.
 */
static char *
raw_exchange(int port, const char *req, size_t len, bool half_close, int timeout_ms, double *ms)
{
	size_t cap = 65536, used = 0;
	char *out = malloc(cap + 1);
	struct timespec t0, t1;
	struct pollfd pfd;
	int fd = ck_connect(port, 0);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	if (half_close)
		shutdown(fd, SHUT_WR);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (*ms >= timeout_ms || poll(&pfd, 1, timeout_ms - (int)*ms) <= 0)
			break;
		n = recv(fd, out + used, cap - used, 0);
		if (n <= 0 || (size_t)n == cap - used)
			break;
		used += (size_t)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	close(fd);
	out[used] = '\0';
	return out;
}

#define RAW_HEAD(extra) "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
			"Content-Type: application/json\r\n" extra "\r\n"

START_TEST(test_raw_http)
{
	static const char body[] = ONE(ROW1);
	char req[4096], series[256], *out;
	double ms, before, timeouts;
	size_t n;

	if (h_skip)
		return;
	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", h_model);
	before = zero_if_absent(harness_scrape(h_port[P], series));

	/* Content-Length larger than the body, then silence: 408 at the 2 s request timeout */
	snprintf(series, sizeof(series), "prediction_errors_total{model=\"%s\",reason=\"request_timeout\"}",
		 h_model);
	timeouts = zero_if_absent(harness_scrape(h_port[P], series));
	n = (size_t)snprintf(req, sizeof(req), RAW_HEAD("Content-Length: 5000\r\n") "%s", body);
	out = raw_exchange(h_port[P], req, n, false, 8000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 408", 12) == 0, "a short body got: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "{\"error\":{\"code\":\"request_timeout\""));
	ck_assert_msg(ms > 1500 && ms < 4000, "answered after %.0f ms, expected the 2 s timeout", ms);
	free(out);
	ck_assert_double_eq(harness_scrape_until(h_port[P], series, timeouts + 1, 1000), timeouts + 1);
	snprintf(series, sizeof(series), "predictions_total{model=\"%s\"}", h_model);
	/* ... and with the client's side closed early: dropped at once */
	out = raw_exchange(h_port[P], req, n, true, 8000, &ms);
	ck_assert_msg(strstr(out, " 200 ") == NULL, "a truncated body was served: %s", out);
	ck_assert_msg(ms < 4000, "a half-closed connection lingered %.0f ms", ms);
	free(out);

	/* Content-Length shorter than the body: the first 10 bytes are the body */
	n = (size_t)snprintf(req, sizeof(req), RAW_HEAD("Content-Length: 10\r\n") "%s", body);
	out = raw_exchange(h_port[P], req, n, false, 5000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 400", 12) == 0, "short length: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "{\"error\":{\"code\":\"malformed_json\""));
	free(out);

	/* a huge announced length is refused before any body byte is read */
	n = (size_t)snprintf(req, sizeof(req), RAW_HEAD("Content-Length: 99999999999999\r\n"));
	out = raw_exchange(h_port[P], req, n, false, 5000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 413", 12) == 0, "huge length: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"code\":\"payload_too_large\""));
	ck_assert_msg(ms < 1000, "413 took %.0f ms", ms);
	free(out);

	/* chunked: a valid body in two chunks is served */
	n = (size_t)snprintf(req, sizeof(req),
			     RAW_HEAD("Transfer-Encoding: chunked\r\nConnection: close\r\n")
			     "%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n", (size_t)40, 40, body,
			     strlen(body) - 40, body + 40);
	out = raw_exchange(h_port[P], req, n, false, 5000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "chunked: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"predictions\":[{\"unit\":7,\"cycle\":1,"));
	free(out);

	/* chunked, broken chunk size: refused (by libmicrohttpd itself), counted, no prediction */
	{
		static const char bad400[] = "http_requests_total{handler=\"/v1/predict\",code=\"400\"}";
		double bad = zero_if_absent(harness_scrape(h_port[P], bad400));

		n = (size_t)snprintf(req, sizeof(req), RAW_HEAD("Transfer-Encoding: chunked\r\n")
				     "zz\r\nabc\r\n0\r\n\r\n");
		out = raw_exchange(h_port[P], req, n, false, 5000, &ms);
		ck_assert_msg(strncmp(out, "HTTP/1.1 400", 12) == 0, "bad chunk: %s", out);
		free(out);
		ck_assert_double_eq(harness_scrape_until(h_port[P], bad400, bad + 1, 1000), bad + 1);
	}

	/* chunked over the limit (no Content-Length to refuse early): 413 */
	{
		size_t chunk = 65536, i, used;
		char *big = malloc(5 * (chunk + 16) + 256);

		ck_assert_ptr_nonnull(big);
		used = (size_t)sprintf(big, RAW_HEAD("Transfer-Encoding: chunked\r\nConnection: close\r\n"));
		for (i = 0; i < 5; i++) {
			used += (size_t)sprintf(big + used, "%zx\r\n", chunk);
			memset(big + used, ' ', chunk);
			used += chunk;
			used += (size_t)sprintf(big + used, "\r\n");
		}
		used += (size_t)sprintf(big + used, "0\r\n\r\n");
		out = raw_exchange(h_port[P], big, used, false, 5000, &ms);
		ck_assert_msg(strncmp(out, "HTTP/1.1 413", 12) == 0, "chunked over the limit: %s",
			      out);
		ck_assert_ptr_nonnull(strstr(out, "\"code\":\"payload_too_large\""));
		free(out);
		free(big);
	}

	/* garbage, a bad Content-Length, an unknown HTTP version, a huge header */
	out = raw_exchange(h_port[P], "GARBAGE\r\n\r\n", 11, false, 5000, &ms);
	ck_assert_msg(strstr(out, " 200 ") == NULL, "garbage: %s", out);
	free(out);
	n = (size_t)snprintf(req, sizeof(req), RAW_HEAD("Content-Length: abc\r\n"));
	out = raw_exchange(h_port[P], req, n, false, 5000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 400", 12) == 0, "bad length: %s", out);
	free(out);
	out = raw_exchange(h_port[P], "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 34, false, 5000, &ms);
	ck_assert_msg(strncmp(out, "HTTP/1.1 505", 12) == 0, "HTTP/9.9: %s", out);
	free(out);
	{
		char *big = malloc(200000);

		ck_assert_ptr_nonnull(big);
		n = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
		memset(big + n, 'a', 150000);
		n += 150000;
		n += (size_t)sprintf(big + n, "\r\n\r\n");
		out = raw_exchange(h_port[P], big, n, false, 5000, &ms);
		ck_assert_msg(strncmp(out, "HTTP/1.1 431", 12) == 0, "huge header: %s", out);
		free(out);
		free(big);
	}

	ck_assert_double_eq(zero_if_absent(harness_scrape(h_port[P], series)), before + 1);
	healthy(h_port[P], "the raw requests");
}
END_TEST

Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("live");

	suite_needs(s, "fd001");

	tcase_add_checked_fixture(tc, h_setup, h_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hostile_table);
	tcase_add_test(tc, test_raw_http);
	suite_add_tcase(s, tc);
	return s;
}
