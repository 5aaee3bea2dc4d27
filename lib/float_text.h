/* SPDX-License-Identifier: MIT */
/* float_text.h - a float as the text of printf's "%.7g", without printf. */
#ifndef RULSRV_FLOAT_TEXT_H
#define RULSRV_FLOAT_TEXT_H

#include <stddef.h>

/* Bytes float_text_g7 writes at most, its NUL included ("-1.234568e-38"). */
#define FLOAT_TEXT_MAX 16

/*
 * Writes to out (FLOAT_TEXT_MAX bytes) exactly what snprintf(out, FLOAT_TEXT_MAX, "%.7g",
 * (double)v) writes in the C locale, and returns its length (without the NUL). The common
 * case (|v| from 1e-4 to below 1e7, the fixed notation of %g) is converted with integer
 * arithmetic, exactly rounded as printf rounds (to nearest, ties to even); the rest
 * (exponents, zeros' signs aside, NaN, infinities) is left to snprintf.
 */
size_t float_text_g7(float v, char *out);

#endif
