/* The exported functions of a model: NAME_run_with_workspace and
 * NAME_run_parallel calling the node functions in order (through part
 * functions on long graphs, the status checks of status.c around them),
 * NAME_run on the static arena
 * (not with --no-static-arena), NAME_workspace_size, NAME_info and
 * NAME_provenance; and the internal functions of subgraphs. */
#include <string.h>
#include <ctype.h>
#include <stdlib.h>

#include <llvm-c/Target.h>

#include "cg_internal.h"

static LLVMValueRef
const_ptr(cg_ctx *c, cg_buf *b)
{
	char tag[200];
	size_t k = 0;
	const char *nm = b->v->name ? b->v->name : "const";

	if (!b->global) {
		for (; nm[k] && k + 1 < sizeof tag; k++)
			tag[k] = isalnum((unsigned char)nm[k]) ? nm[k] : '_';
		tag[k] = 0;
		b->global = cg_const_global(c, tag, b->v->data, (size_t)b->size);
	}
	return LLVMBuildBitCast(c->b, b->global, c->ptr, "");
}

/* The i8* of buffer b given the run's ins, outs and ws (base). */
static LLVMValueRef
buf_ptr(cg_ctx *c, const LLVMValueRef *base, cg_buf *b)
{
	LLVMValueRef idx, arr;

	b = cg_buf_root(b);
	switch (b->loc) {
	case CG_LOC_INPUT:
	case CG_LOC_OUTPUT:
		idx = LLVMConstInt(c->i64, (unsigned long long)b->index, 0);
		arr = base[b->loc == CG_LOC_INPUT ? 0 : 1];
		return LLVMBuildLoad2(c->b, c->ptr, LLVMBuildInBoundsGEP2(
			c->b, c->ptr, arr, &idx, 1, ""), "");
	case CG_LOC_CONST:
		return const_ptr(c, b);
	case CG_LOC_ARENA:
		idx = LLVMConstInt(c->i64, (unsigned long long)b->offset, 0);
		return LLVMBuildInBoundsGEP2(c->b, c->i8, base[2], &idx, 1, "");
	default:
		return LLVMConstNull(c->ptr);
	}
}

static void
run_base(LLVMValueRef run, LLVMValueRef *base)
{
	for (unsigned k = 0; k < 3; k++)
		base[k] = LLVMGetParam(run, k);
}

/* The arguments of node n's function nf over the buffers at base: its
 * operands, scratch, task (task of ntasks, when nf takes them) and
 * lifted constants; *nargs of them, malloc'd. */
static LLVMValueRef *
node_args(cg_ctx *c, const cg_plan *p, const LLVMValueRef *base,
	  LLVMValueRef nf, const ir_node *n, int idx, LLVMValueRef task,
	  int ntasks, unsigned *nargs)
{
	int na = n->nin + n->nout, ns = p->scratch[idx] != 0, nc = 0;
	int nt = c->tasks && c->tasks[idx] ? 2 : 0;
	LLVMValueRef *args, *consts = c->consts[idx];
	cg_kernel k = cg_sparse_kernel(c, n, false);
	/* sparse kernels carry their own weight tables: no dense copy */
	bool own_w = k == CG_KERNEL_UNROLLED || k == CG_KERNEL_TABLE;

	while (consts && consts[nc])
		nc++;
	args = nn_xcalloc((size_t)(na + ns + nt + nc) + 1, sizeof *args);
	for (int i = 0; i < na; i++) {
		const ir_value *v = i < n->nin ? n->in[i] : n->out[i - n->nin];
		cg_buf *b = v && !(own_w && i == 1) ? cg_plan_find(p, v) : NULL;
		/* operands the kernel did not read (drop_unused) get NULL */
		if (!LLVMGetFirstUse(LLVMGetParam(nf, (unsigned)i)))
			b = NULL;
		args[i] = b ? buf_ptr(c, base, b) : LLVMConstNull(c->ptr);
	}
	if (ns)
		args[na] = buf_ptr(c, base, &p->bufs[p->scratch[idx] - 1]);
	if (nt) {
		args[na + ns] = task;
		args[na + ns + 1] = LLVMConstInt(c->i64, (unsigned)ntasks, 0);
	}
	for (int i = 0; i < nc; i++)
		args[na + ns + nt + i] = consts[i];
	*nargs = (unsigned)(na + ns + nt + nc);
	return args;
}

/* What a task of a split node reads: the run's ins, outs and ws, and the
 * status the tasks leave (0, or the node's error code). */
static LLVMTypeRef
task_data_type(cg_ctx *c)
{
	LLVMTypeRef pp = LLVMPointerType(c->ptr, 0);
	LLVMTypeRef f[4] = {pp, pp, c->ptr, c->i32};

	return LLVMStructTypeInContext(c->ctx, f, 4, 0);
}

static LLVMTypeRef
size_type(cg_ctx *c)
{
	return LLVMIntPtrTypeInContext(c->ctx, LLVMGetModuleDataLayout(c->mod));
}

/* NAME_task_IDX(data, i): task i of node idx, in the caller's thread's
 * FP state made the contract's for its duration. */
static LLVMValueRef
task_fn(cg_ctx *c, const cg_plan *p, LLVMValueRef nf, const ir_node *n,
	int idx)
{
	char name[256];
	LLVMTypeRef dt = task_data_type(c), sz = size_type(c);
	LLVMTypeRef pt[2] = {c->ptr, sz};
	LLVMBasicBlockRef at = LLVMGetInsertBlock(c->b), bad, done;
	LLVMValueRef fn, data, base[3], *args, st, saved, i, slot, store;
	unsigned nargs;

	snprintf(name, sizeof name, "%s_task_%d", c->name, idx);
	fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		LLVMVoidTypeInContext(c->ctx), pt, 2, 0));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
		c->ctx, fn, "entry"));
	data = LLVMBuildBitCast(c->b, LLVMGetParam(fn, 0),
				LLVMPointerType(dt, 0), "");
	for (unsigned k = 0; k < 3; k++)
		base[k] = LLVMBuildLoad2(c->b, LLVMStructGetTypeAtIndex(dt, k),
			LLVMBuildStructGEP2(c->b, dt, data, k, ""), "");
	i = LLVMBuildZExtOrBitCast(c->b, LLVMGetParam(fn, 1), c->i64, "");
	args = node_args(c, p, base, nf, n, idx, i, c->tasks[idx], &nargs);
	saved = cg_fpenv_enter(c);
	st = LLVMBuildCall2(c->b, LLVMGetElementType(LLVMTypeOf(nf)), nf, args,
			    nargs, "");
	cg_fpenv_leave(c, saved);
	free(args);
	bad = LLVMAppendBasicBlockInContext(c->ctx, fn, "bad");
	done = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
	LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, st,
		LLVMConstInt(c->i32, CG_OK, 0), ""), bad, done);
	LLVMPositionBuilderAtEnd(c->b, bad);
	/* tasks failing at once store the node's one code: atomic, so that
	 * this is no data race */
	slot = LLVMBuildStructGEP2(c->b, dt, data, 3, "");
	store = LLVMBuildStore(c->b, st, slot);
	LLVMSetOrdering(store, LLVMAtomicOrderingMonotonic);
	LLVMSetAlignment(store, 4);
	LLVMBuildBr(c->b, done);
	LLVMPositionBuilderAtEnd(c->b, done);
	LLVMBuildRetVoid(c->b);
	LLVMPositionBuilderAtEnd(c->b, at);
	return fn;
}

/* A split node in a run of the parallel signature: with a parallel_for,
 * parallel_for(ctx, NAME_task_IDX, &data, T); without, one call as
 * NAME_run makes. Returns the node's status. */
static LLVMValueRef
call_split(cg_ctx *c, const cg_plan *p, LLVMValueRef run, LLVMValueRef nf,
	   const ir_node *n, int idx, const LLVMValueRef *base)
{
	LLVMTypeRef dt = task_data_type(c), sz = size_type(c);
	LLVMTypeRef tt[2] = {c->ptr, sz}, ft, pft[4];
	LLVMValueRef pf = LLVMGetParam(run, 3), tf, data, st0, st1, pargs[4];
	LLVMValueRef *args, phi, slot;
	LLVMBasicBlockRef ser, par, join, b0, b1;
	LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
	unsigned nargs;

	tf = task_fn(c, p, nf, n, idx);
	ser = LLVMAppendBasicBlockInContext(c->ctx, run, "serial");
	par = LLVMAppendBasicBlockInContext(c->ctx, run, "parallel");
	join = LLVMAppendBasicBlockInContext(c->ctx, run, "joined");
	LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, pf, ""), ser, par);
	LLVMPositionBuilderAtEnd(c->b, ser);
	args = node_args(c, p, base, nf, n, idx, LLVMConstInt(c->i64, 0, 0),
			 1, &nargs);
	st0 = LLVMBuildCall2(c->b, LLVMGetElementType(LLVMTypeOf(nf)), nf,
			     args, nargs, "");
	free(args);
	b0 = LLVMGetInsertBlock(c->b);
	LLVMBuildBr(c->b, join);
	LLVMPositionBuilderAtEnd(c->b, par);
	LLVMPositionBuilderBefore(eb, LLVMGetFirstInstruction(
		LLVMGetEntryBasicBlock(run)));
	data = LLVMBuildAlloca(eb, dt, "tasks");
	LLVMDisposeBuilder(eb);
	for (unsigned k = 0; k < 4; k++) {
		slot = LLVMBuildStructGEP2(c->b, dt, data, k, "");
		LLVMBuildStore(c->b, k < 3 ? base[k] : LLVMConstInt(c->i32, 0,
								     0), slot);
	}
	ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), tt, 2, 0);
	pft[0] = c->ptr, pft[1] = LLVMPointerType(ft, 0), pft[2] = c->ptr;
	pft[3] = sz;
	ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), pft, 4, 0);
	pargs[0] = LLVMGetParam(run, 4);
	pargs[1] = tf;
	pargs[2] = LLVMBuildBitCast(c->b, data, c->ptr, "");
	pargs[3] = LLVMConstInt(sz, (unsigned)c->tasks[idx], 0);
	LLVMBuildCall2(c->b, ft, LLVMBuildBitCast(c->b, pf,
		LLVMPointerType(ft, 0), ""), pargs, 4, "");
	st1 = LLVMBuildLoad2(c->b, c->i32, LLVMBuildStructGEP2(c->b, dt, data,
		3, ""), "");
	b1 = LLVMGetInsertBlock(c->b);
	LLVMBuildBr(c->b, join);
	LLVMPositionBuilderAtEnd(c->b, join);
	phi = LLVMBuildPhi(c->b, c->i32, "");
	LLVMAddIncoming(phi, (LLVMValueRef[]){st0, st1},
			(LLVMBasicBlockRef[]){b0, b1}, 2);
	return phi;
}

static void
call_node(cg_ctx *c, const cg_plan *p, LLVMValueRef run, LLVMValueRef nf,
	  const ir_node *n, int idx)
{
	LLVMValueRef base[3], *args, st;
	unsigned nargs;

	run_base(run, base);
	if (c->tasks && c->tasks[idx] > 1 && LLVMCountParams(run) == 5) {
		st = call_split(c, p, run, nf, n, idx, base);
	} else {
		args = node_args(c, p, base, nf, n, idx, LLVMConstInt(c->i64,
				 0, 0), 1, &nargs);
		st = LLVMBuildCall2(c->b, LLVMGetElementType(LLVMTypeOf(nf)),
				    nf, args, nargs, "");
		free(args);
	}
	cg_run_check(c, run, st, 0);
}

/* Graph outputs not written in place (constants, inputs, views, repeated
 * outputs) are copied at the end. */
static void
copy_outputs(cg_ctx *c, const cg_plan *p, LLVMValueRef run)
{
	LLVMValueRef base[3];

	run_base(run, base);
	for (int j = 0; j < c->g->noutputs; j++) {
		cg_buf *b = cg_plan_find(p, c->g->outputs[j]);
		cg_buf *r = cg_buf_root(b);
		cg_buf out = {.loc = CG_LOC_OUTPUT, .index = j};
		int64_t nbytes = ir_shape_numel(&b->v->shape) *
				 (int64_t)ir_dtype_size(b->v->dtype);

		if ((r->loc == CG_LOC_OUTPUT && r->index == j) || nbytes <= 0)
			continue;
		LLVMBuildMemCpy(c->b, buf_ptr(c, base, &out), 1,
				buf_ptr(c, base, r), 1,
				LLVMConstInt(c->i64, (unsigned long long)nbytes,
					     0));
	}
}

/* Node calls per part of the run function: LLVM's function passes and
 * instruction selection grow faster than linearly in the size of one
 * function, so a long graph's calls are split into internal functions of
 * at most this many calls, which the run function calls in order. */
#define RUN_PART_CALLS 256

/* A function of the run function's signature (ins, outs, ws) -> status,
 * with par (parallel_for, ctx) after them; the builder is left in its
 * entry block. */
static LLVMValueRef
add_run_fn(cg_ctx *c, const char *name, bool internal, bool par)
{
	LLVMTypeRef pp = LLVMPointerType(c->ptr, 0);
	LLVMTypeRef args[5] = {pp, pp, c->ptr, c->ptr, c->ptr};
	LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		c->i32, args, par ? 5 : 3, 0));

	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
	if (internal) {
		LLVMSetLinkage(fn, LLVMInternalLinkage);
		cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "noinline");
	}
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
		c->ctx, fn, "entry"));
	return fn;
}

/* The calls of the nodes from *n (index *i) on, up to RUN_PART_CALLS of
 * them, at the builder in fn; advances *n and *i past them. */
static void
build_calls(cg_ctx *c, cg_plan *p, LLVMValueRef fn, LLVMValueRef *fns,
	    ir_node **n, int *i)
{
	int calls = 0;

	for (; *n && calls < RUN_PART_CALLS; *n = (*n)->next, (*i)++)
		if (fns[*i]) {
			LLVMValueRef t0 = c->profile ? cg_profile_tick(c) : NULL;
			call_node(c, p, fn, fns[*i], *n, *i);
			if (c->profile)
				cg_profile_add(c, *i, t0);
			calls++;
		}
}

/* The run function's parts: internal functions of at most
 * RUN_PART_CALLS node calls each; returns their number. */
static int
build_parts(cg_ctx *c, cg_plan *p, LLVMValueRef *fns, LLVMValueRef *parts)
{
	char name[256];
	ir_node *n = c->g->first;
	int i = 0, nparts = 0;

	while (n) {
		snprintf(name, sizeof name, "%s_part_%d", c->name, nparts);
		parts[nparts] = add_run_fn(c, name, true, true);
		build_calls(c, p, parts[nparts++], fns, &n, &i);
		LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
	}
	return nparts;
}

/* NAME_run_with_workspace: the node calls, or for a long graph its parts
 * in order, stopping at the first non-zero status; then the output
 * copies. */
static void
build_run_body(cg_ctx *c, cg_plan *p, LLVMValueRef run, LLVMValueRef *fns,
	       int ncalls)
{
	LLVMValueRef args[5], *parts;
	ir_node *n = c->g->first;
	int i = 0, nparts;

	/* the NULL checks first (status.c); they leave the builder in the
	 * run's last block */
	LLVMPositionBuilderAtEnd(c->b, LLVMGetEntryBasicBlock(run));
	cg_run_check(c, run, NULL, p->arena_size);
	if (ncalls <= RUN_PART_CALLS) {
		build_calls(c, p, run, fns, &n, &i);
		copy_outputs(c, p, run);
		LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
		return;
	}
	parts = nn_xcalloc((size_t)ncalls / RUN_PART_CALLS + 2, sizeof *parts);
	nparts = build_parts(c, p, fns, parts);
	LLVMPositionBuilderAtEnd(c->b, LLVMGetLastBasicBlock(run));
	for (int k = 0; k < 5; k++)
		args[k] = LLVMGetParam(run, (unsigned)k);
	for (int k = 0; k < nparts; k++) {
		LLVMValueRef st = LLVMBuildCall2(c->b, LLVMGetElementType(
			LLVMTypeOf(parts[k])), parts[k], args, 5, "");
		LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(
			c->ctx, run, "fail");
		LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(
			c->ctx, run, "next");
		LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, st,
			LLVMConstInt(c->i32, 0, 0), ""), fail, next);
		LLVMPositionBuilderAtEnd(c->b, fail);
		LLVMBuildRet(c->b, st);
		LLVMPositionBuilderAtEnd(c->b, next);
	}
	free(parts);
	copy_outputs(c, p, run);
	LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
}

/* The body (ins, outs, ws, parallel_for, ctx) holds the calls;
 * NAME_run_with_workspace calls it without a parallel_for and
 * NAME_run_parallel with the caller's, both through the FP-state
 * wrapper (fpenv.c). */
bool
cg_build_run(cg_ctx *c, cg_plan *p)
{
	char name[256];
	LLVMValueRef run, wrap, rw, *fns;
	int i = 0, ncalls = 0;
	bool ok = true;

	snprintf(name, sizeof name, "%s_body", c->name);
	run = add_run_fn(c, name, true, true);
	fns = nn_xcalloc((size_t)p->nnodes + 1, sizeof *fns);
	c->consts = nn_xcalloc((size_t)p->nnodes + 1, sizeof *c->consts);
	if (!c->profile)
		nn_progress("lower", "%d nodes into LLVM functions", p->nnodes);
	c->tasks = nn_xcalloc((size_t)p->nnodes + 1, sizeof *c->tasks);
	for (ir_node *n = c->g->first; n; n = n->next, i++)
		if (!p->skip[i] && cg_node_runs(n)) {
			if (!c->profile)
				nn_progress_detail("lower", "node %d of %d (%s)",
					    i + 1, p->nnodes,
					    ir_ops[n->op].name);
			if (!(fns[i] = cg_build_node(c, n, i)))
				ok = false;
			ncalls++;
		}
	if (ok && c->profile)
		cg_profile_begin(c, p->nnodes);
	if (ok) {
		build_run_body(c, p, run, fns, ncalls);
	} else {
		LLVMPositionBuilderAtEnd(c->b, LLVMGetEntryBasicBlock(run));
		LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
	}
	snprintf(name, sizeof name, "%s_run_with_workspace", c->name);
	rw = add_run_fn(c, name, false, false);
	cg_fpenv_wrap(c, rw, run);
	snprintf(name, sizeof name, "%s_run_parallel", c->name);
	wrap = add_run_fn(c, name, false, true);
	if (c->o->size_level) { /* nothing split: a jump to the serial run */
		LLVMValueRef args[3], st;
		for (unsigned k = 0; k < 3; k++)
			args[k] = LLVMGetParam(wrap, k);
		st = LLVMBuildCall2(c->b, LLVMGetElementType(LLVMTypeOf(rw)),
				    rw, args, 3, "");
		LLVMSetTailCall(st, 1);
		LLVMBuildRet(c->b, st);
	} else {
		cg_fpenv_wrap(c, wrap, run);
	}
	free(fns);
	return ok;
}

LLVMValueRef
cg_build_graph_fn(cg_ctx *c, ir_graph *g, cg_plan *p, const char *name)
{
	ir_graph *pg = c->g;
	LLVMValueRef **pconsts = c->consts, *fns, run = NULL;
	int *ptasks = c->tasks;
	const char *pname = c->name;
	bool pprofile = c->profile, ok = true;
	LLVMBasicBlockRef at = LLVMGetInsertBlock(c->b);
	ir_node *n;
	int i = 0;

	c->g = g;
	c->name = name;
	c->profile = false;
	c->consts = nn_xcalloc((size_t)p->nnodes + 1, sizeof *c->consts);
	c->tasks = NULL; /* a subgraph's nodes are not split */
	fns = nn_xcalloc((size_t)p->nnodes + 1, sizeof *fns);
	for (n = g->first; n; n = n->next, i++)
		if (!p->skip[i] && cg_node_runs(n) &&
		    !(fns[i] = cg_build_node(c, n, i)))
			ok = false;
	if (ok) {
		run = add_run_fn(c, name, true, false);
		n = g->first;
		i = 0;
		while (n)
			build_calls(c, p, run, fns, &n, &i);
		copy_outputs(c, p, run);
		LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
	}
	for (i = 0; i < p->nnodes; i++)
		free(c->consts[i]);
	free(c->consts);
	free(fns);
	c->g = pg;
	c->consts = pconsts;
	c->tasks = ptasks;
	c->name = pname;
	c->profile = pprofile;
	LLVMPositionBuilderAtEnd(c->b, at);
	return run;
}

/* A constant global named name (private if NULL) holding the bytes of s
 * with their NUL; an i8* to it. */
static LLVMValueRef
cstring(cg_ctx *c, const char *name, const char *s)
{
	LLVMValueRef init = LLVMConstStringInContext(c->ctx, s,
						     (unsigned)strlen(s), 0);
	LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init),
				       name ? name : "str");
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, name ? LLVMExternalLinkage : LLVMPrivateLinkage);
	cg_meta_section(c, g);
	if (!name)
		LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	return LLVMConstBitCast(g, c->ptr);
}

/* The nncc_tensor_info array of the header (name, dtype, rank, shape,
 * size) for n values. */
static LLVMValueRef
tensor_table(cg_ctx *c, LLVMTypeRef ti, LLVMTypeRef sz, ir_value *const *v,
	     int n)
{
	LLVMValueRef *rows = nn_xcalloc((size_t)n + 1, sizeof *rows);
	LLVMTypeRef p64 = LLVMPointerType(c->i64, 0);
	for (int i = 0; i < n; i++) {
		LLVMValueRef dims[IR_MAX_RANK + 1];
		int r = v[i]->shape.rank;
		for (int k = 0; k < r; k++)
			dims[k] = LLVMConstInt(c->i64, (unsigned long long)
					       v[i]->shape.dim[k], 0);
		dims[r] = LLVMConstInt(c->i64, 1, 0); /* a scalar's {1} */
		LLVMValueRef arr = LLVMConstArray(c->i64, dims,
						  (unsigned)(r ? r : 1));
		LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(arr), "dims");
		LLVMSetInitializer(g, arr);
		LLVMSetGlobalConstant(g, 1);
		LLVMSetLinkage(g, LLVMPrivateLinkage);
		cg_meta_section(c, g);
		LLVMValueRef f[5] = {
			cstring(c, NULL, v[i]->name ? v[i]->name : ""),
			LLVMConstInt(c->i32, (unsigned)v[i]->dtype, 0),
			LLVMConstInt(c->i32, (unsigned)r, 0),
			LLVMConstBitCast(g, p64),
			LLVMConstInt(sz, (unsigned long long)ir_shape_numel(
				&v[i]->shape), 0)};
		rows[i] = LLVMConstNamedStruct(ti, f, 5);
	}
	LLVMValueRef arr = LLVMConstArray(ti, rows, (unsigned)n);
	LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(arr), "ports");
	LLVMSetInitializer(g, arr);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	cg_meta_section(c, g);
	free(rows);
	return n ? LLVMConstBitCast(g, LLVMPointerType(ti, 0))
		 : LLVMConstNull(LLVMPointerType(ti, 0));
}

/* NAME_provenance and NAME_info (the header's nncc_model_info). */
static void
build_info(cg_ctx *c, const cg_plan *p, LLVMTypeRef sz)
{
	char name[256], *prov = cg_provenance(c->o);
	snprintf(name, sizeof name, "%s_provenance", c->name);
	LLVMValueRef pv = cstring(c, name, prov);
	free(prov);
	LLVMTypeRef ti = LLVMStructCreateNamed(c->ctx, "nncc_tensor_info");
	LLVMTypeRef tf[5] = {c->ptr, c->i32, c->i32,
			     LLVMPointerType(c->i64, 0), sz};
	LLVMStructSetBody(ti, tf, 5, 0);
	LLVMTypeRef mi = LLVMStructCreateNamed(c->ctx, "nncc_model_info");
	LLVMTypeRef tp = LLVMPointerType(ti, 0);
	LLVMTypeRef mf[8] = {c->i32, c->i32, c->i32, c->ptr, c->ptr, tp, tp,
			     sz};
	LLVMStructSetBody(mi, mf, 8, 0);
	LLVMValueRef f[8] = {
		LLVMConstInt(c->i32, CG_API_VERSION, 0),
		LLVMConstInt(c->i32, (unsigned)c->g->ninputs, 0),
		LLVMConstInt(c->i32, (unsigned)c->g->noutputs, 0),
		cstring(c, NULL, c->name), pv,
		tensor_table(c, ti, sz, c->g->inputs, c->g->ninputs),
		tensor_table(c, ti, sz, c->g->outputs, c->g->noutputs),
		LLVMConstInt(sz, (unsigned long long)p->arena_size, 0)};
	LLVMValueRef info = LLVMAddGlobal(c->mod, mi, "info");
	LLVMSetInitializer(info, LLVMConstNamedStruct(mi, f, 8));
	LLVMSetGlobalConstant(info, 1);
	LLVMSetLinkage(info, LLVMPrivateLinkage);
	cg_meta_section(c, info);
	snprintf(name, sizeof name, "%s_info", c->name);
	LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		LLVMPointerType(mi, 0), NULL, 0, 0));
	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
		c->ctx, fn, "entry"));
	LLVMBuildRet(c->b, info);
}

void
cg_build_entries(cg_ctx *c, const cg_plan *p)
{
	LLVMTypeRef pp = LLVMPointerType(c->ptr, 0);
	LLVMTypeRef args[2] = {pp, pp};
	LLVMTypeRef sz = LLVMIntPtrTypeInContext(c->ctx,
		LLVMGetModuleDataLayout(c->mod));
	LLVMTypeRef at = LLVMArrayType(c->i8, (unsigned)(p->arena_size ?
							 p->arena_size : 1));
	char name[256];
	LLVMValueRef fn, arena, call[3], ws;

	if (!c->o->no_static_arena) {
		snprintf(name, sizeof name, "%s_arena", c->name);
		arena = LLVMAddGlobal(c->mod, at, name);
		LLVMSetInitializer(arena, LLVMConstNull(at));
		LLVMSetLinkage(arena, LLVMInternalLinkage);
		LLVMSetAlignment(arena, 64);
		snprintf(name, sizeof name, "%s_run_with_workspace", c->name);
		ws = LLVMGetNamedFunction(c->mod, name);
		snprintf(name, sizeof name, "%s_run", c->name);
		fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->i32,
			args, 2, 0));
		cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
		LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
			c->ctx, fn, "entry"));
		call[0] = LLVMGetParam(fn, 0);
		call[1] = LLVMGetParam(fn, 1);
		call[2] = LLVMBuildBitCast(c->b, arena, c->ptr, "");
		LLVMBuildRet(c->b, LLVMBuildCall2(c->b, LLVMGetElementType(
			LLVMTypeOf(ws)), ws, call, 3, ""));
	}
	snprintf(name, sizeof name, "%s_workspace_size", c->name);
	fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(sz, NULL, 0, 0));
	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
		c->ctx, fn, "entry"));
	LLVMBuildRet(c->b, LLVMConstInt(sz, (unsigned long long)p->arena_size,
					0));
	/* -Os is the fewest bytes: the table's relocations and strings
	 * would add a third to a small object (its header keeps the
	 * provenance macros and declares no NAME_info) */
	if (!c->o->size_level)
		build_info(c, p, sz);
}
