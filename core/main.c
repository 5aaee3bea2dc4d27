/* SPDX-License-Identifier: MIT */
/* main.c - rulsrv(8): command line, start-up, and the signal loop of the main thread. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "sdnotify.h"

#ifndef RULSRV_DEFAULT_CONFIG
#define RULSRV_DEFAULT_CONFIG "/etc/rulsrv/rulsrv.conf"
#endif

#define MAX_ARGS 64

struct options {
	const char *config;
	const char *only[MAX_ARGS];
	size_t only_count;
	const char *overrides[MAX_ARGS];
	size_t override_count;
	bool test;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: rulsrv [-c FILE] [-s SERVICE]... [-o SETTING=VALUE]... [-t] [-V] [-h]\n"
		"Serve Remaining-Useful-Life predictions, feedback and drift as configured in FILE.\n"
		"\n"
		"  -c FILE           configuration file (default %s)\n"
		"  -s SERVICE        run only this service (repeatable; default: every service)\n"
		"  -o SETTING=VALUE  override a setting by its path, e.g. -o services.prediction.listen=127.0.0.1:0\n"
		"  -t                check the configuration, plugins and models, then exit (0, or 78)\n"
		"  -V                print the version and exit\n"
		"  -h                print this help and exit\n"
		"\n"
		"Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT drain and exit.\n",
		RULSRV_DEFAULT_CONFIG);
}

/* Returns -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct options *o)
{
	int c;

	o->config = RULSRV_DEFAULT_CONFIG;
	while ((c = getopt(argc, argv, "c:s:o:tVh")) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			if (o->only_count == MAX_ARGS)
				goto out_many;
			o->only[o->only_count++] = optarg;
			break;
		case 'o':
			if (o->override_count == MAX_ARGS)
				goto out_many;
			o->overrides[o->override_count++] = optarg;
			break;
		case 't':
			o->test = true;
			break;
		case 'V':
			printf("rulsrv %s (plugin ABI %d.%d)\n", RULSRV_VERSION, RULSRV_PLUGIN_ABI_MAJOR,
			       RULSRV_PLUGIN_ABI_MINOR);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 64; /* EX_USAGE */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rulsrv: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 64;
	}
	return -1;
out_many:
	fprintf(stderr, "rulsrv: too many -s or -o options (at most %d each)\n", MAX_ARGS);
	return 64;
}

/* SIGHUP reloads; SIGTERM/SIGINT return. Signals arrive through a signalfd, never a handler. */
static void
signal_loop(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;
	char msg[1024];
	ssize_t n;

	for (;;) {
		n = read(sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si)) {
			log_err("cannot read signals: %s", n < 0 ? strerror_r(errno, msg, sizeof(msg)) : "short read");
			return;
		}
		if (si.ssi_signo == SIGHUP) {
			daemon_reload(d, msg, sizeof(msg));
			continue;
		}
		log_notice("received %s, draining and shutting down", strsignal((int)si.ssi_signo));
		return;
	}
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct daemon *d;
	sigset_t mask;
	int r, sfd;

	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	signal(SIGPIPE, SIG_IGN);
	log_init();
	/* Blocked before any thread starts, so every thread inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		log_err("cannot create a signalfd: %m");
		return EXIT_FAILURE;
	}
	d = daemon_new(o.config, o.overrides, o.override_count, o.only, o.only_count);
	if (d == NULL) {
		log_err("out of memory");
		return EXIT_FAILURE;
	}
	r = daemon_load(d);
	if (o.test) {
		daemon_free(d);
		if (r < 0)
			return DAEMON_EX_CONFIG;
		printf("configuration OK\n");
		return EXIT_SUCCESS;
	}
	if (r < 0) {
		daemon_free(d);
		return r == -EINVAL ? DAEMON_EX_CONFIG : EXIT_FAILURE;
	}
	r = daemon_listen(d);
	if (r < 0) {
		daemon_shutdown(d);
		daemon_free(d);
		return EXIT_FAILURE;
	}
	sdnotify("READY=1");
	log_notice("rulsrv %s ready", RULSRV_VERSION);
	signal_loop(d, sfd);
	sdnotify("STOPPING=1");
	daemon_shutdown(d);
	daemon_free(d);
	close(sfd);
	log_notice("stopped");
	return EXIT_SUCCESS;
}
