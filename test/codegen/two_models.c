/* Two compiled models (names a and b, one input each, output 0 written,
 * any further outputs computed into a scratch buffer) linked into one
 * program: proves every symbol carries its model's prefix.
 * Usage: two_models A_IN.npy B_IN.npy A_OUT.npy B_OUT.npy */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a.h"
#include "b.h"
#include "nnrt.h"

/* Room for the outputs after the first: as many bytes as the largest
 * model output here could need (the test models are small). */
#define MAX_OUTPUTS 8
#define EXTRA_BYTES (1 << 20)

static int
one(int (*run)(const void *const *, void *const *), const char *in,
    const char *out, int dtype, int rank, const int64_t *shape, size_t n,
    int nout)
{
	nnrt_array x, y = {dtype, rank, {0}, NULL, 0};
	char err[256];
	const void *ins[1];
	void *outs[MAX_OUTPUTS];
	static char extra[MAX_OUTPUTS][EXTRA_BYTES];

	if (nout > MAX_OUTPUTS)
		return 1;
	for (int k = 1; k < nout; k++)
		outs[k] = extra[k];

	if (nnrt_npy_read(in, &x, err, sizeof err)) {
		fprintf(stderr, "two_models: %s\n", err);
		return 1;
	}
	y.nbytes = n * nnrt_dtype_size(dtype);
	y.data = calloc(1, y.nbytes + 1);
	memcpy(y.dim, shape, sizeof(int64_t) * (size_t)rank);
	ins[0] = x.data;
	outs[0] = y.data;
	if (run(ins, outs) || nnrt_npy_write(out, &y, err, sizeof err))
		return 1;
	nnrt_array_free(&x);
	nnrt_array_free(&y);
	return 0;
}

int
main(int argc, char **argv)
{
	static const int64_t as[] = a_OUTPUT_0_SHAPE, bs[] = b_OUTPUT_0_SHAPE;

	if (argc != 5)
		return 2;
	return one(a_run, argv[1], argv[3], a_OUTPUT_0_DTYPE, a_OUTPUT_0_RANK,
		   as, a_OUTPUT_0_SIZE, a_NUM_OUTPUTS) ||
	       one(b_run, argv[2], argv[4], b_OUTPUT_0_DTYPE, b_OUTPUT_0_RANK,
		   bs, b_OUTPUT_0_SIZE, b_NUM_OUTPUTS);
}
