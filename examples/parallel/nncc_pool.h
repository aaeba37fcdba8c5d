/* A small pthread pool that implements nncc_parallel_for, for
 * NAME_run_parallel: copy it into a program (or put this folder on the
 * include path) when the program has no thread pool of its own. The
 * generated object needs no threads; only the program that includes this
 * links -lpthread (part of libc on glibc 2.34 and later).
 *
 *   nncc_pool pool;
 *   nncc_pool_init(&pool, 4);            // the caller and 3 workers
 *   model_run_parallel(in, out, ws, nncc_pool_for, &pool);
 *   nncc_pool_fini(&pool);
 *
 * Tasks are handed out one index at a time from an atomic counter, so a
 * slow thread never holds up the others. One pool serves one caller
 * thread at a time. calls and tasks count what the pool ran (tests and
 * benchmarks read them). */
#ifndef NNCC_POOL_H
#define NNCC_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define NNCC_POOL_MAX_THREADS 64

typedef struct nncc_pool {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	pthread_t th[NNCC_POOL_MAX_THREADS];
	int nth;              /* worker threads (the caller works too) */
	void (*task)(void *, size_t);
	void *data;
	size_t n;
	atomic_size_t next;
	unsigned gen;
	int busy, quit;
	atomic_long calls, tasks;
} nncc_pool;

static inline void
nncc_pool_drain(nncc_pool *p)
{
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		p->task(p->data, i);
		atomic_fetch_add(&p->tasks, 1);
	}
}

static inline void *
nncc_pool_worker(void *arg)
{
	nncc_pool *p = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		nncc_pool_drain(p);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The nncc_parallel_for callback: ctx is the pool. */
static inline void
nncc_pool_for(void *ctx, void (*task)(void *data, size_t i), void *data,
	      size_t n)
{
	nncc_pool *p = ctx;

	atomic_fetch_add(&p->calls, 1);
	pthread_mutex_lock(&p->mu);
	p->task = task, p->data = data, p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->nth;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	nncc_pool_drain(p);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* threads counts the caller: 1 starts no worker. 0, or -1 if a worker
 * could not be started (the pool then runs with those that did). */
static inline int
nncc_pool_init(nncc_pool *p, int threads)
{
	int want = threads > 1 ? threads - 1 : 0;
	int ok = threads >= 1 && want <= NNCC_POOL_MAX_THREADS;

	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	if (want > NNCC_POOL_MAX_THREADS)
		want = NNCC_POOL_MAX_THREADS;
	while (p->nth < want &&
	       pthread_create(&p->th[p->nth], NULL, nncc_pool_worker, p) == 0)
		p->nth++;
	return ok && p->nth == want ? 0 : -1;
}

static inline void
nncc_pool_fini(nncc_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int k = 0; k < p->nth; k++)
		pthread_join(p->th[k], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
}

#endif
