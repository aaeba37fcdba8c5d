/* Times nncc's reference interpreter (ir_run) on a model, measured the same
 * way as the compiled object (bench_common.h). Built by bench/run.py with cc
 * against the build tree's static libraries; not part of the main build.
 * Run: ./bench_interp --model M.onnx [--runs N] [-o OUT.npy]... IN.npy... */
#include "bench_common.h"

#include "frontend.h"
#include "ir.h"

typedef struct ctx {
	ir_graph *g;
	const void *in[BENCH_MAX_IO];
	void *out[BENCH_MAX_IO];
	nn_diag *d;
} ctx;

static int
run_once(void *p)
{
	ctx *c = p;

	return !ir_run(c->g, c->in, c->out, c->d);
}

static size_t
value_bytes(const ir_value *v)
{
	size_t n = ir_dtype_size(v->dtype);
	int i;

	for (i = 0; i < v->shape.rank; i++)
		n *= (size_t)v->shape.dim[i];
	return n;
}

/* Writes graph output i to path; 1 on error. */
static int
write_output(const char *path, const ir_value *v, void *data)
{
	nnrt_array a;
	char err[256];
	int i;

	memset(&a, 0, sizeof a);
	a.dtype = (int)v->dtype;
	a.rank = v->shape.rank;
	for (i = 0; i < v->shape.rank; i++)
		a.dim[i] = v->shape.dim[i];
	a.data = data;
	a.nbytes = value_bytes(v);
	if (nnrt_npy_write(path, &a, err, sizeof err)) {
		fprintf(stderr, "bench_interp: error: %s\n", err);
		return 1;
	}
	return 0;
}

/* Checks the inputs against the graph; 1 with a message if they differ. */
static int
check_inputs(const ir_graph *g, const nnrt_array *in, int nin)
{
	int i;

	if (nin != g->ninputs || g->noutputs > BENCH_MAX_IO) {
		fprintf(stderr, "bench_interp: error: the model takes %d "
			"inputs, got %d\n", g->ninputs, nin);
		return 1;
	}
	for (i = 0; i < nin; i++)
		if (in[i].nbytes != value_bytes(g->inputs[i])) {
			fprintf(stderr, "bench_interp: error: input %d: %zu "
				"bytes, the model wants %zu\n", i, in[i].nbytes,
				value_bytes(g->inputs[i]));
			return 1;
		}
	return 0;
}

int
main(int argc, char **argv)
{
	nnrt_array in[BENCH_MAX_IO];
	fe_options fo = {0};
	bench_args a;
	nn_diag d;
	ctx c = {0};
	int i, rc;

	if ((rc = bench_parse(argc, argv, &a)))
		return rc;
	if (!a.model)
		return bench_usage(argv[0]);
	nn_diag_init(&d, "bench_interp", a.model);
	c.d = &d;
	if (!(c.g = fe_load_model(a.model, &fo, &d)))
		return 1;
	memset(in, 0, sizeof in);
	if (bench_read_inputs(&a, in) || check_inputs(c.g, in, a.nin))
		return 1;
	for (i = 0; i < a.nin; i++)
		c.in[i] = in[i].data;
	for (i = 0; i < c.g->noutputs; i++)
		c.out[i] = calloc(value_bytes(c.g->outputs[i]) + 1, 1);
	rc = bench_time(&a, run_once, &c);
	for (i = 0; !rc && i < a.nout && i < c.g->noutputs; i++)
		rc = write_output(a.out[i], c.g->outputs[i], c.out[i]);
	for (i = 0; i < c.g->noutputs; i++)
		free(c.out[i]);
	for (i = 0; i < a.nin; i++)
		nnrt_array_free(&in[i]);
	ir_graph_free(c.g);
	return rc;
}
