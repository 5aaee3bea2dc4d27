/* SPDX-License-Identifier: MIT */
/* process_metrics.c - the standard process_* metrics, refreshed from /proc/self before a walk. */
#include "metrics.h"
#include "metrics_owned.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct process_metrics {
	struct rulsrv_series *cpu;
	struct rulsrv_series *rss;
	struct rulsrv_series *vsize;
	struct rulsrv_series *start;
	struct rulsrv_series *open_fds;
	struct rulsrv_series *max_fds;
	struct rulsrv_series *threads;
	unsigned long long cpu_ticks; /* already added to the cpu counter */
	long ticks;
	long page_size;
	double boot_time;
};

/* Boot time in seconds since the epoch: the "btime" line of /proc/stat. */
static double
proc_boot_time(void)
{
	char line[256];
	double btime = 0;
	FILE *f;

	f = fopen("/proc/stat", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "btime ", 6) == 0) {
			btime = strtod(line + 6, NULL);
			break;
		}
	}
	fclose(f);
	return btime;
}

static int
proc_count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

/*
 * The cpu time is a counter, which only ever adds: it is advanced by the ticks used since the
 * last walk, so it equals utime + stime of /proc/self/stat.
 */
static void
process_collect_cpu(struct process_metrics *p, unsigned long long ticks)
{
	if (ticks <= p->cpu_ticks)
		return;
	metrics_counter_add(p->cpu, (double)(ticks - p->cpu_ticks) / (double)p->ticks);
	p->cpu_ticks = ticks;
}

/*
 * /proc/self/stat: "pid (comm) state ppid ..." where comm may hold spaces and parentheses, so
 * fields are counted from the last ')'. Field numbers as in proc(5).
 */
static void
process_collect(void *ud)
{
	struct process_metrics *p = ud;
	unsigned long utime, stime, vsize;
	unsigned long long starttime;
	long threads, rss;
	struct rlimit rl;
	char buf[1024], *s;
	ssize_t n;
	int fd, fds;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		s = strrchr(buf, ')');
		/* fields 3.. : state(3) ... utime(14) stime(15) ... num_threads(20) ...
		 * starttime(22) vsize(23) rss(24) */
		if (s != NULL && sscanf(s + 2,
					"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
					"%*d %*d %*d %*d %ld %*d %llu %lu %ld",
					&utime, &stime, &threads, &starttime, &vsize, &rss) == 6) {
			process_collect_cpu(p, (unsigned long long)utime + stime);
			metrics_gauge_set(p->threads, (double)threads);
			metrics_gauge_set(p->start,
					  p->boot_time + (double)starttime / (double)p->ticks);
			metrics_gauge_set(p->vsize, (double)vsize);
			metrics_gauge_set(p->rss, (double)rss * (double)p->page_size);
		}
	}
	fds = proc_count_fds();
	if (fds >= 0)
		metrics_gauge_set(p->open_fds, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metrics_gauge_set(p->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
}

/* The process_* families, each with its one unlabelled series, in one table. */
static int
process_families(struct metrics_registry *r, struct process_metrics *p)
{
	const struct rulsrv_metric_def defs[] = {
		{ "process_cpu_seconds_total", RULSRV_METRIC_COUNTER,
		  "Total user and system CPU time spent in seconds.", .series = &p->cpu },
		{ "process_resident_memory_bytes", RULSRV_METRIC_GAUGE,
		  "Resident memory size in bytes.", .series = &p->rss },
		{ "process_virtual_memory_bytes", RULSRV_METRIC_GAUGE,
		  "Virtual memory size in bytes.", .series = &p->vsize },
		{ "process_start_time_seconds", RULSRV_METRIC_GAUGE,
		  "Start time of the process since unix epoch in seconds.", .series = &p->start },
		{ "process_open_fds", RULSRV_METRIC_GAUGE, "Number of open file descriptors.",
		  .series = &p->open_fds },
		{ "process_max_fds", RULSRV_METRIC_GAUGE,
		  "Maximum number of open file descriptors.", .series = &p->max_fds },
		{ "process_threads", RULSRV_METRIC_GAUGE, "Number of OS threads in the process.",
		  .series = &p->threads },
	};

	return metrics_register(r, defs, sizeof(defs) / sizeof(defs[0]));
}

static void
process_metrics_free(void *ud)
{
	free(ud);
}

int
process_metrics_register(struct metrics_registry *r)
{
	struct process_metrics *p;
	int err = 0;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	err = process_families(r, p);
	if (err < 0)
		goto out_free;
	p->ticks = sysconf(_SC_CLK_TCK);
	p->page_size = sysconf(_SC_PAGESIZE);
	if (p->ticks <= 0)
		p->ticks = 100;
	if (p->page_size <= 0)
		p->page_size = 4096;
	p->boot_time = proc_boot_time();
	process_collect(p);
	return metrics_add_collector_owned(r, process_collect, p, process_metrics_free);
out_free:
	process_metrics_free(p);
	return err;
}
