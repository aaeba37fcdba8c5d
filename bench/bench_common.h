/* Shared by the bench harnesses (compiled object and interpreter): the
 * command line, the timing loop and the JSON summary, so both sides are
 * measured exactly the same way. Header-only: each harness is one file. */
#ifndef NNCC_BENCH_COMMON_H
#define NNCC_BENCH_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnrt.h"

#define BENCH_MAX_IO 8

typedef struct bench_args {
	int warmup;         /* untimed runs first */
	int max_runs;       /* stop after this many timed runs */
	int min_runs;       /* ... but never before this many */
	double seconds;     /* stop once this much time was spent timing */
	const char *out[BENCH_MAX_IO];  /* -o: output .npy files, graph order */
	int nout;
	const char *in[BENCH_MAX_IO];   /* input .npy files, graph order */
	int nin;
	const char *model;  /* --model (interpreter only) */
} bench_args;

typedef int (*bench_fn)(void *ctx);

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
bench_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--model M] [--warmup N] [--runs N] "
		"[--min-runs N] [--seconds S] [-o OUT.npy]... IN.npy...\n",
		prog);
	return 2;
}

/* Returns 0, or 2 after a usage message. */
static int
bench_parse(int argc, char **argv, bench_args *a)
{
	int i;

	memset(a, 0, sizeof *a);
	a->warmup = 10;
	a->max_runs = 1000;
	a->min_runs = 10;
	a->seconds = 5.0;
	for (i = 1; i < argc; i++) {
		const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (s[0] != '-' || !strcmp(s, "-")) {
			if (a->nin == BENCH_MAX_IO)
				return bench_usage(argv[0]);
			a->in[a->nin++] = s;
			continue;
		}
		if (!v)
			return bench_usage(argv[0]);
		i++;
		if (!strcmp(s, "--warmup"))
			a->warmup = atoi(v);
		else if (!strcmp(s, "--runs"))
			a->max_runs = atoi(v);
		else if (!strcmp(s, "--min-runs"))
			a->min_runs = atoi(v);
		else if (!strcmp(s, "--seconds"))
			a->seconds = atof(v);
		else if (!strcmp(s, "--model"))
			a->model = v;
		else if (!strcmp(s, "-o") && a->nout < BENCH_MAX_IO)
			a->out[a->nout++] = v;
		else
			return bench_usage(argv[0]);
	}
	if (a->max_runs < 1 || a->min_runs < 1)
		return bench_usage(argv[0]);
	return 0;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, int n, double p)
{
	int k = (int)(p / 100.0 * (n - 1) + 0.5);

	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* Times fn one call at a time (each call is one batch-1 inference) and
 * prints {"median_us", "p10_us", "p90_us", "min_us", "runs"} as JSON.
 * Returns 0, or 1 if fn failed. */
static int
bench_time(const bench_args *a, bench_fn fn, void *ctx)
{
	double *t = malloc(sizeof(double) * (size_t)a->max_runs);
	double start, total = 0;
	int i, n = 0;

	if (!t)
		return 1;
	for (i = 0; i < a->warmup; i++)
		if (fn(ctx)) {
			free(t);
			return 1;
		}
	while (n < a->max_runs && (n < a->min_runs || total < a->seconds * 1e6)) {
		start = now_us();
		if (fn(ctx)) {
			free(t);
			return 1;
		}
		t[n] = now_us() - start;
		total += t[n++];
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	printf("{\"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, "
	       "\"min_us\": %.3f, \"runs\": %d}\n", percentile(t, n, 50),
	       percentile(t, n, 10), percentile(t, n, 90), t[0], n);
	free(t);
	return 0;
}

/* Reads the input files; prints the reason and returns 1 on error. */
static int
bench_read_inputs(const bench_args *a, nnrt_array *in)
{
	char err[256];
	int i;

	for (i = 0; i < a->nin; i++)
		if (nnrt_npy_read(a->in[i], &in[i], err, sizeof err)) {
			fprintf(stderr, "bench: error: %s\n", err);
			return 1;
		}
	return 0;
}

#endif
