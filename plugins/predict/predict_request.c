/* SPDX-License-Identifier: MIT */
/* predict_request.c - a strict, allocation-light parser for /v1/predict bodies. */
#include "predict_request.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cmapss.h"
#include "number.h"

/*
 * Why a parser of our own: a 30-cycle body holds ~800 numbers and a generic JSON library
 * spends most of its time building a tree and converting them (docs/BENCHMARKS.md: cJSON
 * ~84 us on a 30-cycle body, this parser ~11 us). This one walks the bytes once, knows the
 * schema, writes the numbers straight into the rows and converts the common short decimals
 * exactly with Clinger's fast path (mantissa <= 2^53 and |exponent| <= 22: one exact double
 * operation), falling back to strtod() for everything else.
 */

#define N_IN CMAPSS_N_INPUTS
#define PATH_MAX_DEPTH 8
#define KEY_MAX 32

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ---- storage ------------------------------------------------------------------------- */

void
predict_request_init(struct predict_request *r)
{
	r->count = 0;
	r->rows = 0;
	r->batch = false;
	r->engines = r->inline_engines;
	r->cycles = r->inline_cycles;
	r->inputs = r->inline_inputs;
	r->cap_engines = PREDICT_INLINE_ENGINES;
	r->cap_rows = PREDICT_INLINE_ROWS;
}

void
predict_request_free(struct predict_request *r)
{
	if (r == NULL)
		return;
	if (r->engines != r->inline_engines)
		free(r->engines);
	if (r->cycles != r->inline_cycles)
		free(r->cycles);
	if (r->inputs != r->inline_inputs)
		free(r->inputs);
	predict_request_init(r);
}

/*
 * Room for want rows at least, and twice the rows there were. Out of the inline storage the
 * arrays are copied once; past it they grow by realloc, which moves a large block by
 * remapping its pages, not by copying.
 */
static int
grow_rows(struct predict_request *r, size_t want)
{
	size_t cap = 2 * r->cap_rows > want ? 2 * r->cap_rows : want;
	int64_t *c;
	double *in;

	if (r->cycles == r->inline_cycles) {
		c = malloc(cap * sizeof(*c));
		in = malloc(cap * N_IN * sizeof(*in));
		if (c == NULL || in == NULL) {
			free(c);
			free(in);
			return -ENOMEM;
		}
		memcpy(c, r->cycles, r->rows * sizeof(*c));
		memcpy(in, r->inputs, r->rows * N_IN * sizeof(*in));
	} else {
		c = realloc(r->cycles, cap * sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		r->cycles = c;
		in = realloc(r->inputs, cap * N_IN * sizeof(*in));
		if (in == NULL)
			return -ENOMEM; /* cycles larger than cap_rows says: harmless */
	}
	r->cycles = c;
	r->inputs = in;
	r->cap_rows = cap;
	return 0;
}

/*
 * The rows a JSON body will need, from the rows of its first bytes: the rows so far times the
 * body's length over the bytes they took, and a sixteenth more. No cycle object is under 80
 * bytes, so no body gets room for more than length / 80 rows (2.5 times its own size at
 * most), whatever its first rows are like.
 */
static size_t
rows_estimate(size_t rows, size_t consumed, size_t len)
{
	size_t est;

	if (rows == 0 || consumed == 0)
		return rows + 1;
	est = (size_t)((double)rows * ((double)len / (double)consumed) * 1.0625) + 16;
	if (est > len / 80)
		est = len / 80;
	return est > rows ? est : rows + 1;
}

static int
grow_engines(struct predict_request *r, size_t want)
{
	size_t cap = r->cap_engines;
	struct predict_engine *e;

	while (cap < want)
		cap *= 2;
	e = malloc(cap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	memcpy(e, r->engines, r->count * sizeof(*e));
	if (r->engines != r->inline_engines)
		free(r->engines);
	r->engines = e;
	r->cap_engines = cap;
	return 0;
}

/* Point every engine into the final storage (it may have moved while growing). */
static void
fix_pointers(struct predict_request *r)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		r->engines[i].cycles = r->cycles + r->engines[i].first;
		r->engines[i].inputs = r->inputs + r->engines[i].first * N_IN;
	}
}

/* ---- the JSON parser ------------------------------------------------------------------ */

struct pr {
	const unsigned char *start, *p, *end;
	struct predict_request *req;
	const struct predict_limits *lim;
	struct predict_error *err;
	/* the location, for messages: instances[i].cycles[j].sensors[k] */
	int depth;
	const char *path_name[PATH_MAX_DEPTH];
	long path_index[PATH_MAX_DEPTH]; /* -1: no index */
};

static void
path_push(struct pr *p, const char *name, long index)
{
	p->path_name[p->depth] = name;
	p->path_index[p->depth] = index;
	p->depth++;
}

static void
path_format(const struct pr *p, char *buf, size_t len)
{
	size_t used = 0;
	int i, w;

	buf[0] = '\0';
	for (i = 0; i < p->depth && used < len; i++) {
		if (p->path_name[i] != NULL)
			w = snprintf(buf + used, len - used, "%s%s", used ? "." : "",
				     p->path_name[i]);
		else
			w = 0;
		if (w > 0)
			used += (size_t)w;
		if (p->path_index[i] >= 0 && used < len) {
			w = snprintf(buf + used, len - used, "[%ld]", p->path_index[i]);
			if (w > 0)
				used += (size_t)w;
		}
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "body");
}

static void
set_error(struct predict_error *err, unsigned status, const char *code, const char *fmt,
	  va_list ap)
{
	err->status = status;
	err->code = code;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

/* A shape or limit error at the current location: "LOCATION: message". */
__attribute__((format(printf, 4, 5))) static int
fail_at(struct pr *p, unsigned status, const char *code, const char *fmt, ...)
{
	char loc[64], msg[188];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path_format(p, loc, sizeof(loc));
	p->err->status = status;
	p->err->code = code;
	snprintf(p->err->message, sizeof(p->err->message), "%s: %s", loc, msg);
	return -EINVAL;
}

/* Malformed JSON at the current byte. */
__attribute__((format(printf, 2, 3))) static int
fail_syntax(struct pr *p, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err->status = 400;
	p->err->code = PREDICT_ERR_MALFORMED_JSON;
	snprintf(p->err->message, sizeof(p->err->message), "malformed JSON at byte %zu: %s",
		 (size_t)(p->p - p->start), msg);
	return -EINVAL;
}

static int
fail_nomem(struct pr *p)
{
	p->err->status = 503;
	p->err->code = PREDICT_ERR_NO_MEMORY;
	snprintf(p->err->message, sizeof(p->err->message), "out of memory");
	return -ENOMEM;
}

static inline void
skip_ws(struct pr *p)
{
	while (p->p < p->end &&
	       (*p->p == ' ' || *p->p == '\n' || *p->p == '\r' || *p->p == '\t'))
		p->p++;
}

/* What is at the cursor, for "expected X, got Y" messages. */
static const char *
describe(const struct pr *p)
{
	if (p->p >= p->end)
		return "end of input";
	switch (*p->p) {
	case '{': return "an object";
	case '[': return "an array";
	case '"': return "a string";
	case 't': case 'f': return "a boolean";
	case 'n': return "null";
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': return "a number";
	default: return "an invalid token";
	}
}

/*
 * Length of a valid UTF-8 sequence at s (< end), 0 when invalid. Same contract as
 * utf8_seq_len (lib/utf8.c), kept here because every key byte of every cycle passes
 * through it: calling the shared one made the parser about 10% slower (bench_predict,
 * 30-cycle body: 11.9 against 10.8 us).
 */
static size_t
utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

static int
hex4(const unsigned char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= (uint32_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= (uint32_t)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= (uint32_t)(s[i] - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * A string at the cursor (which is on '"'). Validates escapes and UTF-8. When key is not
 * NULL, the decoded value goes there (NUL-terminated, at most KEY_MAX - 1 bytes; *long_key
 * set when it did not fit). Non-printable or non-ASCII code points are stored as '?': they
 * cannot match a field name anyway and are safe to quote in a message.
 */
static int
parse_string(struct pr *p, char *key, bool *long_key)
{
	size_t kl = 0, n;
	uint32_t cp, lo;
	char c;

	p->p++;
	for (;;) {
		if (p->p >= p->end)
			return fail_syntax(p, "unterminated string");
		if (*p->p == '"') {
			p->p++;
			break;
		}
		if (*p->p < 0x20)
			return fail_syntax(p, "control character in string");
		if (*p->p == '\\') {
			if (p->end - p->p < 2)
				return fail_syntax(p, "unterminated string");
			switch (p->p[1]) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': case 'f': case 'n': case 'r': case 't': c = '?'; break;
			case 'u':
				if (p->end - p->p < 6 || hex4(p->p + 2, &cp) < 0)
					return fail_syntax(p, "invalid \\u escape");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail_syntax(p, "unpaired surrogate in \\u escape");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (p->end - p->p < 12 || p->p[6] != '\\' || p->p[7] != 'u' ||
					    hex4(p->p + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
						return fail_syntax(p, "unpaired surrogate in \\u escape");
					p->p += 6;
				}
				c = (cp >= 0x20 && cp < 0x7f) ? (char)cp : '?';
				p->p += 4;
				break;
			default:
				return fail_syntax(p, "invalid escape in string");
			}
			p->p += 2;
		} else {
			n = utf8_len(p->p, p->end);
			if (n == 0)
				return fail_syntax(p, "invalid UTF-8 in string");
			c = n == 1 ? (char)*p->p : '?';
			p->p += n;
		}
		if (key != NULL) {
			if (kl + 1 < KEY_MAX)
				key[kl++] = c;
			else
				*long_key = true;
		}
	}
	if (key != NULL)
		key[kl] = '\0';
	return 0;
}

/*
 * A key of printable ASCII without escapes ("cycle", "sensors": three per cycle), copied by a
 * plain loop: true with the cursor past its closing quote. False, with nothing moved, for any
 * other key, which parse_string then reads (and refuses) as before.
 */
static bool
plain_key(struct pr *p, char *key)
{
	const unsigned char *q = p->p + 1;
	size_t kl = 0;

	while (q < p->end && kl + 1 < KEY_MAX && *q >= 0x20 && *q < 0x7f && *q != '"' &&
	       *q != '\\')
		key[kl++] = (char)*q++;
	if (q >= p->end || *q != '"')
		return false;
	key[kl] = '\0';
	p->p = q + 1;
	return true;
}

static int
parse_key(struct pr *p, char *key)
{
	bool long_key = false;
	int r;

	skip_ws(p);
	if (p->p >= p->end || *p->p != '"')
		return fail_syntax(p, "expected a string as object key");
	if (key == NULL || !plain_key(p, key)) {
		r = parse_string(p, key, &long_key);
		if (r < 0)
			return r;
	}
	if (long_key)
		strcpy(key + KEY_MAX - 4, "...");
	skip_ws(p);
	if (p->p >= p->end || *p->p != ':')
		return fail_syntax(p, "expected ':' after object key");
	p->p++;
	skip_ws(p);
	return 0;
}

/*
 * A value that is not what the schema wants. JSON well-formedness goes first (400 before
 * 422), so the caller re-validates the whole body when this error stands.
 */
static int
fail_type(struct pr *p, const char *expected)
{
	if (p->p >= p->end)
		return fail_syntax(p, "unexpected end of input");
	return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "expected %s, got %s", expected,
		       describe(p));
}

static int
parse_double(struct pr *p, double *out)
{
	size_t n;

	if (p->p >= p->end || (*p->p != '-' && !is_digit(*p->p)))
		return fail_type(p, "a number");
	n = number_parse((const char *)p->p, (const char *)p->end, out);
	if (n == 0)
		return fail_syntax(p, "invalid number");
	if (!isfinite(*out))
		return fail_at(p, 422, PREDICT_ERR_NON_FINITE, "number out of range: %.*s",
			       (int)(n > 40 ? 40 : n), (const char *)p->p);
	p->p += n;
	return 0;
}

/*
 * An integer field (unit, cycle): a JSON number with an integral value from 0 to 2^53. Zero
 * and -0 are accepted and negatives refused, as the text/plain rows and /v1/feedback do.
 */
static int
parse_integer(struct pr *p, int64_t *out)
{
	const unsigned char *at = p->p;
	double v;
	int r;

	if (p->p >= p->end || (*p->p != '-' && !is_digit(*p->p)))
		return fail_type(p, "an integer");
	r = parse_double(p, &v);
	if (r < 0)
		return r;
	if (v != floor(v) || fabs(v) > 9007199254740992.0) {
		p->p = at;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "expected an integer, got %g", v);
	}
	if (v < 0) {
		p->p = at;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE,
			       "expected a non-negative integer, got %g", v);
	}
	*out = (int64_t)v;
	return 0;
}

/* Advance past ',' (returns 1) or the closing bracket (returns 0). */
static int
next_or_close(struct pr *p, unsigned char close)
{
	skip_ws(p);
	if (p->p < p->end && *p->p == ',') {
		p->p++;
		skip_ws(p);
		return 1;
	}
	if (p->p < p->end && *p->p == close) {
		p->p++;
		return 0;
	}
	return fail_syntax(p, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
}

static inline bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/*
 * "settings" or "sensors": exactly want numbers into out. These arrays are nearly all of a
 * body's bytes, so the loop keeps the cursor in a local and reads the ", " between numbers
 * itself (next_or_close and parse_double in line). Anything it does not accept as it goes
 * (not a number, an invalid or non-finite one, a bad separator) is handed to the general
 * functions at that byte, which fail there with their own message and location.
 */
static int
parse_numbers(struct pr *p, double *out, size_t want)
{
	const unsigned char *q, *end = p->end;
	size_t got = 0, n;
	double scratch, *dst;

	if (p->p >= end || *p->p != '[')
		return fail_type(p, "an array of numbers");
	p->p++;
	skip_ws(p);
	if (p->p < end && *p->p == ']') {
		p->p++;
	} else {
		for (q = p->p;; got++) {
			dst = got < want ? &out[got] : &scratch;
			if (q >= end || (*q != '-' && !is_digit(*q)) ||
			    (n = number_parse((const char *)q, (const char *)end, dst)) == 0 ||
			    !isfinite(*dst)) {
				p->p = q;
				path_push(p, NULL, (long)got);
				return parse_double(p, dst); /* fails as it would have */
			}
			q += n;
			while (q < end && is_ws(*q))
				q++;
			if (q < end && *q == ',') {
				q++;
				while (q < end && is_ws(*q))
					q++;
				continue;
			}
			p->p = q;
			if (q < end && *q == ']') {
				p->p++;
				got++;
				break;
			}
			return fail_syntax(p, "expected ',' or ']'");
		}
	}
	if (got != want)
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "expected %zu numbers, got %zu",
			       want, got);
	return 0;
}

/*
 * The members of an object with exactly the fields names[0..n) (n <= 8), each once, in any
 * order; the cursor just past '{'. Unknown, duplicate and missing fields are refused here;
 * value() parses the value of names[field], the cursor on it and its location pushed, with
 * ctx the object's own state. When first_key is not NULL its key has been read already (the
 * root object, whose first key decides its form). Shared by the cycle and engine objects.
 */
static int
parse_members(struct pr *p, const char *const *names, unsigned n, const char *first_key,
	      int (*value)(struct pr *p, unsigned field, void *ctx), void *ctx)
{
	char buf[KEY_MAX];
	const char *key;
	unsigned seen = 0, i;
	int r;

	skip_ws(p);
	if (first_key == NULL && p->p < p->end && *p->p == '}') {
		p->p++;
	} else {
		for (;;) {
			if (first_key != NULL) {
				key = first_key;
				first_key = NULL;
			} else {
				r = parse_key(p, buf);
				if (r < 0)
					return r;
				key = buf;
			}
			/* the first byte before strcmp: it tells the fields of a cycle apart but
			 * for "settings" and "sensors" */
			for (i = 0; i < n && (key[0] != names[i][0] || strcmp(key, names[i]) != 0);
			     i++)
				;
			if (i == n)
				return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE,
					       "unknown field \"%s\"", key);
			if (seen & (1u << i))
				return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE,
					       "duplicate field \"%s\"", key);
			seen |= 1u << i;
			path_push(p, names[i], -1);
			r = value(p, i, ctx);
			if (r < 0)
				return r;
			p->depth--;
			r = next_or_close(p, '}');
			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
	}
	for (i = 0; i < n; i++)
		if (!(seen & (1u << i)))
			return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "missing field \"%s\"",
				       names[i]);
	return 0;
}

static const char *const cycle_fields[] = { "cycle", "settings", "sensors" };

/* A field of the cycle object of row *(size_t *)ctx. */
static int
cycle_member(struct pr *p, unsigned field, void *ctx)
{
	size_t row = *(const size_t *)ctx;
	double *in = p->req->inputs + row * N_IN;

	switch (field) {
	case 0:
		return parse_integer(p, &p->req->cycles[row]);
	case 1:
		return parse_numbers(p, in, CMAPSS_N_SETTINGS);
	default:
		return parse_numbers(p, in + CMAPSS_N_SETTINGS, CMAPSS_N_SENSORS);
	}
}

/* ---- the cycle objects' fast path ------------------------------------------------------ */

/*
 * Nearly all of a body's bytes are cycle objects, and nearly all of their numbers are short
 * decimals. These functions read one whole cycle object with the cursor in a register, its
 * keys compared whole and its numbers by the in-line paths of number.h, and nothing else: no
 * location kept, no error made. They accept exactly what the general functions accept, with
 * the same values; on anything else they give up, and the general functions read the same
 * object again from its '{', so every refusal, message and byte offset is theirs
 * (docs/PREDICTION.md, "The parser's fast path").
 */

static inline const unsigned char *
fast_ws(const unsigned char *q, const unsigned char *end)
{
	while (q < end && is_ws(*q))
		q++;
	return q;
}

/* One number of the general grammar at q: its end, or NULL when invalid or not finite. */
static inline const unsigned char *
fast_number(const unsigned char *q, const unsigned char *end, double *out)
{
	size_t n = number_parse_short((const char *)q, (const char *)end, out);

	if (n == 0) {
		n = number_parse((const char *)q, (const char *)end, out);
		if (n == 0 || !isfinite(*out))
			return NULL;
	}
	return q + n;
}

/* The separators of an array of numbers (',' and ']') among the n bytes at q: bit i, q[i]. */
static uint32_t
fast_separators_tail(const unsigned char *q, size_t n)
{
	uint32_t bits = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (q[i] == ',' || q[i] == ']')
			bits |= UINT32_C(1) << i;
	return bits;
}

#ifdef __SSE2__
/* The same among the 16 bytes at q (fewer at the end of the body), in one compare of each. */
static inline uint32_t
fast_separators(const unsigned char *q, const unsigned char *end)
{
	__m128i v;

	if (end - q < 16)
		return fast_separators_tail(q, (size_t)(end - q));
	v = _mm_loadu_si128((const __m128i *)(const void *)q);
	return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
							_mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));
}
#else
static inline uint32_t
fast_separators(const unsigned char *q, const unsigned char *end)
{
	return fast_separators_tail(q, end - q < 16 ? (size_t)(end - q) : 16);
}
#endif

/*
 * "[n, n, ...]" of exactly want numbers at q, as parse_numbers reads it: past its ']', or
 * NULL. The separators are found 16 bytes at a time ahead of the numbers, so each number's
 * bytes are known before it is read and no number waits for the one before it to find its
 * end, as in the loop of the general path, where each number's end is where the next starts.
 */
static inline const unsigned char *
fast_numbers(const unsigned char *q, const unsigned char *end, double *out, size_t want)
{
	const unsigned char *tok, *at, *sep, *s, *e;
	uint32_t seps;
	size_t got = 0;

	if (q >= end || *q != '[')
		return NULL;
	tok = q + 1;
	for (at = tok; at < end; at += 16) {
		for (seps = fast_separators(at, end); seps != 0; seps &= seps - 1) {
			sep = at + (unsigned)__builtin_ctz(seps);
			/* the token between the separators, its whitespace off: mostly one space
			 * before it and none after, tested without a loop (the bytes before s
			 * are in the body: at least the '[') */
			s = tok + (*tok == ' ');
			if (*s <= ' ')
				s = fast_ws(s, sep);
			e = sep;
			if (e[-1] <= ' ')
				while (e > s && is_ws(e[-1]))
					e--;
			if (got == want)
				return NULL;
			if (!number_parse_exact((const char *)s, (size_t)(e - s), (const char *)end,
						&out[got]))
				return NULL;
			got++;
			if (*sep == ']')
				return got == want ? sep + 1 : NULL;
			tok = sep + 1;
		}
	}
	return NULL;
}

/* The key "name" (quotes included in name, n bytes) and its ':' at q: past them, or NULL. */
static inline const unsigned char *
fast_key(const unsigned char *q, const unsigned char *end, const char *name, size_t n)
{
	if ((size_t)(end - q) < n || memcmp(q, name, n) != 0)
		return NULL;
	q = fast_ws(q + n, end);
	return q < end && *q == ':' ? fast_ws(q + 1, end) : NULL;
}

/* A cycle number as parse_integer reads it: integral, 0 (or -0) to 2^53. */
static inline const unsigned char *
fast_cycle_number(const unsigned char *q, const unsigned char *end, int64_t *out)
{
	double v;

	q = fast_number(q, end, &v);
	if (q == NULL || v != floor(v) || fabs(v) > 9007199254740992.0 || v < 0)
		return NULL;
	*out = (int64_t)v;
	return q;
}

/* The n bytes of s at q: past them, or NULL. */
static inline const unsigned char *
fast_literal(const unsigned char *q, const unsigned char *end, const char *s, size_t n)
{
	return (size_t)(end - q) >= n && memcmp(q, s, n) == 0 ? q + n : NULL;
}

/*
 * The layout of json.dumps and of most clients, {"cycle": C, "settings": [...], "sensors":
 * [...]}: its keys and separators compared as three constants. NULL for any other layout.
 */
static inline const unsigned char *
fast_cycle_usual(const unsigned char *q, const unsigned char *end, int64_t *cycle, double *in)
{
	q = fast_literal(q, end, "{\"cycle\": ", 10);
	if (q != NULL)
		q = fast_cycle_number(q, end, cycle);
	if (q != NULL)
		q = fast_literal(q, end, ", \"settings\": ", 14);
	if (q != NULL)
		q = fast_numbers(q, end, in, CMAPSS_N_SETTINGS);
	if (q != NULL)
		q = fast_literal(q, end, ", \"sensors\": ", 13);
	if (q != NULL)
		q = fast_numbers(q, end, in + CMAPSS_N_SETTINGS, CMAPSS_N_SENSORS);
	return q != NULL && q < end && *q == '}' ? q + 1 : NULL;
}

/*
 * The cycle object at the cursor (on its '{') into row `row`, its three fields in any order,
 * each once: true with the cursor past its '}', or false with nothing but the row touched.
 */
static bool
fast_cycle(struct pr *p, size_t row)
{
	const unsigned char *q = p->p, *end = p->end;
	double *in = p->req->inputs + row * N_IN;
	unsigned seen = 0, field;

	q = fast_cycle_usual(q, end, &p->req->cycles[row], in);
	if (q != NULL) {
		p->p = q;
		return true;
	}
	q = p->p;
	if (q >= end || *q != '{')
		return false;
	q = fast_ws(q + 1, end);
	for (;;) {
		if (end - q >= 3 && q[0] == '"' && q[1] == 'c') {
			field = 1;
			q = fast_key(q, end, "\"cycle\"", 7);
			if (q != NULL)
				q = fast_cycle_number(q, end, &p->req->cycles[row]);
		} else if (end - q >= 4 && q[0] == '"' && q[1] == 's' && q[2] == 'e' &&
			   q[3] == 't') {
			field = 2;
			q = fast_key(q, end, "\"settings\"", 10);
			if (q != NULL)
				q = fast_numbers(q, end, in, CMAPSS_N_SETTINGS);
		} else {
			field = 4;
			q = fast_key(q, end, "\"sensors\"", 9);
			if (q != NULL)
				q = fast_numbers(q, end, in + CMAPSS_N_SETTINGS, CMAPSS_N_SENSORS);
		}
		if (q == NULL || (seen & field) != 0)
			return false;
		seen |= field;
		if (seen == 7)
			break;
		q = fast_ws(q, end);
		if (q >= end || *q != ',')
			return false;
		q = fast_ws(q + 1, end);
	}
	q = fast_ws(q, end);
	if (q >= end || *q != '}')
		return false;
	p->p = q + 1;
	return true;
}

/* One cycle object into row `row` of the request. */
static int
parse_cycle(struct pr *p, size_t row)
{
	if (p->p >= p->end || *p->p != '{')
		return fail_type(p, "an object");
	p->p++;
	return parse_members(p, cycle_fields, sizeof(cycle_fields) / sizeof(cycle_fields[0]),
			     NULL, cycle_member, &row);
}

/* The "cycles" array of engine e: rows appended to the request. */
static int
parse_cycles(struct pr *p, struct predict_engine *e)
{
	struct predict_request *req = p->req;
	long j = 0;
	int r;

	if (p->p >= p->end || *p->p != '[')
		return fail_type(p, "an array of cycles");
	p->p++;
	skip_ws(p);
	e->first = req->rows;
	if (p->p < p->end && *p->p == ']') {
		p->p++;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "expected at least 1 cycle");
	}
	for (;; j++) {
		if ((size_t)j >= p->lim->max_cycles)
			return fail_at(p, 413, PREDICT_ERR_TOO_MANY_CYCLES,
				       "more than %zu cycles (max_cycles)", p->lim->max_cycles);
		if (req->rows == req->cap_rows &&
		    grow_rows(req, rows_estimate(req->rows, (size_t)(p->p - p->start),
						 (size_t)(p->end - p->start))) < 0)
			return fail_nomem(p);
		path_push(p, NULL, j);
		r = fast_cycle(p, req->rows) ? 0 : parse_cycle(p, req->rows);
		if (r == 0 && j > 0 && req->cycles[req->rows] <= req->cycles[req->rows - 1]) {
			path_push(p, "cycle", -1);
			r = fail_at(p, 422, PREDICT_ERR_NOT_INCREASING,
				    "%lld does not follow %lld: cycles must increase strictly",
				    (long long)req->cycles[req->rows],
				    (long long)req->cycles[req->rows - 1]);
		}
		if (r < 0)
			return r;
		p->depth--;
		req->rows++;
		e->n++;
		r = next_or_close(p, ']');
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
	}
}

static const char *const engine_fields[] = { "unit", "cycles" };

/* A field of the engine object ctx. */
static int
engine_member(struct pr *p, unsigned field, void *ctx)
{
	struct predict_engine *e = ctx;

	return field == 0 ? parse_integer(p, &e->unit) : parse_cycles(p, e);
}

/*
 * One engine object, the cursor just past '{': the single-engine root (first_key read
 * already) and every batch instance alike.
 */
static int
parse_engine_members(struct pr *p, const char *first_key)
{
	struct predict_request *req = p->req;
	struct predict_engine *e;
	int r;

	if (req->count == req->cap_engines && grow_engines(req, req->count + 1) < 0)
		return fail_nomem(p);
	e = &req->engines[req->count];
	memset(e, 0, sizeof(*e));
	r = parse_members(p, engine_fields, sizeof(engine_fields) / sizeof(engine_fields[0]),
			  first_key, engine_member, e);
	if (r < 0)
		return r;
	req->count++;
	return 0;
}

/*
 * The two JSON body forms share one shape: a root object that is either the members of one
 * item or {"<batch_key>": [item, ...]} with nothing beside it. /v1/predict's items are
 * engines (a window each), /v1/cycles' items are newest cycles.
 */
struct body_form {
	const char *batch_key;   /* "instances", "cycles" */
	const char *array_type;  /* what the batch must be, for the type error */
	const char *empty_batch; /* the 422 of an empty batch */
	const char *empty_root;  /* the 422 of an empty root object */
	/* One item, the cursor just past its '{' (first_key read already for the root). */
	int (*members)(struct pr *p, const char *first_key);
};

static int
parse_batch(struct pr *p, const struct body_form *f)
{
	long i = 0;
	int r;

	path_push(p, f->batch_key, -1);
	if (p->p >= p->end || *p->p != '[')
		return fail_type(p, f->array_type);
	p->p++;
	skip_ws(p);
	if (p->p < p->end && *p->p == ']') {
		p->p++;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "%s", f->empty_batch);
	}
	p->depth--;
	for (;; i++) {
		if ((size_t)i >= p->lim->max_instances) {
			path_push(p, f->batch_key, -1);
			return fail_at(p, 413, PREDICT_ERR_TOO_MANY_INSTANCES,
				       "more than %zu %s (max_instances)", p->lim->max_instances,
				       f->batch_key);
		}
		path_push(p, f->batch_key, i);
		if (p->p >= p->end || *p->p != '{')
			return fail_type(p, "an object");
		p->p++;
		r = f->members(p, NULL);
		if (r < 0)
			return r;
		p->depth--;
		r = next_or_close(p, ']');
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
	}
}

static int
parse_body_root(struct pr *p, const struct body_form *f)
{
	char key[KEY_MAX];
	int r;

	skip_ws(p);
	if (p->p >= p->end)
		return fail_syntax(p, "empty body");
	if (*p->p != '{')
		return fail_type(p, "an object");
	p->p++;
	skip_ws(p);
	if (p->p < p->end && *p->p == '}') {
		p->p++;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "%s", f->empty_root);
	}
	r = parse_key(p, key);
	if (r < 0)
		return r;
	if (strcmp(key, f->batch_key) != 0)
		return f->members(p, key);
	p->req->batch = true;
	r = parse_batch(p, f);
	if (r < 0)
		return r;
	skip_ws(p);
	if (p->p < p->end && *p->p == ',') {
		p->p++;
		r = parse_key(p, key);
		if (r < 0)
			return r;
		return fail_at(p, 422, PREDICT_ERR_INVALID_SHAPE, "%s field \"%s\"",
			       strcmp(key, f->batch_key) == 0 ? "duplicate" : "unknown", key);
	}
	if (p->p >= p->end || *p->p != '}')
		return fail_syntax(p, "expected ',' or '}'");
	p->p++;
	return 0;
}

static const struct body_form predict_form = {
	.batch_key = "instances",
	.array_type = "an array of engines",
	.empty_batch = "expected at least 1 instance",
	.empty_root = "expected \"instances\" or \"unit\" and \"cycles\"",
	.members = parse_engine_members,
};

/* ---- /v1/cycles: newest cycles, each with its unit ----------------------------------------- */

static const char *const stream_fields[] = { "unit", "cycle", "settings", "sensors" };

/* A field of the streamed cycle of row *(size_t *)ctx: its unit, then the cycle's fields. */
static int
stream_member(struct pr *p, unsigned field, void *ctx)
{
	size_t row = *(const size_t *)ctx;

	if (field == 0)
		return parse_integer(p, &p->req->engines[row].unit);
	return cycle_member(p, field - 1, ctx);
}

/*
 * One streamed cycle, the cursor just past '{' (first_key read already for the root): an
 * engine of one row, row and engine at the same index.
 */
static int
parse_stream_members(struct pr *p, const char *first_key)
{
	struct predict_request *req = p->req;
	size_t row = req->rows;
	int r;

	if (req->rows == req->cap_rows && grow_rows(req, req->rows + 1) < 0)
		return fail_nomem(p);
	if (req->count == req->cap_engines && grow_engines(req, req->count + 1) < 0)
		return fail_nomem(p);
	memset(&req->engines[row], 0, sizeof(req->engines[row]));
	req->engines[row].first = row;
	req->engines[row].n = 1;
	r = parse_members(p, stream_fields, sizeof(stream_fields) / sizeof(stream_fields[0]),
			  first_key, stream_member, &row);
	if (r < 0)
		return r;
	req->rows++;
	req->count++;
	return 0;
}

static const struct body_form cycles_form = {
	.batch_key = "cycles",
	.array_type = "an array of cycles",
	.empty_batch = "expected at least 1 cycle",
	.empty_root = "expected \"cycles\" or \"unit\", \"cycle\", \"settings\" and "
		      "\"sensors\"",
	.members = parse_stream_members,
};

/* ---- a plain JSON validator, for the error path ----------------------------------------- */

/* Open a container: push its kind, growing the stack on the heap past the inline part. */
static int
push_kind(struct pr *p, uint8_t **stack, size_t *cap, size_t *depth, uint8_t *inline_stack)
{
	uint8_t *grown;

	if (*depth == *cap) {
		grown = malloc(*cap * 2);
		if (grown == NULL)
			return fail_nomem(p);
		memcpy(grown, *stack, *cap);
		if (*stack != inline_stack)
			free(*stack);
		*stack = grown;
		*cap *= 2;
	}
	(*stack)[(*depth)++] = *p->p == '{';
	p->p++;
	return 0;
}

/* One scalar value at the cursor. */
static int
skip_scalar(struct pr *p)
{
	double v;
	size_t n;

	if (*p->p == '"')
		return parse_string(p, NULL, NULL);
	if (*p->p == 't' || *p->p == 'f' || *p->p == 'n') {
		const char *word = *p->p == 't' ? "true" : *p->p == 'f' ? "false" : "null";

		n = strlen(word);
		if ((size_t)(p->end - p->p) < n || memcmp(p->p, word, n) != 0)
			return fail_syntax(p, "invalid literal");
		p->p += n;
		return 0;
	}
	n = number_parse((const char *)p->p, (const char *)p->end, &v);
	if (n == 0)
		return fail_syntax(p, "invalid value");
	p->p += n;
	return 0;
}

/*
 * Is the whole body well-formed JSON? Iterative, with an explicit stack of container kinds
 * (on the heap beyond PREDICT_MAX_DEPTH levels; this runs on the error path only), so hostile
 * nesting can neither exhaust the C stack nor hide a syntax error. Fills a 400 error when not.
 */
static int
validate_json(struct pr *p)
{
	uint8_t inline_stack[PREDICT_MAX_DEPTH], *is_obj = inline_stack;
	size_t cap = sizeof(inline_stack), depth = 0;
	bool want_value = true;
	int r = 0;

	p->p = p->start;
	p->depth = 0;
	skip_ws(p);
	for (;;) {
		if (want_value) {
			if (p->p >= p->end) {
				r = fail_syntax(p, "unexpected end of input");
				break;
			}
			if (*p->p == '{' || *p->p == '[') {
				r = push_kind(p, &is_obj, &cap, &depth, inline_stack);
				if (r < 0)
					break;
				skip_ws(p);
				if (p->p < p->end && *p->p == (is_obj[depth - 1] ? '}' : ']')) {
					p->p++;
					depth--;
					want_value = false;
				} else if (is_obj[depth - 1] && (r = parse_key(p, NULL)) < 0) {
					break;
				}
				continue;
			}
			r = skip_scalar(p);
			if (r < 0)
				break;
			want_value = false;
		}
		/* after a value */
		skip_ws(p);
		if (depth == 0)
			break;
		if (p->p < p->end && *p->p == ',') {
			p->p++;
			skip_ws(p);
			if (is_obj[depth - 1] && (r = parse_key(p, NULL)) < 0)
				break;
			want_value = true;
		} else if (p->p < p->end && *p->p == (is_obj[depth - 1] ? '}' : ']')) {
			p->p++;
			depth--;
		} else {
			r = fail_syntax(p, is_obj[depth - 1] ? "expected ',' or '}'" :
					"expected ',' or ']'");
			break;
		}
	}
	if (r == 0 && p->p != p->end)
		r = fail_syntax(p, "trailing characters after the JSON value");
	if (is_obj != inline_stack)
		free(is_obj);
	return r;
}

/* A JSON body of form f, 400 outranking 422. */
static int
parse_json_with(const struct body_form *f, const char *body, size_t len,
		const struct predict_limits *lim, struct predict_request *r,
		struct predict_error *err)
{
	struct predict_error shape;
	struct pr p = {
		.start = (const unsigned char *)body,
		.p = (const unsigned char *)body,
		.end = (const unsigned char *)body + len,
		.req = r,
		.lim = lim,
		.err = err,
	};
	int rc;

	rc = parse_body_root(&p, f);
	if (rc == 0) {
		skip_ws(&p);
		if (p.p != p.end)
			rc = fail_syntax(&p, "trailing characters after the JSON value");
	}
	if (rc < 0 && err->status == 422) {
		/* malformed anywhere in the body outranks a shape error */
		shape = *err;
		if (validate_json(&p) == 0 || err->status != 400)
			*err = shape;
	}
	if (rc < 0)
		return rc;
	fix_pointers(r);
	return 0;
}

int
predict_request_parse_json(const char *body, size_t len, const struct predict_limits *lim,
			   struct predict_request *r, struct predict_error *err)
{
	return parse_json_with(&predict_form, body, len, lim, r, err);
}

int
predict_request_parse_cycles_json(const char *body, size_t len,
				  const struct predict_limits *lim, struct predict_request *r,
				  struct predict_error *err)
{
	return parse_json_with(&cycles_form, body, len, lim, r, err);
}

/* ---- text/plain C-MAPSS rows ------------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static int
fail_plain(struct predict_error *err, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, status, code, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Slot of unit u in an open-addressing table of size mask+1 (a power of two). */
static size_t
unit_slot(const int64_t *keys, const bool *used, size_t mask, int64_t u)
{
	size_t h = (size_t)((uint64_t)u * UINT64_C(0x9e3779b97f4a7c15) >> 20) & mask;

	while (used[h] && keys[h] != u)
		h = (h + 1) & mask;
	return h;
}

/*
 * Group the table's rows by unit (first appearance order, body order within a unit) into
 * the request. Units are counted first, so the request's storage is sized once.
 */
static int
group_units(const struct cmapss_table *t, const struct predict_limits *lim,
	    struct predict_request *r, struct predict_error *err)
{
	size_t cap = 16, mask, i, h, u, units = 0, *engine_of = NULL, *fill = NULL;
	int64_t *keys = NULL;
	bool *used = NULL;
	int rc = -ENOMEM;

	while (cap < 2 * t->rows)
		cap *= 2;
	mask = cap - 1;
	keys = malloc(cap * sizeof(*keys));
	used = calloc(cap, sizeof(*used));
	engine_of = malloc(cap * sizeof(*engine_of));
	if (keys == NULL || used == NULL || engine_of == NULL)
		goto out;
	for (i = 0; i < t->rows; i++) {
		h = unit_slot(keys, used, mask, t->unit[i]);
		if (used[h])
			continue;
		if (units == lim->max_instances) {
			rc = fail_plain(err, 413, PREDICT_ERR_TOO_MANY_INSTANCES,
					"body: more than %zu units (max_instances)",
					lim->max_instances);
			goto out;
		}
		used[h] = true;
		keys[h] = t->unit[i];
		engine_of[h] = units++;
		if (units > r->cap_engines && grow_engines(r, units) < 0)
			goto out;
		memset(&r->engines[units - 1], 0, sizeof(r->engines[0]));
		r->engines[units - 1].unit = t->unit[i];
		r->count = units;
	}
	for (i = 0; i < t->rows; i++)
		r->engines[engine_of[unit_slot(keys, used, mask, t->unit[i])]].n++;
	if (t->rows > r->cap_rows && grow_rows(r, t->rows) < 0)
		goto out;
	fill = malloc(units * sizeof(*fill));
	if (fill == NULL)
		goto out;
	for (u = 0, h = 0; u < units; u++) {
		if (r->engines[u].n > lim->max_cycles) {
			rc = fail_plain(err, 413, PREDICT_ERR_TOO_MANY_CYCLES,
					"unit %lld: more than %zu cycles (max_cycles)",
					(long long)r->engines[u].unit, lim->max_cycles);
			goto out;
		}
		r->engines[u].first = h;
		fill[u] = h;
		h += r->engines[u].n;
	}
	for (i = 0; i < t->rows; i++) {
		u = engine_of[unit_slot(keys, used, mask, t->unit[i])];
		h = fill[u]++;
		if (h > r->engines[u].first && t->cycle[i] <= r->cycles[h - 1]) {
			rc = fail_plain(err, 422, PREDICT_ERR_NOT_INCREASING,
					"row %zu: unit %lld: cycle %lld does not follow %lld: "
					"cycles must increase strictly", i + 1,
					(long long)t->unit[i], (long long)t->cycle[i],
					(long long)r->cycles[h - 1]);
			goto out;
		}
		r->cycles[h] = t->cycle[i];
		memcpy(r->inputs + h * N_IN, t->values + i * N_IN, N_IN * sizeof(double));
	}
	r->rows = t->rows;
	r->batch = true;
	fix_pointers(r);
	rc = 0;
out:
	if (rc == -ENOMEM)
		fail_plain(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	free(keys);
	free(used);
	free(engine_of);
	free(fill);
	return rc;
}

/* Every row of the table as an engine of one row, in body order (/v1/cycles). */
static int
rows_as_cycles(const struct cmapss_table *t, const struct predict_limits *lim,
	       struct predict_request *r, struct predict_error *err)
{
	size_t i;

	if (t->rows > lim->max_instances)
		return fail_plain(err, 413, PREDICT_ERR_TOO_MANY_INSTANCES,
				  "body: more than %zu rows (max_instances)", lim->max_instances);
	if ((t->rows > r->cap_engines && grow_engines(r, t->rows) < 0) ||
	    (t->rows > r->cap_rows && grow_rows(r, t->rows) < 0))
		return fail_plain(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	for (i = 0; i < t->rows; i++) {
		r->engines[i] = (struct predict_engine){ .unit = t->unit[i], .n = 1, .first = i };
		r->cycles[i] = t->cycle[i];
	}
	memcpy(r->inputs, t->values, t->rows * N_IN * sizeof(double));
	r->count = t->rows;
	r->rows = t->rows;
	r->batch = true;
	fix_pointers(r);
	return 0;
}

/* A table of rows checked: at least one row, every number finite. */
static int
check_table(const struct cmapss_table *t, struct predict_error *err)
{
	size_t i, k;

	if (t->rows == 0)
		return fail_plain(err, 422, PREDICT_ERR_INVALID_SHAPE,
				  "body: expected at least 1 C-MAPSS row");
	for (i = 0; i < t->rows; i++)
		for (k = 0; k < N_IN; k++)
			if (!isfinite(t->values[i * N_IN + k]))
				return fail_plain(err, 422, PREDICT_ERR_NON_FINITE,
						  "row %zu: column %zu: number is not finite",
						  i + 1, k + 3);
	return 0;
}

/* A table of rows, checked, into the request by group. */
static int
table_into_request(int (*group)(const struct cmapss_table *t, const struct predict_limits *lim,
				struct predict_request *r, struct predict_error *err),
		   const struct cmapss_table *t, const struct predict_limits *lim,
		   struct predict_request *r, struct predict_error *err)
{
	int rc = check_table(t, err);

	return rc < 0 ? rc : group(t, lim, r, err);
}

/* Rows into a table, then into the request by group (grouped by unit, or one per row). */
static int
parse_rows_with(int (*group)(const struct cmapss_table *t, const struct predict_limits *lim,
			     struct predict_request *r, struct predict_error *err),
		const char *body, size_t len, const struct predict_limits *lim,
		struct predict_request *r, struct predict_error *err)
{
	struct cmapss_table t = { 0 };
	char msg[200];
	int rc;

	rc = cmapss_parse(body, len, "body", &t, msg, sizeof(msg));
	if (rc == -ENOMEM) {
		rc = fail_plain(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	if (rc < 0 && strstr(msg, "is not a finite number") != NULL) {
		/* a value that overflows (1e999) or nan/inf: 422 as in JSON */
		rc = fail_plain(err, 422, PREDICT_ERR_NON_FINITE, "%s", msg);
		goto out;
	}
	if (rc < 0) {
		rc = fail_plain(err, 400, PREDICT_ERR_MALFORMED_ROWS, "%s", msg);
		goto out;
	}
	rc = table_into_request(group, &t, lim, r, err);
out:
	cmapss_table_free(&t);
	return rc;
}

int
predict_request_from_table(const struct cmapss_table *t, const struct predict_limits *lim,
			   struct predict_request *r, struct predict_error *err)
{
	return table_into_request(group_units, t, lim, r, err);
}

int
predict_request_parse_cmapss(const char *body, size_t len, const struct predict_limits *lim,
			     struct predict_request *r, struct predict_error *err)
{
	return parse_rows_with(group_units, body, len, lim, r, err);
}

int
predict_request_parse_cycles_cmapss(const char *body, size_t len,
				    const struct predict_limits *lim, struct predict_request *r,
				    struct predict_error *err)
{
	return parse_rows_with(rows_as_cycles, body, len, lim, r, err);
}

int
predict_request_from_windows(const struct cmapss_table *t, size_t cycles,
			     const struct predict_limits *lim, struct predict_request *r,
			     struct predict_error *err)
{
	size_t count, e, i;
	int rc = check_table(t, err);

	if (rc < 0)
		return rc;
	if (cycles == 0 || t->rows % cycles != 0)
		return fail_plain(err, 422, PREDICT_ERR_INVALID_SHAPE,
				  "body: %zu rows are not windows of %zu cycles", t->rows, cycles);
	count = t->rows / cycles;
	if (count > lim->max_instances)
		return fail_plain(err, 413, PREDICT_ERR_TOO_MANY_INSTANCES,
				  "%zu engines, more than %zu (max_instances)", count,
				  lim->max_instances);
	if (cycles > lim->max_cycles)
		return fail_plain(err, 413, PREDICT_ERR_TOO_MANY_CYCLES,
				  "windows of %zu cycles, more than %zu (max_cycles)", cycles,
				  lim->max_cycles);
	if ((count > r->cap_engines && grow_engines(r, count) < 0) ||
	    (t->rows > r->cap_rows && grow_rows(r, t->rows) < 0))
		return fail_plain(err, 503, PREDICT_ERR_NO_MEMORY, "out of memory");
	for (e = 0; e < count; e++) {
		r->engines[e] = (struct predict_engine){ .unit = t->unit[e * cycles], .n = cycles,
							 .first = e * cycles };
		for (i = e * cycles + 1; i < (e + 1) * cycles; i++)
			if (t->cycle[i] <= t->cycle[i - 1])
				return fail_plain(err, 422, PREDICT_ERR_NOT_INCREASING,
						  "engine %zu: cycle %lld does not follow %lld: "
						  "cycles must increase strictly", e + 1,
						  (long long)t->cycle[i], (long long)t->cycle[i - 1]);
	}
	memcpy(r->cycles, t->cycle, t->rows * sizeof(*r->cycles));
	memcpy(r->inputs, t->values, t->rows * N_IN * sizeof(double));
	r->count = count;
	r->rows = t->rows;
	r->batch = true;
	fix_pointers(r);
	return 0;
}
