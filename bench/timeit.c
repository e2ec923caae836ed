/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/timeit.c - wall-clock time of whole commands, fork+exec to exit
 *
 *   timeit ROUNDS MAXSECONDS NAME CMD ARGS... [::: NAME CMD ARGS...]...
 *
 * Runs every command once per round, interleaved (so that a noisy VM's
 * bursts hit each command alike), ROUNDS rounds, stopping early once
 * MAXSECONDS have passed.  Each run is timed with CLOCK_MONOTONIC from
 * just before fork() to the return of waitpid(); stdin, stdout and stderr
 * go to /dev/null except the first run's stderr, kept to explain a
 * failure.  A run slower than 30 s is killed.  A command that exits
 * non-zero is dropped from the later rounds.  Prints one JSON object per
 * command and line: name, runs, median_ms, p95_ms, min_ms, or error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAXCMD 32

struct cmd {
	const char *name;
	char **argv;
	double *ms;
	int runs;
	char error[160];
};

static volatile pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	if (child > 0)
		kill(child, SIGKILL);
}

static double now_ms(void)
{
	return bench_now() * 1e3;
}

/* Last line of the file, JSON-safe (quotes and control characters dropped). */
static void last_line(FILE *f, char *out, size_t n)
{
	char line[512], keep[512] = "";

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			memcpy(keep, line, sizeof(keep));
	size_t j = 0;
	for (size_t i = 0; keep[i] && j + 1 < n; i++)
		if (keep[i] >= ' ' && keep[i] != '"' && keep[i] != '\\')
			out[j++] = keep[i];
	out[j] = '\0';
}

static void run(struct cmd *c, int first)
{
	FILE *err = first ? tmpfile() : NULL;
	int devnull = open("/dev/null", O_RDWR), status;
	double t0, t;
	pid_t pid;

	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(err ? fileno(err) : devnull, 2);
		execvp(c->argv[0], c->argv);
		fprintf(stderr, "cannot execute %s: %s\n", c->argv[0], strerror(errno));
		_exit(127);
	}
	close(devnull);
	if (pid < 0) {
		snprintf(c->error, sizeof(c->error), "fork: %s", strerror(errno));
		return;
	}
	child = pid;
	alarm(30);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	alarm(0);
	child = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && now_ms() - t0 >= 30000) {
		snprintf(c->error, sizeof(c->error), "timed out after 30 s");
		goto out;
	}
	t = now_ms() - t0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		c->ms[c->runs++] = t;
	} else {
		char why[120] = "";

		if (err)
			last_line(err, why, sizeof(why));
		snprintf(c->error, sizeof(c->error), "exit %d: %s",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), why);
	}
out:
	if (err)
		fclose(err);
}

int main(int argc, char **argv)
{
	struct cmd cmds[MAXCMD];
	int n = 0, rounds;
	double maxs, start;

	if (argc < 5) {
		fprintf(stderr, "usage: timeit ROUNDS MAXSECONDS NAME CMD... [::: NAME CMD...]...\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	maxs = atof(argv[2]);
	for (int i = 3; i < argc && n < MAXCMD;) {
		struct cmd *c = &cmds[n++];

		memset(c, 0, sizeof(*c));
		c->name = argv[i++];
		c->argv = &argv[i];
		while (i < argc && strcmp(argv[i], ":::"))
			i++;
		if (i < argc)
			argv[i++] = NULL;
		c->ms = calloc((size_t)rounds + 1, sizeof(double));
		if (!c->ms || !c->argv[0])
			return 2;
	}
	signal(SIGALRM, on_alarm);
	start = now_ms();
	for (int r = 0; r < rounds && now_ms() - start < maxs * 1e3; r++)
		for (int k = 0; k < n; k++)
			if (!cmds[k].error[0])
				run(&cmds[k], r == 0);
	for (int k = 0; k < n; k++) {
		struct cmd *c = &cmds[k];

		if (c->error[0] || !c->runs) {
			printf("{\"name\": \"%s\", \"error\": \"%s\"}\n", c->name,
			       c->error[0] ? c->error : "no run");
			continue;
		}
		qsort(c->ms, (size_t)c->runs, sizeof(double), bench_cmp_double);
		int p95 = (c->runs * 95 + 99) / 100 - 1;
		printf("{\"name\": \"%s\", \"runs\": %d, \"median_ms\": %.3f, \"p95_ms\": %.3f, "
		       "\"min_ms\": %.3f}\n", c->name, c->runs,
		       c->runs % 2 ? c->ms[c->runs / 2] : (c->ms[c->runs / 2 - 1] + c->ms[c->runs / 2]) / 2,
		       c->ms[p95 < 0 ? 0 : p95], c->ms[0]);
	}
	return 0;
}
