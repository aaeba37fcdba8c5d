/* The digits demo application: links one model compiled by nncc (as
 * `--name digits -H digits.h`), classifies every sample of the test split
 * one at a time (batch 1), and prints accuracy and latency.
 *
 *   app X.npy Y.npy        X: N samples along dim 0; Y: N int64 labels
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"
#include "nnrt.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int
load(const char *path, nnrt_array *a)
{
	char err[256];
	if (nnrt_npy_read(path, a, err, sizeof err) == 0)
		return 0;
	fprintf(stderr, "app: %s: %s\n", path, err);
	return -1;
}

int
main(int argc, char **argv)
{
	static const int64_t in_shape[] = digits_INPUT_0_SHAPE;
	nnrt_array x, y;
	if (argc != 3) {
		fprintf(stderr, "usage: app X.npy Y.npy\n");
		return 2;
	}
	if (load(argv[1], &x) || load(argv[2], &y))
		return 1;
	int64_t n = x.rank > 0 ? x.dim[0] : 0;
	if (x.dtype != NNRT_F32 || in_shape[0] != 1 || y.dtype != NNRT_I64 ||
	    nnrt_array_numel(&y) != n ||
	    nnrt_array_numel(&x) != n * digits_INPUT_0_SIZE) {
		fprintf(stderr, "app: %s does not hold %lld-element f32 "
			"samples matching %s\n", argv[1],
			(long long)digits_INPUT_0_SIZE, argv[2]);
		return 1;
	}
	float logits[digits_OUTPUT_0_SIZE];
	double *ns = malloc((size_t)n * sizeof *ns);
	int64_t correct = 0;
	for (int64_t i = 0; i < n; i++) {
		const float *sample = (const float *)x.data +
				      i * digits_INPUT_0_SIZE;
		const void *in[] = {sample};
		void *out[] = {logits};
		double t0 = nnrt_now_ns();
		if (digits_run(in, out) != 0) {
			fprintf(stderr, "app: digits_run failed\n");
			return 1;
		}
		ns[i] = nnrt_now_ns() - t0;
		int best = 0;
		for (int k = 1; k < digits_OUTPUT_0_SIZE; k++)
			if (logits[k] > logits[best])
				best = k;
		correct += best == ((const int64_t *)y.data)[i];
	}
	qsort(ns, (size_t)n, sizeof *ns, cmp_double);
	printf("accuracy %.4f (%lld/%lld)  median latency %.2f us\n",
	       (double)correct / (double)n, (long long)correct, (long long)n,
	       ns[n / 2] / 1e3);
	free(ns);
	nnrt_array_free(&x);
	nnrt_array_free(&y);
	return 0;
}
