/* Drives a compiled model through its generated API only: buffers
 * declared with the _CTYPE and _SIZE macros, the NAME_info() table
 * printed and checked against the macros, NAME_provenance, then one run
 * with a workspace of the table's size, the outputs written as .npy.
 * Build: cc -DMODEL=m '-DHEADER="m.h"' api_info.c m.o libnncc_rt.a -lm
 * Usage: api_info IN.npy -o OUT.npy (one input, one output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include HEADER
#include "nnrt.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define M(x) CAT(MODEL, x)

static M(_INPUT_0_CTYPE) in0[M(_INPUT_0_SIZE)];
static M(_OUTPUT_0_CTYPE) out0[M(_OUTPUT_0_SIZE)];

static int
check(const nncc_tensor_info *t, const char *name, int dtype, int rank,
      const int64_t *shape, size_t size)
{
	int bad = strcmp(t->name, name) || t->dtype != dtype ||
		  t->rank != rank || t->size != size;
	for (int k = 0; k < rank && !bad; k++)
		bad = t->shape[k] != shape[k];
	printf("  %s: dtype %d, rank %d, shape [", t->name, t->dtype, t->rank);
	for (int k = 0; k < t->rank; k++)
		printf("%s%lld", k ? ", " : "", (long long)t->shape[k]);
	printf("], %zu elements%s\n", t->size, bad ? " (DIFFERS from the "
					       "macros)" : "");
	return bad;
}

int
main(int argc, char **argv)
{
	const nncc_model_info *mi = M(_info)();
	const int64_t s_in[] = M(_INPUT_0_SHAPE), s_out[] = M(_OUTPUT_0_SHAPE);
	char err[256];
	nnrt_array a;
	int bad = 0;

	if (argc != 4 || strcmp(argv[2], "-o"))
		return 2;
	printf("api %d (header %d), model '%s'\n", mi->api_version,
	       NNCC_API_VERSION, mi->name);
	printf("provenance: %s\n", M(_provenance));
	printf("workspace %zu (macro %lld), alignment %d\n",
	       mi->workspace_size, (long long)M(_WORKSPACE_SIZE),
	       M(_ALIGNMENT));
	printf("%d inputs, %d outputs\n", mi->ninputs, mi->noutputs);
	bad |= mi->api_version != NNCC_API_VERSION ||
	       mi->workspace_size != M(_WORKSPACE_SIZE) ||
	       mi->ninputs != M(_NUM_INPUTS) || mi->noutputs != M(_NUM_OUTPUTS) ||
	       strcmp(M(_provenance), M(_PROVENANCE));
	bad |= check(&mi->inputs[0], M(_INPUT_0_NAME), M(_INPUT_0_DTYPE),
		     M(_INPUT_0_RANK), s_in, M(_INPUT_0_SIZE));
	bad |= check(&mi->outputs[0], M(_OUTPUT_0_NAME), M(_OUTPUT_0_DTYPE),
		     M(_OUTPUT_0_RANK), s_out, M(_OUTPUT_0_SIZE));
	if (nnrt_npy_read(argv[1], &a, err, sizeof err) ||
	    nnrt_array_numel(&a) != M(_INPUT_0_SIZE)) {
		fprintf(stderr, "bad input %s: %s\n", argv[1], err);
		return 1;
	}
	memcpy(in0, a.data, sizeof in0);
	void *ws = aligned_alloc(64, (mi->workspace_size + 63) / 64 * 64 + 64);
	const void *ins[1] = {in0};
	void *outs[1] = {out0};
	int st = M(_run_with_workspace)(ins, outs, ws);
	free(ws);
	if (st)
		return 1;
	free(a.data);
	a.data = out0;
	a.nbytes = sizeof out0;
	a.rank = mi->outputs[0].rank;
	for (int k = 0; k < a.rank; k++)
		a.dim[k] = mi->outputs[0].shape[k];
	if (nnrt_npy_write(argv[3], &a, err, sizeof err))
		return 1;
	printf("%s\n", bad ? "MISMATCH" : "table agrees with the macros");
	return bad;
}
