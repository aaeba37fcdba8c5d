/* Drives any compiled model through NAME_info()'s table alone: no
 * per-model macro is read, only the two functions the model exports
 * (NAME_info, NAME_run_with_workspace). Every input is read from a .npy
 * file and checked against the table's dtype and shape, every output
 * and the workspace are allocated from the table, and the outputs are
 * written as .npy in the table's order.
 * Build: cc -DMODEL=m '-DHEADER="m.h"' api_generic.c m.o libnncc_rt.a -lm
 * Usage: api_generic IN.npy... -o OUT.npy... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include HEADER
#include "nnrt.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define M(x) CAT(MODEL, x)

enum { MAX_PORTS = 16 };

/* Whether a holds exactly what t describes. */
static int
matches(const nnrt_array *a, const nncc_tensor_info *t)
{
	if (a->dtype != t->dtype || a->rank != t->rank)
		return 0;
	for (int k = 0; k < t->rank; k++)
		if (a->dim[k] != t->shape[k])
			return 0;
	return nnrt_array_numel(a) == (int64_t)t->size;
}

int
main(int argc, char **argv)
{
	const nncc_model_info *mi = M(_info)();
	nnrt_array in[MAX_PORTS], out[MAX_PORTS];
	const void *ins[MAX_PORTS];
	void *outs[MAX_PORTS];
	char err[256];
	int nin = 0, i = 1, rc = 1;

	if (mi->ninputs > MAX_PORTS || mi->noutputs > MAX_PORTS)
		return 2;
	for (; i < argc && strcmp(argv[i], "-o"); i++, nin++) {
		if (nin == mi->ninputs) {
			fprintf(stderr, "more inputs than the model's %d\n",
				mi->ninputs);
			return 2;
		}
		if (nnrt_npy_read(argv[i], &in[nin], err, sizeof err)) {
			fprintf(stderr, "%s: %s\n", argv[i], err);
			return 1;
		}
		if (!matches(&in[nin], &mi->inputs[nin])) {
			fprintf(stderr, "%s: not the %s[%d] input '%s'\n",
				argv[i], nnrt_dtype_name(mi->inputs[nin].dtype),
				mi->inputs[nin].rank, mi->inputs[nin].name);
			return 1;
		}
		ins[nin] = in[nin].data;
	}
	if (nin != mi->ninputs || argc - i - 1 != mi->noutputs) {
		fprintf(stderr, "model '%s' takes %d inputs and %d outputs\n",
			mi->name, mi->ninputs, mi->noutputs);
		return 2;
	}
	for (int k = 0; k < mi->noutputs; k++) {
		const nncc_tensor_info *t = &mi->outputs[k];
		size_t bytes = t->size * nnrt_dtype_size(t->dtype);
		memset(&out[k], 0, sizeof out[k]);
		out[k].dtype = t->dtype;
		out[k].rank = t->rank;
		for (int d = 0; d < t->rank; d++)
			out[k].dim[d] = t->shape[d];
		out[k].nbytes = bytes;
		out[k].data = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
		outs[k] = out[k].data;
		printf("output %d '%s': %s, %zu elements\n", k, t->name,
		       nnrt_dtype_name(t->dtype), t->size);
	}
	void *ws = aligned_alloc(64, (mi->workspace_size + 63) / 64 * 64 + 64);
	int st = M(_run_with_workspace)(ins, outs, ws);
	free(ws);
	if (st)
		fprintf(stderr, "run: status %d\n", st);
	else
		rc = 0;
	for (int k = 0; k < mi->noutputs; k++) {
		if (!rc && nnrt_npy_write(argv[i + 1 + k], &out[k], err,
					  sizeof err)) {
			fprintf(stderr, "%s: %s\n", argv[i + 1 + k], err);
			rc = 1;
		}
		free(out[k].data);
	}
	for (int k = 0; k < nin; k++)
		nnrt_array_free(&in[k]);
	return rc;
}
