/* What the one-node kernel tests (ir_kernels_*_test.c) share: a graph
 * holding one node "k" whose outputs are the graph's, run through shape
 * inference and the interpreter, with the error text kept. */
#ifndef NNCC_UNIT_GRAPH_H
#define NNCC_UNIT_GRAPH_H

#include <stdio.h>
#include <string.h>

#include "unit.h"

/* One test graph; the error text of the last infer/run lands in err. */
typedef struct tg {
	ir_graph *g;
	ir_node *n;
	char err[512];
} tg;

/* The node "k" of op on in, its nout outputs all graph outputs. */
static inline ir_node *
node(tg *t, ir_op op, int nin, ir_value *const *in, int nout)
{
	t->n = ir_add_node(t->g, op, "k", nin, in, nout);
	for (int i = 0; i < nout; i++)
		ir_add_output(t->g, t->n->out[i]);
	return t->n;
}

/* Shape inference, then (if outputs) ir_run on inputs into outputs; a
 * failure without an error message is reported. */
static inline bool
run(tg *t, const void *const *inputs, void *const *outputs)
{
	bool ok = unit_infer_run(t->g, inputs, outputs, t->err,
				 sizeof t->err);
	if (!ok && !strstr(t->err, "error"))
		fprintf(stderr, "no error message: %s\n", t->err);
	return ok;
}

/* Expects shape inference to fail naming node k with what; frees g. */
static inline void
expect_error(tg *t, const char *what)
{
	CHECK(!run(t, NULL, NULL));
	CHECK(strstr(t->err, "node 'k'") && strstr(t->err, what));
	if (!strstr(t->err, what))
		fprintf(stderr, "  expected '%s', got: %s", what, t->err);
	ir_graph_free(t->g);
}

#endif
