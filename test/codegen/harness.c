/* Test harness for a compiled model, written only from the generated API:
 * reads .npy inputs, calls MODEL_run (or MODEL_run_with_workspace), writes
 * .npy outputs. Build with -DMODEL=name -DHEADER='"name.h"'.
 *   harness [--ws | --threads] [--time N] IN.npy... -o OUT.npy...
 * --ws: a caller-supplied workspace; --threads: two threads at once, each
 * with its own workspace, and their outputs must agree bit for bit;
 * --time N: also N timed runs, printing milliseconds per run. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

#define PASTE3(a, b, c) a##b##c
#define XPASTE3(a, b, c) PASTE3(a, b, c)
#define SYM(x) XPASTE3(MODEL, _, x)

#include HEADER

typedef struct port {
	int dtype, rank;
	int64_t shape[8];
	size_t size;
} port;

#define PORT(k) {SYM(OUTPUT_##k##_DTYPE), SYM(OUTPUT_##k##_RANK), \
		 SYM(OUTPUT_##k##_SHAPE), SYM(OUTPUT_##k##_SIZE)}
#define IPORT(k) {SYM(INPUT_##k##_DTYPE), SYM(INPUT_##k##_RANK), \
		  SYM(INPUT_##k##_SHAPE), SYM(INPUT_##k##_SIZE)}

static const port outs[] = {
#if SYM(NUM_OUTPUTS) > 0
	PORT(0),
#endif
#if SYM(NUM_OUTPUTS) > 1
	PORT(1),
#endif
#if SYM(NUM_OUTPUTS) > 2
	PORT(2),
#endif
#if SYM(NUM_OUTPUTS) > 3
	PORT(3),
#endif
#if SYM(NUM_OUTPUTS) > 4
#error "harness: more than 4 outputs"
#endif
	{0, 0, {0}, 0}
};

static const port ins[] = {
#if SYM(NUM_INPUTS) > 0
	IPORT(0),
#endif
#if SYM(NUM_INPUTS) > 1
	IPORT(1),
#endif
#if SYM(NUM_INPUTS) > 2
	IPORT(2),
#endif
#if SYM(NUM_INPUTS) > 3
	IPORT(3),
#endif
#if SYM(NUM_INPUTS) > 4
	IPORT(4),
#endif
#if SYM(NUM_INPUTS) > 5
	IPORT(5),
#endif
#if SYM(NUM_INPUTS) > 6
	IPORT(6),
#endif
#if SYM(NUM_INPUTS) > 7
	IPORT(7),
#endif
#if SYM(NUM_INPUTS) > 8
#error "harness: more than 8 inputs"
#endif
	{0, 0, {0}, 0}
};

#define NIN SYM(NUM_INPUTS)
#define NOUT SYM(NUM_OUTPUTS)

typedef struct job {
	const void *in[NIN + 1];
	void *out[NOUT + 1];
	void *ws;
	int rc;
} job;

/* bfloat16 (ONNX type 16) travels as uint16 .npy bit patterns. */
static int
wire(int dtype)
{
	return dtype == 16 ? NNRT_U16 : dtype;
}

static void *
run_job(void *p)
{
	job *j = p;

	for (int k = 0; k < 20; k++)
		j->rc |= SYM(run_with_workspace)(j->in, j->out, j->ws);
	return NULL;
}

static void
alloc_outs(job *j)
{
	for (int k = 0; k < NOUT; k++)
		j->out[k] = calloc(outs[k].size + 1,
				   nnrt_dtype_size(wire(outs[k].dtype)));
	j->ws = malloc(SYM(workspace_size)() + 64);
}

static int
write_outs(job *j, char **paths)
{
	char err[256];

	for (int k = 0; k < NOUT; k++) {
		nnrt_array a = {wire(outs[k].dtype), outs[k].rank, {0}, j->out[k],
				outs[k].size * nnrt_dtype_size(wire(outs[k].dtype))};
		memcpy(a.dim, outs[k].shape, sizeof a.dim);
		if (nnrt_npy_write(paths[k], &a, err, sizeof err)) {
			fprintf(stderr, "harness: %s\n", err);
			return 1;
		}
	}
	return 0;
}

static void
free_outs(job *j)
{
	for (int k = 0; k < NOUT; k++)
		free(j->out[k]);
	free(j->ws);
}

static int
threads(job *j)
{
	job j2 = *j;
	pthread_t t1, t2;
	int rc;

	alloc_outs(&j2);
	pthread_create(&t1, NULL, run_job, j);
	pthread_create(&t2, NULL, run_job, &j2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	rc = j->rc | j2.rc;
	for (int k = 0; k < NOUT; k++)
		if (memcmp(j->out[k], j2.out[k], outs[k].size *
			   nnrt_dtype_size(wire(outs[k].dtype)))) {
			fprintf(stderr, "harness: threads disagree on output "
				"%d\n", k);
			rc = 1;
			break;
		}
	free_outs(&j2);
	return rc;
}

int
main(int argc, char **argv)
{
	nnrt_array arr[NIN + 1];
	char *opaths[NOUT + 1], err[256];
	int ni = 0, no = 0, mode = 0, reps = 0;
	job j = {{0}, {0}, NULL, 0};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ws"))
			mode = 1;
		else if (!strcmp(argv[i], "--threads"))
			mode = 2;
		else if (!strcmp(argv[i], "--time") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-o") && i + 1 < argc && no < NOUT)
			opaths[no++] = argv[++i];
		else if (ni < NIN) {
			if (nnrt_npy_read(argv[i], &arr[ni], err, sizeof err)) {
				fprintf(stderr, "harness: %s\n", err);
				return 1;
			}
			if ((size_t)nnrt_array_numel(&arr[ni]) != ins[ni].size ||
			    arr[ni].dtype != wire(ins[ni].dtype)) {
				fprintf(stderr, "harness: input %d: wrong size "
					"or type\n", ni);
				return 1;
			}
			j.in[ni] = arr[ni].data;
			ni++;
		}
	}
	if (ni != NIN || no != NOUT) {
		fprintf(stderr, "harness: need %d inputs and %d outputs\n", NIN,
			NOUT);
		return 1;
	}
	alloc_outs(&j);
	if (mode == 2)
		j.rc = threads(&j);
	else if (mode == 1)
		j.rc = SYM(run_with_workspace)(j.in, j.out, j.ws);
	else
		j.rc = SYM(run)(j.in, j.out);
	if (reps > 0) {
		double t0 = nnrt_now_ns();
		for (int r = 0; r < reps; r++)
			j.rc |= SYM(run)(j.in, j.out);
		printf("%.3f ms per run\n", (nnrt_now_ns() - t0) / 1e6 / reps);
	}
	int rc = j.rc ? 1 : write_outs(&j, opaths);
	if (j.rc)
		fprintf(stderr, "harness: run returned %d\n", j.rc);
	free_outs(&j);
	for (int k = 0; k < ni; k++)
		nnrt_array_free(&arr[k]);
	return rc;
}
