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

/* Shape inference on g, then (if outputs) ir_run on inputs into outputs;
 * the diagnostics' text lands in err (errsize bytes). */
static inline bool
unit_infer_run(ir_graph *g, const void *const *inputs, void *const *outputs,
	       char *err, size_t errsize)
{
	nn_diag d;
	nn_diag_init(&d, "test", "t");
	d.out = tmpfile();
	bool ok = ir_infer_shapes(g, &d);
	if (ok && outputs)
		ok = ir_run(g, inputs, outputs, &d);
	rewind(d.out);
	size_t len = fread(err, 1, errsize - 1, d.out);
	err[len] = 0;
	fclose(d.out);
	return ok;
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
