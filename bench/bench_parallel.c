/* NAME_run_parallel timing: MODEL_run, then MODEL_run_parallel with a pool
 * of 1..T pthreads (the caller counted), in interleaved rounds so that
 * load from other processes hits every configuration alike; prints one
 * JSON line per configuration: the median over rounds of each round's
 * mean milliseconds per run. Uses only the generated API.
 *   bench_parallel --runs N --rounds R --threads T IN.npy... */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncc_pool.h"
#include "nnrt.h"

#define PASTE3(a, b, c) a##b##c
#define XPASTE3(a, b, c) PASTE3(a, b, c)
#define SYM(x) XPASTE3(MODEL, _, x)

#include HEADER

#if SYM(NUM_OUTPUTS) != 1
#error "bench_parallel: models of one output"
#endif

#define MAXT 16
#define MAXR 64

/* The runtime's monotonic clock, in milliseconds. */
static double
now_ms(void)
{
	return nnrt_now_ns() / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	const void *in[SYM(NUM_INPUTS) + 1] = {0};
	void *out[SYM(NUM_OUTPUTS) + 1] = {0};
	int runs = 10, rounds = 5, threads = 2, nin = 0, rc = 0;
	static double ms[MAXT + 1][MAXR];
	static nncc_pool pools[MAXT + 1];
	void *ws = malloc(SYM(workspace_size)() + 64);
	char err[256];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = atoi(argv[++i]);
		} else if (nin < SYM(NUM_INPUTS)) {
			nnrt_array a;
			if (nnrt_npy_read(argv[i], &a, err, sizeof err)) {
				fprintf(stderr, "bench_parallel: %s\n", err);
				return 2;
			}
			in[nin++] = a.data;
		}
	}
	if (nin != SYM(NUM_INPUTS) || threads < 1 || threads > MAXT ||
	    rounds < 1 || rounds > MAXR || runs < 1)
		return 2;
	out[0] = malloc(SYM(OUTPUT_0_SIZE) * 8 + 8); /* any element type */
	for (int t = 1; t <= threads; t++)
		nncc_pool_init(&pools[t], t);
	rc |= SYM(run)(in, out); /* warm-up */
	for (int r = 0; r < rounds; r++)
		for (int t = 0; t <= threads; t++) {
			double t0 = now_ms();
			for (int i = 0; i < runs; i++)
				rc |= t ? SYM(run_parallel)(in, out, ws,
							    nncc_pool_for,
							    &pools[t])
					: SYM(run)(in, out);
			ms[t][r] = (now_ms() - t0) / runs;
		}
	for (int t = 0; t <= threads; t++) {
		qsort(ms[t], (size_t)rounds, sizeof ms[t][0], cmp);
		printf("{\"engine\": \"%s\", \"threads\": %d, \"median_ms\": "
		       "%.3f, \"min_ms\": %.3f}\n", t ? "run_parallel" : "run",
		       t ? t : 1, ms[t][rounds / 2], ms[t][0]);
	}
	return rc != 0;
}
