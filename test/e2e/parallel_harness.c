/* Harness for MODEL_run_parallel, written only from the generated API:
 * reads .npy inputs, runs MODEL_run and writes its outputs (for the
 * comparison with nncc-run), then checks that MODEL_run_parallel gives the
 * same bytes with no parallel_for, with a pool of 1, 2 and 4 threads and
 * with a callback that runs the tasks in reverse order; prints how many
 * parallel_for calls and tasks a run made. Build with -DMODEL=name
 * -DHEADER='"name.h"', -I examples/parallel (its nncc_pool.h, the pool
 * a user would take) and -lpthread (the harness's; the object needs none).
 *   parallel_harness IN.npy... -o OUT.npy...
 *   parallel_harness --time N --threads T IN.npy...   (ms per run) */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncc_pool.h"
#include "nnrt.h"

#define PASTE3(a, b, c) a##b##c
#define XPASTE3(a, b, c) PASTE3(a, b, c)
#define SYM(x) XPASTE3(MODEL, _, x)

#include HEADER

#define NIN SYM(NUM_INPUTS)
#define NOUT SYM(NUM_OUTPUTS)

/* ------------------------------------------------ the pool: nncc_pool.h */

/* Every task, serially, last index first. */
static void
reverse_for(void *ctx, void (*task)(void *data, size_t i), void *data,
	    size_t n)
{
	atomic_long *calls = ctx;

	atomic_fetch_add(calls, 1);
	while (n-- > 0)
		task(data, n);
}

/* ------------------------------------------------ buffers */

#if NOUT > 6
#error "parallel_harness: more than 6 outputs"
#endif
static const int out_dtype[] = {
#if NOUT > 0
	SYM(OUTPUT_0_DTYPE),
#endif
#if NOUT > 1
	SYM(OUTPUT_1_DTYPE),
#endif
#if NOUT > 2
	SYM(OUTPUT_2_DTYPE),
#endif
#if NOUT > 3
	SYM(OUTPUT_3_DTYPE),
#endif
#if NOUT > 4
	SYM(OUTPUT_4_DTYPE),
#endif
#if NOUT > 5
	SYM(OUTPUT_5_DTYPE),
#endif
	0};
static const size_t out_size[] = {
#if NOUT > 0
	SYM(OUTPUT_0_SIZE),
#endif
#if NOUT > 1
	SYM(OUTPUT_1_SIZE),
#endif
#if NOUT > 2
	SYM(OUTPUT_2_SIZE),
#endif
#if NOUT > 3
	SYM(OUTPUT_3_SIZE),
#endif
#if NOUT > 4
	SYM(OUTPUT_4_SIZE),
#endif
#if NOUT > 5
	SYM(OUTPUT_5_SIZE),
#endif
	0};
static const int out_rank[] = {
#if NOUT > 0
	SYM(OUTPUT_0_RANK),
#endif
#if NOUT > 1
	SYM(OUTPUT_1_RANK),
#endif
#if NOUT > 2
	SYM(OUTPUT_2_RANK),
#endif
#if NOUT > 3
	SYM(OUTPUT_3_RANK),
#endif
#if NOUT > 4
	SYM(OUTPUT_4_RANK),
#endif
#if NOUT > 5
	SYM(OUTPUT_5_RANK),
#endif
	0};
static const int64_t out_shape[][8] = {
#if NOUT > 0
	SYM(OUTPUT_0_SHAPE),
#endif
#if NOUT > 1
	SYM(OUTPUT_1_SHAPE),
#endif
#if NOUT > 2
	SYM(OUTPUT_2_SHAPE),
#endif
#if NOUT > 3
	SYM(OUTPUT_3_SHAPE),
#endif
#if NOUT > 4
	SYM(OUTPUT_4_SHAPE),
#endif
#if NOUT > 5
	SYM(OUTPUT_5_SHAPE),
#endif
	{0}};

static size_t
out_bytes(int k)
{
	return out_size[k] * nnrt_dtype_size(out_dtype[k] == 16 ? NNRT_U16
							       : out_dtype[k]);
}

static void **
new_outs(void)
{
	void **o = calloc(NOUT + 1, sizeof *o);

	for (int k = 0; k < NOUT; k++)
		o[k] = calloc(out_bytes(k) + 1, 1);
	return o;
}

static void
free_outs(void **o)
{
	for (int k = 0; k < NOUT; k++)
		free(o[k]);
	free(o);
}

/* Fills the outputs with a pattern, so that an element no task writes
 * shows as a difference. */
static void
poison(void **o)
{
	for (int k = 0; k < NOUT; k++)
		memset(o[k], 0xa5, out_bytes(k));
}

static int
same(void **a, void **b, const char *what)
{
	for (int k = 0; k < NOUT; k++)
		if (memcmp(a[k], b[k], out_bytes(k))) {
			fprintf(stderr, "parallel_harness: output %d of %s "
				"differs from MODEL_run's\n", k, what);
			return 0;
		}
	return 1;
}

/* The runtime's monotonic clock, in milliseconds. */
static double
now_ms(void)
{
	return nnrt_now_ns() / 1e6;
}

/* ms per run_parallel with a pool of `threads` (0: MODEL_run), best of
 * three rounds of n runs. */
static int
timing(const void **in, void *ws, int n, int threads)
{
	void **o = new_outs();
	double best = -1;
	nncc_pool p;
	int rc = 0;

	if (threads > 0)
		nncc_pool_init(&p, threads);
	for (int r = 0; r < 4; r++) {
		double t0 = now_ms(), t;
		for (int i = 0; i < n; i++)
			rc |= threads > 0
			      ? SYM(run_parallel)(in, o, ws, nncc_pool_for, &p)
			      : SYM(run)(in, o);
		t = (now_ms() - t0) / n;
		if (r > 0 && (best < 0 || t < best)) /* round 0 warms up */
			best = t;
	}
	if (threads > 0)
		nncc_pool_fini(&p);
	printf("%s threads %d: %.3f ms\n", threads > 0 ? "run_parallel"
	       : "run", threads, best);
	free_outs(o);
	return rc;
}

int
main(int argc, char **argv)
{
	const void *in[NIN + 1] = {0};
	char *paths[NOUT + 1] = {0}, err[256];
	int nin = 0, nout = 0, time_n = 0, time_t = 1, bad = 0;
	void **ref = new_outs(), **got = new_outs();
	void *ws = malloc(SYM(workspace_size)() + 1);
	atomic_long rcalls = 0;
	nnrt_array arr[NIN + 1];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc && nout < NOUT) {
			paths[nout++] = argv[++i];
		} else if (!strcmp(argv[i], "--time") && i + 1 < argc) {
			time_n = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			time_t = atoi(argv[++i]);
		} else if (nin < NIN) {
			if (nnrt_npy_read(argv[i], &arr[nin], err, sizeof err)) {
				fprintf(stderr, "parallel_harness: %s\n", err);
				return 2;
			}
			in[nin] = arr[nin].data;
			nin++;
		} else {
			fprintf(stderr, "parallel_harness: bad argument %s\n",
				argv[i]);
			return 2;
		}
	}
	if (nin != NIN || !ws) {
		fprintf(stderr, "parallel_harness: want %d inputs\n", NIN);
		return 2;
	}
	if (time_n > 0) {
		int rc = timing(in, ws, time_n, 0);
		for (int t = 1; t <= time_t; t++)
			rc |= timing(in, ws, time_n, t);
		bad = rc != 0;
		goto done;
	}
	if (SYM(run)(in, ref)) {
		fprintf(stderr, "parallel_harness: MODEL_run failed\n");
		return 1;
	}
	poison(got);
	bad |= SYM(run_parallel)(in, got, ws, NULL, NULL) != 0;
	bad |= !same(got, ref, "run_parallel(NULL)");
	for (int t = 1; t <= 4; t *= 2) {
		nncc_pool p;
		char what[64];
		nncc_pool_init(&p, t);
		for (int rep = 0; rep < 3; rep++) {
			poison(got);
			bad |= SYM(run_parallel)(in, got, ws, nncc_pool_for,
						 &p) != 0;
			snprintf(what, sizeof what, "a pool of %d threads", t);
			bad |= !same(got, ref, what);
		}
		if (t == 2)
			printf("parallel_for calls per run: %ld, tasks: %ld\n",
			       atomic_load(&p.calls) / 3,
			       atomic_load(&p.tasks) / 3);
		nncc_pool_fini(&p);
	}
	poison(got);
	bad |= SYM(run_parallel)(in, got, ws, reverse_for, &rcalls) != 0;
	bad |= !same(got, ref, "the reverse-order callback");
	for (int k = 0; k < nout; k++) {
		nnrt_array a = {out_dtype[k] == 16 ? NNRT_U16 : out_dtype[k],
				out_rank[k], {0}, ref[k], out_bytes(k)};
		memcpy(a.dim, out_shape[k], sizeof a.dim);
		if (nnrt_npy_write(paths[k], &a, err, sizeof err)) {
			fprintf(stderr, "parallel_harness: %s\n", err);
			return 2;
		}
	}
	printf("%s\n", bad ? "run_parallel: MISMATCH" : "run_parallel: equal");
done:
	for (int k = 0; k < nin; k++)
		nnrt_array_free(&arr[k]);
	free_outs(ref);
	free_outs(got);
	free(ws);
	return bad;
}
