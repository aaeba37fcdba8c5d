/* NAME_run_parallel timing: MODEL_run, then MODEL_run_parallel with a pool
 * of 1..T pthreads (the caller counted), in interleaved rounds so that
 * load from other processes hits every configuration alike; prints one
 * JSON line per configuration: the median over rounds of each round's
 * mean milliseconds per run. Uses only the generated API.
 *   bench_parallel --runs N --rounds R --threads T IN.npy... */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef struct pool {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	pthread_t th[MAXT];
	int nth, busy, quit;
	unsigned gen;
	void (*task)(void *, size_t);
	void *data;
	size_t n;
	atomic_size_t next;
} pool;

static void
drain(pool *p)
{
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->task(p->data, i);
}

static void *
worker(void *arg)
{
	pool *p = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		drain(p);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pool_for(void *ctx, void (*task)(void *, size_t), void *data, size_t n)
{
	pool *p = ctx;

	pthread_mutex_lock(&p->mu);
	p->task = task, p->data = data, p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->nth;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	drain(p);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void
pool_init(pool *p, int threads)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->nth = threads - 1;
	for (int k = 0; k < p->nth; k++)
		pthread_create(&p->th[k], NULL, worker, p);
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
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
	static pool pools[MAXT + 1];
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
		pool_init(&pools[t], t);
	rc |= SYM(run)(in, out); /* warm-up */
	for (int r = 0; r < rounds; r++)
		for (int t = 0; t <= threads; t++) {
			double t0 = now_ms();
			for (int i = 0; i < runs; i++)
				rc |= t ? SYM(run_parallel)(in, out, ws,
					pool_for, &pools[t]) : SYM(run)(in, out);
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
