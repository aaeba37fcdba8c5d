/* The measured column of --print-stats: the model is built a second time
 * with a cycle counter read around every node call, compiled in process
 * (MCJIT) and run on seeded random inputs; a layer's time is what its
 * counter accumulated per run. The object written is never instrumented. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/Target.h>

#include "cg_internal.h"

#define PROF_SECONDS 0.3 /* of timed runs, after one warm-up run */
#define PROF_MAX_RUNS 10000

static LLVMValueRef
tick_fn(cg_ctx *c)
{
	LLVMValueRef fn = LLVMGetNamedFunction(c->mod, "llvm.readcyclecounter");

	if (!fn)
		fn = LLVMAddFunction(c->mod, "llvm.readcyclecounter",
				     LLVMFunctionType(c->i64, NULL, 0, 0));
	return fn;
}

LLVMValueRef
cg_profile_tick(cg_ctx *c)
{
	return LLVMBuildCall2(c->b, LLVMFunctionType(c->i64, NULL, 0, 0),
			      tick_fn(c), NULL, 0, "");
}

/* The counters (<name>_prof, i64 per node) and <name>_prof_ticks(),
 * which reads the counter for the caller's calibration. */
void
cg_profile_begin(cg_ctx *c, int nnodes)
{
	LLVMTypeRef at = LLVMArrayType(c->i64, (unsigned)(nnodes + 1));
	LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
	char name[256];
	LLVMValueRef fn;

	snprintf(name, sizeof name, "%s_prof", c->name);
	c->prof = LLVMAddGlobal(c->mod, at, name);
	LLVMSetInitializer(c->prof, LLVMConstNull(at));
	snprintf(name, sizeof name, "%s_prof_ticks", c->name);
	fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->i64, NULL, 0,
							    0));
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx,
		fn, "entry"));
	LLVMBuildRet(c->b, cg_profile_tick(c));
	LLVMPositionBuilderAtEnd(c->b, here);
}

void
cg_profile_add(cg_ctx *c, int node, LLVMValueRef t0)
{
	LLVMValueRef idx[2] = {LLVMConstInt(c->i64, 0, 0),
			       LLVMConstInt(c->i64, (unsigned)node, 0)};
	LLVMValueRef p = LLVMBuildGEP2(c->b, LLVMGetElementType(
		LLVMTypeOf(c->prof)), c->prof, idx, 2, "");
	LLVMValueRef dt = LLVMBuildSub(c->b, cg_profile_tick(c), t0, "");

	LLVMBuildStore(c->b, LLVMBuildAdd(c->b, LLVMBuildLoad2(c->b, c->i64,
		p, ""), dt, ""), p);
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seeded inputs: floats uniform in [-1, 1), other types zero (valid
 * indices and shapes for the ops that read them). */
static void **
make_buffers(ir_value **vals, int n, bool fill)
{
	void **b = nn_xcalloc((size_t)n + 1, sizeof *b);
	uint32_t s = 12345;

	for (int i = 0; i < n; i++) {
		int64_t k = ir_shape_numel(&vals[i]->shape);
		b[i] = nn_xcalloc((size_t)(k ? k : 1),
				  ir_dtype_size(vals[i]->dtype));
		for (int64_t j = 0; fill && vals[i]->dtype == IR_F32 && j < k;
		     j++) {
			s = s * 1664525u + 1013904223u;
			((float *)b[i])[j] = (float)(s >> 8) / 8388608.0f - 1;
		}
	}
	return b;
}

static void
free_buffers(void **b, int n)
{
	for (int i = 0; i < n; i++)
		free(b[i]);
	free(b);
}

typedef int (*run_fn)(void **, void **);
typedef int64_t (*ticks_fn)(void);

/* Runs the instrumented model; ns[node] = time per run. */
static void
time_runs(ir_graph *g, run_fn run, ticks_fn ticks, int64_t *prof, int nn,
	  double *ns)
{
	void **in = make_buffers(g->inputs, g->ninputs, true);
	void **out = make_buffers(g->outputs, g->noutputs, false);
	double t0, t1;
	int64_t k0, k1;
	int runs = 0;

	run(in, out);
	memset(prof, 0, sizeof *prof * (size_t)nn);
	t0 = now();
	k0 = ticks();
	do {
		run(in, out);
		runs++;
	} while (now() - t0 < PROF_SECONDS && runs < PROF_MAX_RUNS);
	k1 = ticks();
	t1 = now();
	for (int i = 0; i < nn; i++)
		ns[i] = k1 > k0 ? (double)prof[i] / runs * (t1 - t0) * 1e9 /
				  (double)(k1 - k0) : 0;
	free_buffers(in, g->ninputs);
	free_buffers(out, g->noutputs);
}

static uintptr_t
address(LLVMExecutionEngineRef ee, const char *prefix, const char *what,
	bool fn)
{
	char name[256];

	snprintf(name, sizeof name, "%s_%s", prefix, what);
	return (uintptr_t)(fn ? LLVMGetFunctionAddress(ee, name)
			      : LLVMGetGlobalValueAddress(ee, name));
}

/* ns[i]: time per run of node i (in graph order). False when the model
 * cannot be run here (another target, JIT failure): nothing is measured. */
static bool
profile(ir_graph *g, const cg_options *o, double *ns, int nn, nn_diag *d)
{
	struct LLVMMCJITCompilerOptions jo;
	LLVMExecutionEngineRef ee;
	char *err = NULL;
	cg_options quiet = *o; /* the choices were printed already */
	cg_ctx c;
	run_fn run;
	ticks_fn ticks;
	int64_t *prof;

	quiet.print_stats = false;
	if (o->triple || o->cpu || !cg_build(&c, g, &quiet, true, d))
		return false;
	if (!cg_prepare(&c, &quiet)) {
		LLVMDisposeModule(c.mod);
		cg_ctx_dispose(&c);
		return false;
	}
	LLVMLinkInMCJIT();
	LLVMInitializeMCJITCompilerOptions(&jo, sizeof jo);
	jo.OptLevel = 3;
	if (LLVMCreateMCJITCompilerForModule(&ee, c.mod, &jo, sizeof jo,
					     &err)) {
		nn_note(d, "cannot measure the kernels: %s", err);
		LLVMDisposeMessage(err);
		LLVMDisposeModule(c.mod);
		cg_ctx_dispose(&c);
		return false;
	}
	run = (run_fn)address(ee, o->name, "run", true);
	ticks = (ticks_fn)address(ee, o->name, "prof_ticks", true);
	prof = (int64_t *)address(ee, o->name, "prof", false);
	if (run && ticks && prof)
		time_runs(g, run, ticks, prof, nn, ns);
	LLVMDisposeExecutionEngine(ee); /* and the module */
	cg_ctx_dispose(&c);
	return run && ticks && prof;
}

void
cg_print_measured(ir_graph *g, const cg_options *o, nn_diag *d)
{
	int nn = 0, i = 0;
	double *ns, total = 0, layers = 0;

	for (ir_node *n = g->first; n; n = n->next)
		nn++;
	ns = nn_xcalloc((size_t)nn + 1, sizeof *ns);
	if (!profile(g, o, ns, nn, d)) {
		fprintf(stderr, "nncc: measured: not on this target (only "
			"the host's code runs at compile time)\n");
		free(ns);
		return;
	}
	for (ir_node *n = g->first; n; n = n->next, i++) {
		char kinds[64] = "";
		double pred = 0;
		total += ns[i];
		/* one node: its weights' kernels ("table/dense": W, R) */
		for (int slot = 1; slot < n->nin; slot++) {
			cg_kernel_choice ch;
			if (cg_sparse_choose(n, slot, o, &ch) == CG_KERNEL_NONE)
				continue;
			snprintf(kinds + strlen(kinds), sizeof kinds -
				 strlen(kinds), "%s%s", *kinds ? "/" : "",
				 cg_kernel_name(ch.kind));
			pred += ch.ns[ch.kind];
		}
		if (!*kinds)
			continue;
		layers += ns[i];
		fprintf(stderr, "nncc: measured %-20s %-14s %-8s %9.2f us",
			n->name ? n->name : ir_value_label(n->out[0]),
			ir_ops[n->op].name, kinds, ns[i] / 1e3);
		if (pred > 0)
			fprintf(stderr, " (predicted %.2f us)", pred / 1e3);
		fputc('\n', stderr);
	}
	fprintf(stderr, "nncc: measured run %.2f us, of which weight layers "
		"%.2f us (seeded random inputs, one thread)\n", total / 1e3,
		layers / 1e3);
	free(ns);
}
