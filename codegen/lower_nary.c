/* Lowering of the n-ary broadcast kind (comparisons, logic, Mod, Min/Max/
 * Sum/Mean, Where), the index-mapped copies (Expand, Tile, DepthToSpace,
 * SpaceToDepth, Range) and the runtime-index ops (ScatterND,
 * ScatterElements, GatherElements, GatherND). Arithmetic matches the
 * ir/op_nary.c reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

#define MAX_IN 15

static LLVMValueRef
compare(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealOLT,
		LLVMRealOGT, LLVMRealOLE, LLVMRealOGE};
	static const LLVMIntPredicate sp[] = {LLVMIntEQ, LLVMIntSLT,
		LLVMIntSGT, LLVMIntSLE, LLVMIntSGE};
	static const LLVMIntPredicate up[] = {LLVMIntEQ, LLVMIntULT,
		LLVMIntUGT, LLVMIntULE, LLVMIntUGE};
	ir_op op = f->n->op;
	int k = op == OP_Equal ? 0 : op == OP_Less ? 1 : op == OP_Greater ? 2
		: op == OP_LessOrEqual ? 3 : 4;

	if (ir_dtype_is_float(t))
		return LLVMBuildFCmp(f->b, fp[k], a, b, "");
	return LLVMBuildICmp(f->b, ir_dtype_is_unsigned(t) ? up[k] : sp[k], a,
			     b, "");
}

/* Remainder with the sign of the divisor unless fmod=1. An integer zero
 * divisor is CG_ERR_DIV_ZERO; it and -1 divide by 1 (giving 0), so that
 * nothing traps. */
static LLVMValueRef
mod(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	bool fl = ir_dtype_is_float(t);
	LLVMValueRef zero = cg_const(f, t, 0), r, fix;

	if (fl) {
		r = LLVMBuildFRem(f->b, a, b, "");
	} else {
		LLVMValueRef bad = LLVMBuildICmp(f->b, LLVMIntEQ, b, zero, "");
		cg_runtime_error(f, bad, CG_ERR_DIV_ZERO);
		if (!ir_dtype_is_unsigned(t))
			bad = LLVMBuildOr(f->b, bad, LLVMBuildICmp(f->b,
				LLVMIntEQ, b, cg_const(f, t, -1), ""), "");
		b = LLVMBuildSelect(f->b, bad, cg_const(f, t, 1), b, "");
		r = ir_dtype_is_unsigned(t) ? LLVMBuildURem(f->b, a, b, "")
			   : LLVMBuildSRem(f->b, a, b, "");
	}
	if (ir_dtype_is_unsigned(t) || ir_attr_i(f->n, "fmod"))
		return r;
	if (fl)
		fix = LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealONE, r,
			zero, ""), LLVMBuildXor(f->b, LLVMBuildFCmp(f->b,
			LLVMRealOLT, r, zero, ""), LLVMBuildFCmp(f->b,
			LLVMRealOLT, b, zero, ""), ""), "");
	else
		fix = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntNE, r, zero,
			""), LLVMBuildXor(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, r,
			zero, ""), LLVMBuildICmp(f->b, LLVMIntSLT, b, zero, ""),
			""), "");
	return LLVMBuildSelect(f->b, fix, cg_add(f, t, r, b), r, "");
}

/* Min/Max step; floats propagate NaN like np.minimum/np.maximum. */
static LLVMValueRef
minmax(cg_fn *f, ir_dtype t, LLVMValueRef acc, LLVMValueRef x)
{
	bool mx = f->n->op == OP_Max;
	LLVMValueRef take;

	if (!ir_dtype_is_float(t))
		return mx ? cg_max(f, t, acc, x) : cg_min(f, t, acc, x);
	take = LLVMBuildFCmp(f->b, mx ? LLVMRealUGT : LLVMRealULT, x, acc, "");
	take = LLVMBuildAnd(f->b, take, LLVMBuildFCmp(f->b, LLVMRealORD, acc,
		acc, ""), "");
	return LLVMBuildSelect(f->b, take, x, acc, "");
}

/* IsInf (detect_negative/detect_positive) and IsNaN as an i1; NaN is
 * never infinite. */
static LLVMValueRef
float_test(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	LLVMValueRef r = LLVMConstNull(f->c->i1);

	if (f->n->op == OP_IsNaN)
		return LLVMBuildFCmp(f->b, LLVMRealUNO, x, x, "");
	if (ir_attr_i(f->n, "detect_positive"))
		r = LLVMBuildOr(f->b, r, LLVMBuildFCmp(f->b, LLVMRealOEQ, x,
			cg_fconst(f, t, INFINITY), ""), "");
	if (ir_attr_i(f->n, "detect_negative"))
		r = LLVMBuildOr(f->b, r, LLVMBuildFCmp(f->b, LLVMRealOEQ, x,
			cg_fconst(f, t, -INFINITY), ""), "");
	return r;
}

/* BitShift of unsigned integers; by the width or more gives 0 (as the
 * interpreter), so LLVM's poison shift is never chosen. */
static LLVMValueRef
bit_shift(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	LLVMValueRef big = LLVMBuildICmp(f->b, LLVMIntUGE, b, cg_const(f, t,
		(double)(ir_dtype_size(t) * 8)), ""), r;

	b = LLVMBuildSelect(f->b, big, cg_const(f, t, 0), b, "");
	r = ir_attr_req_s(f->n, "direction")[0] == 'R'
	    ? LLVMBuildLShr(f->b, a, b, "") : LLVMBuildShl(f->b, a, b, "");
	return LLVMBuildSelect(f->b, big, cg_const(f, t, 0), r, "");
}

static LLVMValueRef
nary_op(cg_fn *f, ir_dtype t, LLVMValueRef *v)
{
	const ir_node *n = f->n;
	LLVMValueRef one = LLVMConstInt(f->c->i8, 1, 0), acc = v[0];

	switch (n->op) {
	case OP_Not: return LLVMBuildXor(f->b, v[0], one, "");
	case OP_And: return LLVMBuildAnd(f->b, v[0], v[1], "");
	case OP_Or: return LLVMBuildOr(f->b, v[0], v[1], "");
	case OP_Xor: return LLVMBuildXor(f->b, v[0], v[1], "");
	case OP_Equal: case OP_Less: case OP_Greater: case OP_LessOrEqual:
	case OP_GreaterOrEqual:
		return LLVMBuildZExt(f->b, compare(f, t, v[0], v[1]), f->c->i8,
				     "");
	case OP_Mod: return mod(f, t, v[0], v[1]);
	case OP_IsInf: case OP_IsNaN:
		return LLVMBuildZExt(f->b, float_test(f, t, v[0]), f->c->i8,
				     "");
	case OP_BitShift: return bit_shift(f, t, v[0], v[1]);
	default: break;
	}
	for (int i = 1; i < n->nin; i++)
		acc = n->op == OP_Min || n->op == OP_Max
		      ? minmax(f, t, acc, v[i]) : cg_add(f, t, acc, v[i]);
	if (n->op == OP_Mean)
		acc = LLVMBuildFDiv(f->b, acc, cg_fconst(f, t, n->nin), "");
	return acc;
}

bool
cg_lower_nary(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *os = &n->out[0]->shape;
	ir_dtype t = n->in[n->op == OP_Where ? 1 : 0]->dtype, ct = cg_ctype(t);
	int64_t dims[IR_MAX_RANK], st[MAX_IN + 1][IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK], v[MAX_IN], r;
	cg_loop loops[IR_MAX_RANK];
	int rank = os->rank;

	if (n->nin > MAX_IN)
		return cg_fail(f, "more than %d inputs", MAX_IN);
	if (ir_shape_numel(os) == 0)
		return true;
	memcpy(dims, os->dim, sizeof dims);
	cg_strides(os, st[0]);
	for (int i = 0; i < n->nin; i++)
		cg_bcast_strides(&n->in[i]->shape, os, st[i + 1]);
	cg_coalesce(&rank, dims, n->nin + 1, st);
	cg_nest_begin(f, rank, dims, ivs, loops);
	for (int i = 0; i < n->nin; i++) {
		LLVMValueRef idx = cg_linear(f, rank, ivs, st[i + 1], 0);
		/* Where moves raw elements: no conversion needed. */
		v[i] = n->op == OP_Where ? cg_load(f, f->in[i], idx)
					 : cg_load_c(f, f->in[i], idx, t);
	}
	if (n->op == OP_Where) {
		r = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntNE, v[0],
			LLVMConstNull(f->c->i8), ""), v[1], v[2], "");
		cg_store(f, f->out[0], cg_linear(f, rank, ivs, st[0], 0), r);
	} else {
		r = nary_op(f, ct, v);
		cg_store_c(f, f->out[0], cg_linear(f, rank, ivs, st[0], 0), r,
			   n->out[0]->dtype);
	}
	cg_nest_end(f, rank, loops);
	return true;
}

/* Range: start + i * delta, the inputs read at run time. */
static bool
lower_range(cg_fn *f)
{
	ir_dtype t = f->n->in[0]->dtype, ct = cg_ctype(t);
	int64_t cnt = ir_shape_numel(&f->n->out[0]->shape);
	LLVMValueRef s, dl, i, x;
	cg_loop l;

	if (cnt == 0)
		return true;
	s = cg_load_c(f, f->in[0], cg_i64(f, 0), t);
	dl = cg_load_c(f, f->in[2], cg_i64(f, 0), t);
	i = cg_loop_begin(f, cnt, &l);
	x = cg_convert(f, i, IR_I64, ct);
	cg_store_c(f, f->out[0], i, cg_add(f, ct, s, cg_mul(f, ct, x, dl)), t);
	cg_loop_end(f, &l);
	return true;
}

/* Trilu: a masked copy over (matrices, rows, cols). */
static bool
lower_trilu(cg_fn *f)
{
	const ir_shape *s = &f->n->in[0]->shape;
	int64_t dims[3], k = ir_trilu_k(f->n);
	bool up = ir_attr_i(f->n, "upper") != 0;
	LLVMValueRef ivs[3], idx, diff, keep, v;
	cg_loop loops[3];

	dims[1] = s->dim[s->rank - 2];
	dims[2] = s->dim[s->rank - 1];
	dims[0] = dims[1] && dims[2] ? ir_shape_numel(s) / (dims[1] * dims[2])
				    : 0;
	if (!dims[0] || !dims[1] || !dims[2])
		return true;
	cg_nest_begin(f, 3, dims, ivs, loops);
	idx = cg_linear(f, 3, ivs, (int64_t[]){dims[1] * dims[2], dims[2], 1},
			0);
	diff = LLVMBuildSub(f->b, ivs[2], ivs[1], "");
	keep = LLVMBuildICmp(f->b, up ? LLVMIntSGE : LLVMIntSLE, diff,
			     cg_i64(f, k), "");
	v = cg_load(f, f->in[0], idx);
	cg_store(f, f->out[0], idx, LLVMBuildSelect(f->b, keep, v,
		LLVMConstNull(LLVMTypeOf(v)), ""));
	cg_nest_end(f, 3, loops);
	return true;
}

bool
cg_lower_expand(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *os = &n->out[0]->shape;
	int64_t cnt = ir_shape_numel(os), dims[IR_MAX_RANK], st[2][IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK], tab, i;
	cg_loop loops[IR_MAX_RANK];
	int rank = os->rank;

	if (n->op == OP_Range)
		return lower_range(f);
	if (n->op == OP_Trilu)
		return lower_trilu(f);
	if (cnt == 0)
		return true;
	if (n->op == OP_Expand) {
		memcpy(dims, os->dim, sizeof dims);
		cg_strides(os, st[0]);
		cg_bcast_strides(&n->in[0]->shape, os, st[1]);
		cg_coalesce(&rank, dims, 2, st);
		cg_nest_begin(f, rank, dims, ivs, loops);
		cg_store(f, f->out[0], cg_linear(f, rank, ivs, st[0], 0),
			 cg_load(f, f->in[0], cg_linear(f, rank, ivs, st[1],
							 0)));
		cg_nest_end(f, rank, loops);
		return true;
	}
	/* Tile and the depth/space shuffles: a table of source offsets. */
	{
		int64_t *map = nn_xmalloc((size_t)cnt * sizeof *map);
		ir_expand_map(n, map);
		tab = cg_i64_table(f, map, cnt);
		free(map);
	}
	i = cg_loop_begin(f, cnt, &loops[0]);
	cg_store(f, f->out[0], i, cg_load(f, f->in[0], cg_load(f, tab, i)));
	cg_loop_end(f, &loops[0]);
	return true;
}

static bool
lower_scatternd(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t), it = n->in[1]->dtype;
	int k = (int)ix->dim[ix->rank - 1];
	int64_t inner = 1, nidx = ir_shape_numel(ix) / k, st[IR_MAX_RANK];
	char r = ir_attr_s(n, "reduction")[0];
	LLVMValueRef q, e, off, src, dst, v;
	cg_loop lq, le;

	for (int i = k; i < x->rank; i++)
		inner *= x->dim[i];
	cg_strides(x, st);
	cg_memcpy(f, f->out[0], cg_i64(f, 0), f->in[0], cg_i64(f, 0),
		  ir_shape_numel(x) * (int64_t)ir_dtype_size(t));
	if (nidx > 0 && inner == 0)
		cg_check_indices(f, f->in[1], it, nidx * k, k, x->dim);
	if (nidx == 0 || inner == 0)
		return true;
	q = cg_loop_begin(f, nidx, &lq);
	off = cg_i64(f, 0);
	for (int j = 0; j < k; j++) {
		LLVMValueRef ij = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, q,
			cg_i64(f, k), ""), cg_i64(f, j), "");
		ij = cg_index(f, cg_load(f, f->in[1], ij), it, x->dim[j]);
		off = LLVMBuildAdd(f->b, off, LLVMBuildMul(f->b, ij,
			cg_i64(f, st[j]), ""), "");
	}
	e = cg_loop_begin(f, inner, &le);
	dst = LLVMBuildAdd(f->b, off, e, "");
	src = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, q, cg_i64(f, inner), ""),
			   e, "");
	if (r == 'n') {
		cg_store(f, f->out[0], dst, cg_load(f, f->in[2], src));
	} else {
		v = cg_load_c(f, f->in[2], src, t);
		e = cg_load_c(f, f->out[0], dst, t);
		v = r == 'a' ? cg_add(f, ct, e, v) : cg_mul(f, ct, e, v);
		cg_store_c(f, f->out[0], dst, v, t);
	}
	cg_loop_end(f, &le);
	cg_loop_end(f, &lq);
	return true;
}

/* GatherElements, or ScatterElements (scatter): over the indices'
 * positions, the data element at the position with the axis coordinate
 * read from the indices. */
static bool
lower_elements(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int ax = cg_axis(ir_attr_i(n, "axis"), x->rank);
	bool scatter = n->op == OP_ScatterElements;
	char r = scatter ? ir_attr_s(n, "reduction")[0] : 'n';
	int64_t xs[IR_MAX_RANK], is[IR_MAX_RANK], axs;
	LLVMValueRef ivs[IR_MAX_RANK], lin, idx, src, v, e;
	cg_loop loops[IR_MAX_RANK];

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	if (scatter)
		cg_memcpy(f, f->out[0], cg_i64(f, 0), f->in[0], cg_i64(f, 0),
			  ir_shape_numel(x) * (int64_t)ir_dtype_size(t));
	if (ir_shape_numel(ix) == 0)
		return true;
	cg_strides(x, xs);
	cg_strides(ix, is);
	axs = xs[ax];
	xs[ax] = 0; /* the axis position comes from the index */
	cg_nest_begin(f, ix->rank, ix->dim, ivs, loops);
	lin = cg_linear(f, ix->rank, ivs, is, 0);
	idx = cg_index(f, cg_load(f, f->in[1], lin), n->in[1]->dtype,
		       x->dim[ax]);
	src = LLVMBuildAdd(f->b, cg_linear(f, ix->rank, ivs, xs, 0),
		LLVMBuildMul(f->b, idx, cg_i64(f, axs), ""), "");
	if (!scatter) {
		cg_store(f, f->out[0], lin, cg_load(f, f->in[0], src));
	} else if (r == 'n') {
		cg_store(f, f->out[0], src, cg_load(f, f->in[2], lin));
	} else {
		v = cg_load_c(f, f->in[2], lin, t);
		e = cg_load_c(f, f->out[0], src, t);
		v = r == 'a' ? cg_add(f, ct, e, v) : cg_mul(f, ct, e, v);
		cg_store_c(f, f->out[0], src, v, t);
	}
	/* scatters in order: a later duplicate index wins, as in the
	 * interpreter */
	if (scatter)
		for (int k = ix->rank - 1; k >= 0; k--)
			cg_loop_end_novec(f, &loops[k], false);
	else
		cg_nest_end(f, ix->rank, loops);
	return true;
}

/* GatherND: tuple q of k indices picks a block of `inner` elements at
 * axes b..b+k-1 of batch q / per (b: batch_dims). */
static bool
lower_gather_nd(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype it = n->in[1]->dtype;
	int b = (int)ir_attr_i(n, "batch_dims");
	int k = (int)ix->dim[ix->rank - 1];
	int64_t inner = 1, per = 1, st[IR_MAX_RANK];
	int64_t nidx = ir_shape_numel(ix) / k;
	LLVMValueRef q, e, off;
	cg_loop lq, le;

	for (int i = b + k; i < x->rank; i++)
		inner *= x->dim[i];
	for (int i = b; i < ix->rank - 1; i++)
		per *= ix->dim[i];
	cg_strides(x, st);
	if (nidx > 0 && inner == 0)
		cg_check_indices(f, f->in[1], it, nidx * k, k, x->dim + b);
	if (nidx == 0 || inner == 0)
		return true;
	q = cg_loop_begin(f, nidx, &lq);
	off = b ? LLVMBuildMul(f->b, LLVMBuildUDiv(f->b, q, cg_i64(f, per),
		""), cg_i64(f, st[b - 1]), "") : cg_i64(f, 0);
	for (int j = 0; j < k; j++) {
		LLVMValueRef ij = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, q,
			cg_i64(f, k), ""), cg_i64(f, j), "");
		ij = cg_index(f, cg_load(f, f->in[1], ij), it, x->dim[b + j]);
		off = LLVMBuildAdd(f->b, off, LLVMBuildMul(f->b, ij,
			cg_i64(f, st[b + j]), ""), "");
	}
	e = cg_loop_begin(f, inner, &le);
	cg_store(f, f->out[0], LLVMBuildAdd(f->b, LLVMBuildMul(f->b, q,
		cg_i64(f, inner), ""), e, ""), cg_load(f, f->in[0],
		LLVMBuildAdd(f->b, off, e, "")));
	cg_loop_end(f, &le);
	cg_loop_end(f, &lq);
	return true;
}

bool
cg_lower_scatter(cg_fn *f)
{
	switch (f->n->op) {
	case OP_ScatterND: return lower_scatternd(f);
	case OP_GatherND: return lower_gather_nd(f);
	default: return lower_elements(f);
	}
}
