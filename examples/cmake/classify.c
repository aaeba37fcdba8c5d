/* The CMake example's program: runs the model that nncc_add_model
 * compiled (NAME digits) on every sample of X.npy, one at a time, writes
 * the logits of all of them to OUT.npy and prints the top-1 accuracy
 * against Y.npy in nncc-run --labels's words, so that the two compare.
 *
 *   classify X.npy Y.npy OUT.npy
 */
#include <stdio.h>
#include <stdlib.h>

#include "digits.h"
#include "nnrt.h"

static int
load(const char *path, nnrt_array *a)
{
	char err[256];

	if (nnrt_npy_read(path, a, err, sizeof err) == 0)
		return 0;
	fprintf(stderr, "classify: %s: %s\n", path, err);
	return -1;
}

int
main(int argc, char **argv)
{
	nnrt_array x, y, out = {0};
	int64_t n, correct = 0;
	char err[256];

	if (argc != 4) {
		fprintf(stderr, "usage: classify X.npy Y.npy OUT.npy\n");
		return 2;
	}
	if (load(argv[1], &x) || load(argv[2], &y))
		return 1;
	n = x.rank > 0 ? x.dim[0] : 0;
	if (x.dtype != NNRT_F32 || y.dtype != NNRT_I64 ||
	    nnrt_array_numel(&y) != n ||
	    nnrt_array_numel(&x) != n * digits_INPUT_0_SIZE) {
		fprintf(stderr, "classify: %s does not hold %lld-element f32 "
			"samples labelled by %s\n", argv[1],
			(long long)digits_INPUT_0_SIZE, argv[2]);
		return 1;
	}
	out.dtype = NNRT_F32;
	out.rank = 2;
	out.dim[0] = n;
	out.dim[1] = digits_OUTPUT_0_SIZE;
	out.nbytes = (size_t)(n * digits_OUTPUT_0_SIZE) * sizeof(float);
	out.data = malloc(out.nbytes + 1);
	if (!out.data)
		return 1;
	for (int64_t i = 0; i < n; i++) {
		float *logits = (float *)out.data + i * digits_OUTPUT_0_SIZE;
		const void *in[] = {(const float *)x.data +
				    i * digits_INPUT_0_SIZE};
		void *res[] = {logits};
		int best = 0, rc = digits_run(in, res);

		if (rc != 0) {
			fprintf(stderr, "classify: sample %lld: digits_run "
				"returned %d\n", (long long)i, rc);
			return 1;
		}
		for (int k = 1; k < digits_OUTPUT_0_SIZE; k++)
			if (logits[k] > logits[best])
				best = k;
		correct += best == ((const int64_t *)y.data)[i];
	}
	if (nnrt_npy_write(argv[3], &out, err, sizeof err) != 0) {
		fprintf(stderr, "classify: %s: %s\n", argv[3], err);
		return 1;
	}
	printf("accuracy: %.4f (%lld/%lld)\n", n ? (double)correct / n : 0.0,
	       (long long)correct, (long long)n);
	nnrt_array_free(&x);
	nnrt_array_free(&y);
	free(out.data);
	return 0;
}
