/* The little every C unit test shares: pass/fail counting with CHECK, the
 * closing "N passed, N failed" line, and shorthands for building shapes.
 * Each test is its own executable, so the counters live here as statics. */
#ifndef NNCC_UNIT_H
#define NNCC_UNIT_H

#include <stdio.h>

#include "ir.h"

static int npass, nfail;

#define CHECK(c) check((c), #c, __LINE__)

static inline void
check(bool ok, const char *what, int line)
{
	if (ok) {
		npass++;
		return;
	}
	nfail++;
	fprintf(stderr, "FAIL: line %d: %s\n", line, what);
}

/* Prints the closing line; the exit status of main. */
static inline int
unit_report(void)
{
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}

static inline ir_shape
mkshape(const int64_t *d, int rank)
{
	ir_shape s = {.rank = rank};
	for (int i = 0; i < rank; i++)
		s.dim[i] = d[i];
	return s;
}

#define SH(...)                                                               \
	mkshape((const int64_t[]){__VA_ARGS__},                               \
		(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif
