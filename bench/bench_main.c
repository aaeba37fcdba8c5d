/* Times a model compiled by nncc, using only the generated C API of
 * DESIGN.md (NAME_run and the header's macros). Build with
 *   cc -O2 -DNNCC_NAME=m -DNNCC_HEADER='"m.h"' bench_main.c m.o libnncc_rt.a -lm
 * Run: ./a.out [--runs N] [--seconds S] [-o OUT.npy]... IN.npy... */
#include "bench_common.h"

#ifndef NNCC_NAME
#error "define NNCC_NAME (the --name given to nncc)"
#endif
#include NNCC_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define SYM(s) CAT(NNCC_NAME, s)
#define STR2(s) #s
#define STR(s) STR2(s)

#define NIN SYM(_NUM_INPUTS)
#define NOUT SYM(_NUM_OUTPUTS)

#if NOUT > 4 || NIN > BENCH_MAX_IO
#error "bench_main handles at most 4 outputs and 8 inputs"
#endif

typedef struct out_desc {
	int dtype, rank;
	int64_t shape[8];
	size_t numel;
} out_desc;

#define OUT_DESC(i) { SYM(_OUTPUT_##i##_DTYPE), SYM(_OUTPUT_##i##_RANK), \
		      SYM(_OUTPUT_##i##_SHAPE), SYM(_OUTPUT_##i##_SIZE) }

static const out_desc outs[NOUT] = {
	OUT_DESC(0),
#if NOUT > 1
	OUT_DESC(1),
#endif
#if NOUT > 2
	OUT_DESC(2),
#endif
#if NOUT > 3
	OUT_DESC(3),
#endif
};

typedef struct ctx {
	const void *in[BENCH_MAX_IO];
	void *out[4];
} ctx;

static int
run_once(void *p)
{
	ctx *c = p;

	return SYM(_run)(c->in, c->out);
}

/* Writes output i to path as .npy; 1 on error. */
static int
write_output(const char *path, int i, void *data)
{
	nnrt_array a;
	char err[256];

	memset(&a, 0, sizeof a);
	a.dtype = outs[i].dtype;
	a.rank = outs[i].rank;
	memcpy(a.dim, outs[i].shape, sizeof a.dim);
	a.data = data;
	a.nbytes = outs[i].numel * nnrt_dtype_size(a.dtype);
	if (nnrt_npy_write(path, &a, err, sizeof err)) {
		fprintf(stderr, "bench_main: error: %s\n", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	nnrt_array in[BENCH_MAX_IO];
	bench_args a;
	ctx c;
	int i, rc;

	if ((rc = bench_parse(argc, argv, &a)))
		return rc;
	if (a.nin != NIN) {
		fprintf(stderr, "bench_main: error: the model takes %d inputs, "
			"got %d\n", NIN, a.nin);
		return 2;
	}
	memset(in, 0, sizeof in);
	if (bench_read_inputs(&a, in))
		return 1;
	for (i = 0; i < NIN; i++)
		c.in[i] = in[i].data;
	for (i = 0; i < NOUT; i++) {
		size_t bytes = outs[i].numel * nnrt_dtype_size(outs[i].dtype);

		c.out[i] = calloc(bytes ? bytes : 1, 1);
	}
	rc = bench_time(&a, run_once, &c);
	if (rc)
		fprintf(stderr, "bench_main: error: %s_run failed\n",
			STR(NNCC_NAME));
	for (i = 0; !rc && i < a.nout && i < NOUT; i++)
		rc = write_output(a.out[i], i, c.out[i]);
	for (i = 0; i < NOUT; i++)
		free(c.out[i]);
	for (i = 0; i < NIN; i++)
		nnrt_array_free(&in[i]);
	return rc;
}
