/* Fuzz target: IR text -> ir_parse -> ir_verify; a graph that verifies is
 * printed and, when small, run by the interpreter on all-zero inputs. */
#include <stdlib.h>

#include "fuzz.h"
#include "ir.h"

/* Bytes of every value a run could touch; large graphs are skipped so
 * each input stays fast (size limits are the parser's job, tested by
 * verification alone). */
#define RUN_MAX_BYTES (1 << 22)

static size_t
value_bytes(const ir_value *v)
{
	int64_t n = ir_shape_numel(&v->shape);
	return n < 0 ? (size_t)-1 : (size_t)n * ir_dtype_size(v->dtype);
}

static bool
small(const ir_graph *g)
{
	size_t total = 0;
	for (int i = 0; i < g->ninputs; i++)
		total += value_bytes(g->inputs[i]);
	for (const ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nout; i++)
			if (n->out[i])
				total += value_bytes(n->out[i]);
	return g->nnodes <= 64 && total <= RUN_MAX_BYTES;
}

static void
run_zero(ir_graph *g, nn_diag *d)
{
	void **in = calloc((size_t)g->ninputs + 1, sizeof *in);
	void **out = calloc((size_t)g->noutputs + 1, sizeof *out);
	for (int i = 0; i < g->ninputs; i++)
		in[i] = calloc(value_bytes(g->inputs[i]) + 1, 1);
	for (int i = 0; i < g->noutputs; i++)
		out[i] = calloc(value_bytes(g->outputs[i]) + 1, 1);
	ir_run(g, (const void *const *)in, out, d);
	for (int i = 0; i < g->ninputs; i++)
		free(in[i]);
	for (int i = 0; i < g->noutputs; i++)
		free(out[i]);
	free(in);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nn_diag d;
	nn_diag_init(&d, "fuzz-ir", "fuzz.nnir");
	d.out = fuzz_sink();
	ir_graph *g = ir_parse((const char *)data, size, &d);
	if (!g)
		return 0;
	if (ir_verify(g, &d)) {
		ir_print(fuzz_sink(), g, &(ir_print_opts){0});
		if (small(g))
			run_zero(g, &d);
	}
	ir_graph_free(g);
	return 0;
}
