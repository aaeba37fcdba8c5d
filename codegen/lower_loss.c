/* Lowering of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, in
 * double as the interpreter computes them (ir/op_loss.c): one pass over
 * the [N, d] targets; SCE takes each position's log-sum-exp over the
 * classes first (and writes its log_prob output there). A target outside
 * [0, C) that is not ignore_index is CG_ERR_INDEX. */
#include <math.h>

#include "cg_internal.h"

static void
accumulate(cg_fn *f, LLVMValueRef acc, LLVMValueRef v)
{
	LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, LLVMBuildLoad2(f->b,
		f->c->f64, acc, ""), v, ""), acc);
}

/* max and log(sum(exp(x - max))) over the classes at base (stride d);
 * with log_prob, also stores x - max - lse there. */
static LLVMValueRef
log_sum_exp(cg_fn *f, const ir_loss *l, LLVMValueRef base)
{
	LLVMValueRef mx = cg_alloca(f, f->c->f64), s = cg_alloca(f, f->c->f64);
	LLVMValueRef c, i, m, lse;
	ir_dtype t = f->n->in[0]->dtype;
	cg_loop lp;

	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, -INFINITY), mx);
	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 0), s);
	c = cg_loop_begin(f, l->c, &lp);
	i = cg_iadd(f, base, cg_imul(f, c, l->d));
	LLVMBuildStore(f->b, cg_max(f, IR_F64, LLVMBuildLoad2(f->b, f->c->f64,
		mx, ""), cg_load_f64(f, 0, i)), mx);
	cg_loop_end(f, &lp);
	m = LLVMBuildLoad2(f->b, f->c->f64, mx, "");
	c = cg_loop_begin(f, l->c, &lp);
	i = cg_iadd(f, base, cg_imul(f, c, l->d));
	accumulate(f, s, cg_libm(f, "exp", IR_F64, LLVMBuildFSub(f->b,
		cg_load_f64(f, 0, i), m, "")));
	cg_loop_end(f, &lp);
	lse = LLVMBuildFAdd(f->b, m, cg_libm(f, "log", IR_F64,
		LLVMBuildLoad2(f->b, f->c->f64, s, "")), "");
	if (f->n->nout > 1 && f->out[1]) {
		c = cg_loop_begin(f, l->c, &lp);
		i = cg_iadd(f, base, cg_imul(f, c, l->d));
		cg_store_c(f, f->out[1], i, cg_convert(f, LLVMBuildFSub(f->b,
			cg_load_f64(f, 0, i), lse, ""), IR_F64, cg_ctype(t)), t);
		cg_loop_end(f, &lp);
	}
	return lse;
}

/* The loss of target position (a, e): stores it (reduction none) or adds
 * it and its weight to sum and wsum. */
static void
loss_at(cg_fn *f, const ir_loss *l, LLVMValueRef a, LLVMValueRef e,
	LLVMValueRef sum, LLVMValueRef wsum)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, tt = n->in[1]->dtype;
	LLVMValueRef base, q, tv, ign, bad, ts, x, w, v, zero;

	base = cg_iadd(f, cg_imul(f, a, l->c * l->d), e);
	q = cg_iadd(f, cg_imul(f, a, l->d), e);
	tv = cg_convert(f, cg_load(f, f->in[1], q), tt, IR_I64);
	ign = l->has_ii ? LLVMBuildICmp(f->b, LLVMIntEQ, tv, cg_i64(f, l->ii),
					"")
			: LLVMConstInt(f->c->i1, 0, 0);
	bad = LLVMBuildAnd(f->b, LLVMBuildNot(f->b, ign, ""), LLVMBuildICmp(
		f->b, LLVMIntUGE, tv, cg_i64(f, l->c), ""), "");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	ts = LLVMBuildSelect(f->b, LLVMBuildOr(f->b, ign, bad, ""),
			     cg_i64(f, 0), tv, "");
	x = cg_load_f64(f, 0, cg_iadd(f, base, cg_imul(f, ts, l->d)));
	if (n->op == OP_SoftmaxCrossEntropyLoss)
		x = LLVMBuildFSub(f->b, x, log_sum_exp(f, l, base), "");
	w = n->nin > 2 && n->in[2] ? cg_load_f64(f, 2, ts)
				   : cg_fconst(f, IR_F64, 1);
	zero = cg_fconst(f, IR_F64, 0);
	w = LLVMBuildSelect(f->b, ign, zero, w, "");
	v = LLVMBuildSelect(f->b, ign, zero, LLVMBuildFMul(f->b,
		LLVMBuildFNeg(f->b, x, ""), w, ""), "");
	if (l->reduction == 'n') {
		cg_store_c(f, f->out[0], q, cg_convert(f, v, IR_F64,
			   cg_ctype(t)), t);
		return;
	}
	accumulate(f, sum, v);
	accumulate(f, wsum, w);
}

bool
cg_lower_loss(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype;
	int64_t dims[2];
	LLVMValueRef ivs[2], sum, wsum, v;
	cg_loop loops[2];
	ir_loss l;

	ir_loss_get(n, &l);
	dims[0] = l.n, dims[1] = l.d;
	sum = cg_alloca(f, f->c->f64);
	wsum = cg_alloca(f, f->c->f64);
	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 0), sum);
	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 0), wsum);
	if (l.n > 0 && l.d > 0) {
		cg_nest_begin(f, 2, dims, ivs, loops);
		loss_at(f, &l, ivs[0], ivs[1], sum, wsum);
		cg_nest_end(f, 2, loops);
	}
	if (l.reduction == 'n')
		return true;
	v = LLVMBuildLoad2(f->b, f->c->f64, sum, "");
	if (l.reduction == 'm')
		v = LLVMBuildFDiv(f->b, v, LLVMBuildLoad2(f->b, f->c->f64, wsum,
							  ""), "");
	cg_store_c(f, f->out[0], cg_i64(f, 0), cg_convert(f, v, IR_F64,
		   cg_ctype(t)), t);
	return true;
}
