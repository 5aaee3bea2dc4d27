/* SPDX-License-Identifier: MIT */
/* report.h - rulsrv-replay --report FILE: the run as one self-contained HTML page. */
#ifndef REPLAY_REPORT_H
#define REPLAY_REPORT_H

#include <stddef.h>

#include "summary.h"

/* What the page says about the run besides the quarters. Strings may be "" but not NULL. */
struct report_meta {
	const char *model;      /* "rul-fd001 2026.11.25-1 (forest)" */
	const char *predict_url;
	const char *data_dir;
	unsigned long long seed;
	double cap;             /* RUL cap of the truth in the RMSE */
	double bundle_rmse;     /* the bundle's own test RMSE (capped), NAN when unknown */
};

/*
 * Write the page to path (replaced atomically: a temporary file renamed over it): the
 * per-quarter table, a feature x quarter PSI heatmap, RMSE per quarter and predicted against
 * true RUL per quarter, as inline SVG: no script, no style or font from anywhere else.
 * 0, or -errno with the reason in err.
 */
int report_write(const char *path, const struct quarter_stats *q, size_t count,
		 const struct report_meta *meta, char *err, size_t err_len);

#endif
