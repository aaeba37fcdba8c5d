/* Unit test of the runtime's .npy reader and writer. Without arguments it
 * round-trips arrays of every dtype; `npy_test IN OUT` copies IN to OUT
 * through read+write, and `npy_test IN` prints dtype and shape (for lit
 * tests that compare against numpy-written files). */
#include "nnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int npass, nfail;

static void
check(int ok, const char *what)
{
	if (ok) {
		npass++;
		return;
	}
	nfail++;
	fprintf(stderr, "FAIL: %s\n", what);
}

static void
roundtrip(int dtype, int rank, const char *path)
{
	nnrt_array a = { 0 }, b;
	char err[256], what[64];
	size_t i;
	int k;

	a.dtype = dtype;
	a.rank = rank;
	for (k = 0; k < rank; k++)
		a.dim[k] = k + 2;
	a.nbytes = (size_t)nnrt_array_numel(&a) * nnrt_dtype_size(dtype);
	a.data = malloc(a.nbytes);
	for (i = 0; i < a.nbytes; i++)
		((unsigned char *)a.data)[i] = (unsigned char)(i * 7 + 1);
	snprintf(what, sizeof what, "roundtrip %s rank %d",
		 nnrt_dtype_name(dtype), rank);
	check(nnrt_npy_write(path, &a, err, sizeof err) == 0, what);
	check(nnrt_npy_read(path, &b, err, sizeof err) == 0, what);
	check(b.dtype == a.dtype && b.rank == a.rank &&
	      b.nbytes == a.nbytes &&
	      memcmp(b.dim, a.dim, sizeof(int64_t) * (size_t)rank) == 0 &&
	      memcmp(a.data, b.data, a.nbytes) == 0, what);
	nnrt_array_free(&a);
	nnrt_array_free(&b);
}

static int
copy(const char *in, const char *out)
{
	nnrt_array a;
	char err[256];
	int k;

	if (nnrt_npy_read(in, &a, err, sizeof err)) {
		fprintf(stderr, "npy_test: error: %s: %s\n", in, err);
		return 1;
	}
	printf("%s [", nnrt_dtype_name(a.dtype));
	for (k = 0; k < a.rank; k++)
		printf("%s%lld", k ? "," : "", (long long)a.dim[k]);
	printf("]\n");
	if (out && nnrt_npy_write(out, &a, err, sizeof err)) {
		fprintf(stderr, "npy_test: error: %s: %s\n", out, err);
		return 1;
	}
	nnrt_array_free(&a);
	return 0;
}

int
main(int argc, char **argv)
{
	static const int types[] = { 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13 };
	nnrt_array a;
	char err[256];
	size_t t;
	int r;

	if (argc >= 2)
		return copy(argv[1], argc >= 3 ? argv[2] : NULL);
	for (t = 0; t < sizeof types / sizeof types[0]; t++)
		for (r = 0; r <= 4; r++)
			roundtrip(types[t], r, "npy_test.tmp.npy");
	check(nnrt_npy_read("/nonexistent.npy", &a, err, sizeof err) == -1 &&
	      strstr(err, "cannot open") != NULL, "missing file");
	check(nnrt_now_ns() > 0, "clock");
	remove("npy_test.tmp.npy");
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}
