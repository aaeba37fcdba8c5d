/* Run-time errors in generated code: the checks node functions record
 * (cg_runtime_error) and the run function's early return with the status
 * code (status.def), so that compiled code reports instead of trapping. */
#include "cg_internal.h"

void
cg_runtime_error(cg_fn *f, LLVMValueRef bad, cg_status code)
{
	LLVMValueRef e;

	NN_ASSERT(!f->err || f->err_code == code);
	if (!f->err) {
		/* in the entry block, before everything: the slot dominates
		 * every check and mem2reg promotes it */
		LLVMBuilderRef b = LLVMCreateBuilderInContext(f->c->ctx);
		LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(f->fn);
		LLVMValueRef first = LLVMGetFirstInstruction(entry);

		if (first)
			LLVMPositionBuilderBefore(b, first);
		else
			LLVMPositionBuilderAtEnd(b, entry);
		f->err = LLVMBuildAlloca(b, f->c->i1, "err");
		LLVMBuildStore(b, LLVMConstNull(f->c->i1), f->err);
		LLVMDisposeBuilder(b);
		f->err_code = code;
	}
	e = LLVMBuildLoad2(f->b, f->c->i1, f->err, "");
	LLVMBuildStore(f->b, LLVMBuildOr(f->b, e, bad, ""), f->err);
}

LLVMValueRef
cg_node_status(cg_fn *f)
{
	LLVMValueRef ok = LLVMConstInt(f->c->i32, CG_OK, 0);

	if (!f->err)
		return ok;
	return LLVMBuildSelect(f->b, LLVMBuildLoad2(f->b, f->c->i1, f->err,
		""), LLVMConstInt(f->c->i32, (unsigned)f->err_code, 0), ok, "");
}

static void
run_fail_if(cg_ctx *c, LLVMValueRef run, LLVMValueRef bad, LLVMValueRef code)
{
	LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, run,
							       "fail");
	LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(c->ctx, run,
							       "ok");
	LLVMTypeRef at[2] = {c->i1, c->i1};
	LLVMTypeRef ft = LLVMFunctionType(c->i1, at, 2, 0);
	LLVMValueRef ex = LLVMGetNamedFunction(c->mod, "llvm.expect.i1");
	LLVMValueRef args[2] = {bad, LLVMConstNull(c->i1)};

	if (!ex)
		ex = LLVMAddFunction(c->mod, "llvm.expect.i1", ft);
	LLVMBuildCondBr(c->b, LLVMBuildCall2(c->b, ft, ex, args, 2, ""), fail,
			cont);
	LLVMPositionBuilderAtEnd(c->b, fail);
	LLVMBuildRet(c->b, code);
	LLVMPositionBuilderAtEnd(c->b, cont);
}

static LLVMValueRef
or_null(cg_ctx *c, LLVMValueRef acc, LLVMValueRef ptr)
{
	return LLVMBuildOr(c->b, acc, LLVMBuildICmp(c->b, LLVMIntEQ, ptr,
		LLVMConstNull(LLVMTypeOf(ptr)), ""), "");
}

/* CG_ERR_NULL for a NULL inputs or outputs array (when the model has
 * any), a NULL workspace (when it needs one), then a NULL buffer in the
 * arrays (for a port with elements: an empty one is never touched). */
static void
check_buffers(cg_ctx *c, LLVMValueRef run, int64_t ws)
{
	LLVMValueRef code = LLVMConstInt(c->i32, CG_ERR_NULL, 0);
	LLVMValueRef bad = LLVMConstNull(c->i1);
	int cnt[2] = {c->g->ninputs, c->g->noutputs};

	for (unsigned k = 0; k < 2; k++)
		if (cnt[k])
			bad = or_null(c, bad, LLVMGetParam(run, k));
	if (ws)
		bad = or_null(c, bad, LLVMGetParam(run, 2));
	run_fail_if(c, run, bad, code);
	bad = LLVMConstNull(c->i1);
	for (unsigned k = 0; k < 2; k++)
		for (int i = 0; i < cnt[k]; i++) {
			const ir_value *v = (k ? c->g->outputs : c->g->inputs)[i];
			LLVMValueRef idx = LLVMConstInt(c->i64,
				(unsigned long long)i, 0), slot;

			if (ir_shape_numel(&v->shape) == 0)
				continue;
			slot = LLVMBuildInBoundsGEP2(c->b, c->ptr,
				LLVMGetParam(run, k), &idx, 1, "");
			bad = or_null(c, bad, LLVMBuildLoad2(c->b, c->ptr,
							     slot, ""));
		}
	run_fail_if(c, run, bad, code);
}

void
cg_run_check(cg_ctx *c, LLVMValueRef run, LLVMValueRef status, int64_t ws)
{
	if (!status) {
		check_buffers(c, run, ws);
		return;
	}
	run_fail_if(c, run, LLVMBuildICmp(c->b, LLVMIntNE, status,
		LLVMConstInt(c->i32, CG_OK, 0), ""), status);
}

LLVMValueRef
cg_index(cg_fn *f, LLVMValueRef idx, ir_dtype it, int64_t d)
{
	LLVMValueRef bad;

	NN_ASSERT(d > 0); /* shape inference refuses indices into size 0 */
	idx = cg_convert(f, idx, it, IR_I64);
	idx = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, idx,
		cg_i64(f, 0), ""), LLVMBuildAdd(f->b, idx, cg_i64(f, d), ""),
		idx, "");
	bad = LLVMBuildICmp(f->b, LLVMIntUGE, idx, cg_i64(f, d), "");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	return LLVMBuildSelect(f->b, bad, cg_i64(f, 0), idx, "");
}

void
cg_check_indices(cg_fn *f, LLVMValueRef idx, ir_dtype it, int64_t count,
		 int k, const int64_t *dims)
{
	cg_loop lq;
	LLVMValueRef q = cg_loop_begin(f, count / k, &lq);

	for (int j = 0; j < k; j++)
		cg_index(f, cg_load(f, idx, LLVMBuildAdd(f->b, LLVMBuildMul(
			f->b, q, cg_i64(f, k), ""), cg_i64(f, j), "")), it,
			dims[j]);
	cg_loop_end(f, &lq);
}

