/* Lowering of reductions (ReduceSum/Mean/Max, ArgMax) and of Softmax,
 * LogSoftmax and Hardmax: kept dims in outer loops, reduced dims in inner
 * loops. */
#include <math.h>
#include <string.h>

#include "cg_internal.h"

/* Reduced-axis mask from input 1 (or the axes attribute); false after an
 * error. *all_noop is set when axes are empty and noop_with_empty_axes. */
static bool
reduced_axes(cg_fn *f, bool *red, bool *noop)
{
	const ir_node *n = f->n;
	int rank = n->in[0]->shape.rank, na = 0;
	int64_t ax[IR_MAX_RANK * 2], cnt = 0;
	const int64_t *aa = ir_attr_ints(n, "axes", &na);

	*noop = false;
	if (n->nin > 1 && n->in[1]) {
		if (!cg_const_ints(f, 1, ax, IR_MAX_RANK * 2, &cnt))
			return false;
	} else {
		for (int k = 0; aa && k < na && k < IR_MAX_RANK * 2; k++)
			ax[cnt++] = aa[k];
	}
	for (int k = 0; k < rank; k++)
		red[k] = cnt == 0;
	if (cnt == 0 && ir_attr_i_or(n, "noop_with_empty_axes", 0)) {
		for (int k = 0; k < rank; k++)
			red[k] = false;
		*noop = true;
	}
	for (int64_t k = 0; k < cnt; k++) {
		int a = cg_axis(ax[k], rank);
		if (a < 0)
			return cg_fail(f, "axis %lld out of range",
				       (long long)ax[k]);
		red[a] = true;
	}
	return true;
}

static LLVMValueRef
red_init(cg_fn *f, ir_dtype t)
{
	bool uns = ir_dtype_is_unsigned(t);

	if (f->n->op == OP_ReduceProd)
		return cg_const(f, t, 1);
	if (f->n->op == OP_ReduceMin) {
		if (ir_dtype_is_float(t))
			return cg_fconst(f, t, INFINITY);
		return uns ? LLVMConstAllOnes(cg_type(f->c, t))
			   : LLVMConstInt(cg_type(f->c, t), (1ull << (
				ir_dtype_size(t) * 8 - 1)) - 1, 0);
	}
	if (f->n->op != OP_ReduceMax)
		return cg_const(f, t, 0);
	if (ir_dtype_is_float(t))
		return cg_fconst(f, t, -INFINITY);
	if (ir_dtype_is_unsigned(t))
		return LLVMConstNull(cg_type(f->c, t));
	return LLVMConstInt(cg_type(f->c, t),
			    1ull << (ir_dtype_size(t) * 8 - 1), 0);
}

/* The running value o after element v (ReduceMin ... ReduceSumSquare). */
static LLVMValueRef
red_step(cg_fn *f, ir_dtype t, LLVMValueRef o, LLVMValueRef v)
{
	switch (f->n->op) {
	case OP_ReduceMax: return cg_max(f, t, v, o);
	case OP_ReduceMin: return cg_min(f, t, v, o);
	case OP_ReduceProd: return cg_mul(f, t, o, v);
	case OP_ReduceL1:
		if (ir_dtype_is_float(t))
			v = cg_intrin(f, "fabs", t, 1, &v);
		else if (!ir_dtype_is_unsigned(t))
			v = cg_max(f, t, v, LLVMBuildNeg(f->b, v, ""));
		return cg_add(f, t, o, v);
	case OP_ReduceL2:
	case OP_ReduceSumSquare: return cg_add(f, t, o, cg_mul(f, t, v, v));
	case OP_ReduceLogSumExp:
		return cg_add(f, t, o, cg_intrin(f, "exp", t, 1, &v));
	default: return cg_add(f, t, o, v);
	}
}

static bool
lower_reduce(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t), at = ct;
	bool red[IR_MAX_RANK], noop;
	int64_t st[IR_MAX_RANK], kd[IR_MAX_RANK], ks[IR_MAX_RANK];
	int64_t rd[IR_MAX_RANK], rs[IR_MAX_RANK], os[IR_MAX_RANK], rcnt = 1;
	int nk = 0, nr = 0;
	LLVMValueRef kiv[IR_MAX_RANK], riv[IR_MAX_RANK], a, v, o;
	cg_loop kl[IR_MAX_RANK], rl[IR_MAX_RANK];

	if (!reduced_axes(f, red, &noop))
		return false;
	cg_strides(x, st);
	for (int k = 0; k < x->rank; k++) {
		if (red[k]) {
			rd[nr] = x->dim[k], rs[nr++] = st[k];
			rcnt *= x->dim[k];
		} else {
			kd[nk] = x->dim[k], ks[nk++] = st[k];
		}
	}
	{
		ir_shape ks_shape = {nk, {0}};
		memcpy(ks_shape.dim, kd, sizeof(int64_t) * (size_t)nk);
		cg_strides(&ks_shape, os);
	}
	/* an integer mean sums in 64 bits (unsigned for unsigned types) and
	 * truncates the quotient, as ir/op_reduce.c does */
	if (n->op == OP_ReduceMean && !ir_dtype_is_float(ct))
		at = ir_dtype_is_unsigned(ct) ? IR_U64 : IR_I64;
	/* the log-sums sum in double and take the log there, as the
	 * interpreter: exp(100) overflows a float sum, not its log */
	if (n->op == OP_ReduceLogSumExp || n->op == OP_ReduceLogSum)
		at = IR_F64;
	a = cg_alloca(f, cg_type(f->c, at));
	cg_nest_begin(f, nk, kd, kiv, kl);
	LLVMBuildStore(f->b, red_init(f, at), a);
	if (rcnt > 0) {
		cg_nest_begin(f, nr, rd, riv, rl);
		v = cg_load_c(f, f->in[0], LLVMBuildNSWAdd(f->b, cg_linear(f,
			nk, kiv, ks, 0), cg_linear(f, nr, riv, rs, 0), ""), t);
		if (at != ct)
			v = cg_convert(f, v, ct, at);
		o = LLVMBuildLoad2(f->b, cg_type(f->c, at), a, "");
		LLVMBuildStore(f->b, red_step(f, at, o, v), a);
		cg_nest_end(f, nr, rl);
	}
	v = LLVMBuildLoad2(f->b, cg_type(f->c, at), a, "");
	/* an empty integer mean keeps its initial value, as in
	 * ir/op_reduce.c (a division by zero would trap); float gives NaN */
	if (n->op == OP_ReduceMean && ir_dtype_is_float(ct))
		v = LLVMBuildFDiv(f->b, v, cg_fconst(f, ct, (double)rcnt), "");
	else if (n->op == OP_ReduceMean && rcnt > 0)
		v = (ir_dtype_is_unsigned(at) ? LLVMBuildUDiv : LLVMBuildSDiv)(
			f->b, v, cg_const(f, at, (double)rcnt), "");
	if (n->op == OP_ReduceLogSumExp || n->op == OP_ReduceLogSum)
		v = cg_intrin(f, "log", at, 1, &v);
	if (at != ct)
		v = cg_convert(f, v, at, ct);
	if (n->op == OP_ReduceL2)
		v = cg_intrin(f, "sqrt", ct, 1, &v);
	cg_store_c(f, f->out[0], cg_linear(f, nk, kiv, os, 0), v, t);
	cg_nest_end(f, nk, kl);
	return true;
}

static bool
lower_argmax(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int ax = cg_axis(ir_attr_i(n, "axis"), x->rank);
	bool last = ir_attr_i(n, "select_last_index");
	bool min = n->op == OP_ArgMin;
	int64_t outer = 1, inner = 1, len, dims[2];
	LLVMValueRef ivs[2], best, bi, base, k, v, cur, better;
	cg_loop lo[2], lk;

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	len = x->dim[ax];
	for (int d = 0; d < x->rank; d++)
		if (d != ax)
			*(d < ax ? &outer : &inner) *= x->dim[d];
	dims[0] = outer, dims[1] = inner;
	best = cg_alloca(f, cg_type(f->c, ct));
	bi = cg_alloca(f, f->c->i64);
	cg_nest_begin(f, 2, dims, ivs, lo);
	base = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, ivs[0],
		cg_i64(f, len * inner), ""), ivs[1], "");
	LLVMBuildStore(f->b, cg_load_c(f, f->in[0], base, t), best);
	LLVMBuildStore(f->b, cg_i64(f, 0), bi);
	k = cg_loop_begin(f, len, &lk);
	v = cg_load_c(f, f->in[0], LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(
		f->b, k, cg_i64(f, inner), ""), ""), t);
	cur = LLVMBuildLoad2(f->b, cg_type(f->c, ct), best, "");
	if (ir_dtype_is_float(ct))
		/* The first NaN is the extreme and stays, like numpy's. */
		better = LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, min ? (last
			? LLVMRealULE : LLVMRealULT) : last ? LLVMRealUGE
			: LLVMRealUGT, v, cur, ""), LLVMBuildFCmp(f->b,
			LLVMRealORD, cur, cur, ""), "");
	else
		better = LLVMBuildICmp(f->b, min ? (last ? LLVMIntSLE
			: LLVMIntSLT) : last ? LLVMIntSGE : LLVMIntSGT, v, cur,
			"");
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, v, cur, ""), best);
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, k, LLVMBuildLoad2(
		f->b, f->c->i64, bi, ""), ""), bi);
	cg_loop_end(f, &lk);
	cg_store(f, f->out[0], LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b,
		ivs[0], cg_i64(f, inner), ""), ivs[1], ""), LLVMBuildLoad2(f->b,
		f->c->i64, bi, ""));
	cg_nest_end(f, 2, lo);
	return true;
}

/* One pass over the softmax axis: max (mode 0), sum of exp (1), or the
 * output (2). Softmax in f32/f64 keeps each exp in the output in pass 1
 * and divides it there in pass 2 (the same values: one exp per element);
 * f16/bf16 would round them, so they compute the exp twice. */
static LLVMValueRef
smax_pass(cg_fn *f, int mode, LLVMValueRef base, int64_t len,
	  int64_t inner, LLVMValueRef m, LLVMValueRef s)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	LLVMTypeRef ty = cg_type(f->c, ct);
	LLVMValueRef a = cg_alloca(f, ty), k, i, v;
	bool keep = n->op == OP_Softmax && t == ct;
	cg_loop l;

	LLVMBuildStore(f->b, cg_fconst(f, ct, mode == 0 ? -INFINITY : 0), a);
	k = cg_loop_begin(f, len, &l);
	i = LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(f->b, k,
		cg_i64(f, inner), ""), "");
	v = cg_load_c(f, f->in[0], i, t);
	if (mode == 2 && keep) {
		v = LLVMBuildFDiv(f->b, cg_load(f, f->out[0], i), s, "");
		cg_store(f, f->out[0], i, v);
	} else if (mode == 0) {
		LLVMBuildStore(f->b, cg_max(f, ct, v, LLVMBuildLoad2(f->b, ty,
			a, "")), a);
	} else {
		v = LLVMBuildFSub(f->b, v, m, "");
		if (mode == 2 && n->op == OP_LogSoftmax) {
			v = LLVMBuildFSub(f->b, v, s, "");
		} else {
			v = cg_math(f, CG_EXP, ct, v);
			if (mode == 2)
				v = LLVMBuildFDiv(f->b, v, s, "");
		}
		if (mode == 1 && keep)
			cg_store(f, f->out[0], i, v);
		if (mode == 1)
			LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, LLVMBuildLoad2(
				f->b, ty, a, ""), v, ""), a);
		else
			cg_store_c(f, f->out[0], i, v, t);
	}
	cg_loop_end(f, &l);
	return LLVMBuildLoad2(f->b, ty, a, "");
}

/* Hardmax of the line at base: the index of the first maximum (the first
 * NaN, as ArgMax and ir/op_softmax.c), then 1 there and 0 elsewhere. */
static void
hardmax_line(cg_fn *f, LLVMValueRef base, int64_t len, int64_t inner)
{
	ir_dtype t = f->n->in[0]->dtype, ct = cg_ctype(t);
	LLVMTypeRef ty = cg_type(f->c, ct);
	LLVMValueRef best = cg_alloca(f, ty), bi = cg_alloca(f, f->c->i64);
	LLVMValueRef k, i, v, cur, better;
	cg_loop l;

	LLVMBuildStore(f->b, cg_load_c(f, f->in[0], base, t), best);
	LLVMBuildStore(f->b, cg_i64(f, 0), bi);
	k = cg_loop_begin(f, len, &l);
	i = LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(f->b, k,
		cg_i64(f, inner), ""), "");
	v = cg_load_c(f, f->in[0], i, t);
	cur = LLVMBuildLoad2(f->b, ty, best, "");
	better = LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealUGT, v, cur,
		""), LLVMBuildFCmp(f->b, LLVMRealORD, cur, cur, ""), "");
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, v, cur, ""), best);
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, k, LLVMBuildLoad2(
		f->b, f->c->i64, bi, ""), ""), bi);
	cg_loop_end(f, &l);
	bi = LLVMBuildLoad2(f->b, f->c->i64, bi, "");
	k = cg_loop_begin(f, len, &l);
	i = LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(f->b, k,
		cg_i64(f, inner), ""), "");
	v = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntEQ, k, bi, ""),
		cg_fconst(f, ct, 1), cg_fconst(f, ct, 0), "");
	cg_store_c(f, f->out[0], i, v, t);
	cg_loop_end(f, &l);
}

static bool
lower_softmax(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	bool old = ir_softmax_legacy(n);
	int ax = cg_axis(ir_softmax_axis(n), x->rank);
	int64_t outer = 1, len = 1, inner = 1, dims[2];
	LLVMValueRef ivs[2], base, m, s;
	cg_loop lo[2];
	ir_dtype ct = cg_ctype(n->in[0]->dtype);

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	for (int d = 0; d < x->rank; d++)
		*(d < ax ? &outer : d == ax || old ? &len : &inner) *= x->dim[d];
	dims[0] = outer, dims[1] = inner;
	cg_nest_begin(f, 2, dims, ivs, lo);
	base = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, ivs[0],
		cg_i64(f, len * inner), ""), ivs[1], "");
	if (n->op == OP_Hardmax) {
		hardmax_line(f, base, len, inner);
		cg_nest_end(f, 2, lo);
		return true;
	}
	m = smax_pass(f, 0, base, len, inner, NULL, NULL);
	s = smax_pass(f, 1, base, len, inner, m, NULL);
	if (n->op == OP_LogSoftmax)
		s = cg_math(f, CG_LOG, ct, s);
	smax_pass(f, 2, base, len, inner, m, s);
	cg_nest_end(f, 2, lo);
	return true;
}

bool
cg_lower_softmax(cg_fn *f)
{
	if (!ir_dtype_is_float(f->n->in[0]->dtype))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(f->n->in[0]->dtype));
	return lower_softmax(f);
}

bool
cg_lower_reduce(cg_fn *f)
{
	ir_dtype t = f->n->in[0]->dtype;

	bool arg = f->n->op == OP_ArgMax || f->n->op == OP_ArgMin;

	if (t == IR_BOOL || (t != cg_ctype(t) && arg) ||
	    (!ir_dtype_is_float(t) && (f->n->op == OP_ReduceL2 ||
				       f->n->op == OP_ReduceLogSumExp ||
				       f->n->op == OP_ReduceLogSum)))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	if (arg)
		return lower_argmax(f);
	return lower_reduce(f);
}
