/* Lowering of the index kind (CumSum, OneHot, TopK, ReverseSequence,
 * Compress, MaxUnpool); the arithmetic and orders are ir/op_index.c's.
 * ReverseSequence's lengths and MaxUnpool's indices are read at run time
 * and checked (CG_ERR_INDEX). */
#include <stdlib.h>

#include "cg_internal.h"

/* Sizes before, along and after axis a of s. */
static void
split3(const ir_shape *s, int a, int64_t *dims)
{
	dims[0] = dims[2] = 1;
	for (int k = 0; k < s->rank; k++)
		if (k != a)
			dims[k < a ? 0 : 2] *= s->dim[k];
	dims[1] = s->dim[a];
}

/* Running sums along the axis in cg_ctype (integers wrap). */
static bool
lower_cumsum(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	bool ex = ir_attr_i(n, "exclusive") != 0;
	bool rev = ir_attr_i(n, "reverse") != 0;
	int64_t d[3];
	LLVMValueRef ivs[2], acc, s, p, a0, nv;
	cg_loop loops[2], ls;

	if (ir_shape_numel(&n->in[0]->shape) == 0)
		return true;
	split3(&n->in[0]->shape, ir_cumsum_axis(n), d);
	acc = cg_alloca(f, cg_type(f->c, ct));
	cg_nest_begin(f, 2, (int64_t[]){d[0], d[2]}, ivs, loops);
	LLVMBuildStore(f->b, cg_const(f, ct, 0), acc);
	s = cg_loop_begin(f, d[1], &ls);
	if (rev)
		s = LLVMBuildSub(f->b, cg_i64(f, d[1] - 1), s, "");
	p = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, LLVMBuildAdd(f->b,
		LLVMBuildMul(f->b, ivs[0], cg_i64(f, d[1]), ""), s, ""),
		cg_i64(f, d[2]), ""), ivs[1], "");
	a0 = LLVMBuildLoad2(f->b, cg_type(f->c, ct), acc, "");
	nv = cg_add(f, ct, a0, cg_load_c(f, f->in[0], p, t));
	LLVMBuildStore(f->b, nv, acc);
	cg_store_c(f, f->out[0], p, ex ? a0 : nv, t);
	cg_loop_end(f, &ls);
	cg_nest_end(f, 2, loops);
	return true;
}

/* The depth position index v (of type it) selects and whether it selects
 * one (onehot_pos in ir/op_index.c). */
static LLVMValueRef
onehot_pos(cg_fn *f, LLVMValueRef v, ir_dtype it, int64_t depth,
	   LLVMValueRef *valid)
{
	LLVMValueRef lo, hi, iv;

	if (ir_dtype_is_float(it)) {
		ir_dtype ct = cg_ctype(it);
		v = cg_convert(f, v, it, ct);
		lo = LLVMBuildFCmp(f->b, LLVMRealOGT, v, cg_fconst(f, ct,
			(double)-depth - 1), "");
		hi = LLVMBuildFCmp(f->b, LLVMRealOLT, v, cg_fconst(f, ct,
			(double)depth), "");
		*valid = LLVMBuildAnd(f->b, lo, hi, "");
		v = LLVMBuildSelect(f->b, *valid, v, cg_fconst(f, ct, 0), "");
		iv = LLVMBuildFPToSI(f->b, v, f->c->i64, "");
	} else {
		iv = cg_convert(f, v, it, IR_I64);
		if (ir_dtype_is_unsigned(it))
			*valid = LLVMBuildICmp(f->b, LLVMIntULT, iv,
					       cg_i64(f, depth), "");
		else
			*valid = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b,
				LLVMIntSGE, iv, cg_i64(f, -depth), ""),
				LLVMBuildICmp(f->b, LLVMIntSLT, iv,
					      cg_i64(f, depth), ""), "");
	}
	return LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, iv,
		cg_i64(f, 0), ""), LLVMBuildAdd(f->b, iv, cg_i64(f, depth), ""),
		iv, "");
}

static bool
lower_onehot(cg_fn *f)
{
	const ir_node *n = f->n;
	int64_t d[3], depth = ir_onehot_depth(n);
	LLVMValueRef ivs[3], v, pos, valid, hit, off, on;
	cg_loop loops[3];

	if (ir_shape_numel(&n->out[0]->shape) == 0)
		return true;
	split3(&n->out[0]->shape, ir_onehot_axis(n), d);
	off = cg_load(f, f->in[2], cg_i64(f, 0));
	on = cg_load(f, f->in[2], cg_i64(f, 1));
	cg_nest_begin(f, 3, d, ivs, loops);
	v = cg_load(f, f->in[0], LLVMBuildAdd(f->b, LLVMBuildMul(f->b, ivs[0],
		cg_i64(f, d[2]), ""), ivs[2], ""));
	pos = onehot_pos(f, v, n->in[0]->dtype, depth, &valid);
	hit = LLVMBuildAnd(f->b, valid, LLVMBuildICmp(f->b, LLVMIntEQ, pos,
		ivs[1], ""), "");
	cg_store(f, f->out[0], cg_linear(f, 3, ivs, (int64_t[]){d[1] * d[2],
		d[2], 1}, 0), LLVMBuildSelect(f->b, hit, on, off, ""));
	cg_nest_end(f, 3, loops);
	return true;
}

/* a > b in TopK's order for cg_ctype t: NaN above every number. */
static LLVMValueRef
topk_gt(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (!ir_dtype_is_float(t))
		return LLVMBuildICmp(f->b, ir_dtype_is_unsigned(t) ? LLVMIntUGT
				     : LLVMIntSGT, a, b, "");
	return LLVMBuildOr(f->b, LLVMBuildFCmp(f->b, LLVMRealOGT, a, b, ""),
		LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealUNO, a, a, ""),
			LLVMBuildFCmp(f->b, LLVMRealORD, b, b, ""), ""), "");
}

/* Whether (a, ia) comes before (b, ib) in TopK's order: the larger
 * (largest) or smaller value, equal ones by the lower index. */
static LLVMValueRef
topk_before(cg_fn *f, ir_dtype ct, bool largest, LLVMValueRef a,
	    LLVMValueRef ia, LLVMValueRef b, LLVMValueRef ib)
{
	LLVMValueRef gt = topk_gt(f, ct, a, b), lt = topk_gt(f, ct, b, a);

	return LLVMBuildOr(f->b, largest ? gt : lt, LLVMBuildAnd(f->b,
		LLVMBuildNot(f->b, LLVMBuildOr(f->b, gt, lt, ""), ""),
		LLVMBuildICmp(f->b, LLVMIntSLT, ia, ib, ""), ""), "");
}

/* K selection passes over each slice, O(K * len): pass r takes the first
 * element, in TopK's (strict, total) order, after the one pass r - 1
 * took, so the outputs come out sorted, as the interpreter's. */
static bool
lower_topk(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int64_t d[3], k = ir_topk_k(n), a = ir_attr_i(n, "axis");
	bool largest = ir_attr_i(n, "largest") != 0;
	LLVMTypeRef vt = cg_type(f->c, ct);
	LLVMValueRef ivs[2], r, j, base, pi, pv, bi, bv, xj, take, p;
	LLVMValueRef prev = cg_alloca(f, f->c->i64), best;
	cg_loop loops[2], lr, lj;

	if (ir_shape_numel(&n->out[0]->shape) == 0)
		return true;
	a = a < 0 ? a + n->in[0]->shape.rank : a;
	split3(&n->in[0]->shape, (int)a, d);
	best = cg_alloca(f, f->c->i64);
	bv = cg_alloca(f, vt);
	cg_nest_begin(f, 2, (int64_t[]){d[0], d[2]}, ivs, loops);
	base = cg_iadd(f, cg_imul(f, ivs[0], d[1] * d[2]), ivs[1]);
	LLVMBuildStore(f->b, cg_i64(f, -1), prev);
	r = cg_loop_begin(f, k, &lr);
	pi = LLVMBuildLoad2(f->b, f->c->i64, prev, "");
	pv = cg_load_c(f, f->in[0], cg_iadd(f, base, cg_imul(f,
		cg_max(f, IR_I64, pi, cg_i64(f, 0)), d[2])), t);
	LLVMBuildStore(f->b, cg_i64(f, -1), best);
	LLVMBuildStore(f->b, cg_const(f, ct, 0), bv);
	j = cg_loop_begin(f, d[1], &lj);
	xj = cg_load_c(f, f->in[0], cg_iadd(f, base, cg_imul(f, j, d[2])), t);
	bi = LLVMBuildLoad2(f->b, f->c->i64, best, "");
	take = LLVMBuildAnd(f->b, LLVMBuildOr(f->b, LLVMBuildICmp(f->b,
		LLVMIntSLT, pi, cg_i64(f, 0), ""), topk_before(f, ct, largest,
		pv, pi, xj, j), ""), LLVMBuildOr(f->b, LLVMBuildICmp(f->b,
		LLVMIntSLT, bi, cg_i64(f, 0), ""), topk_before(f, ct, largest,
		xj, j, LLVMBuildLoad2(f->b, vt, bv, ""), bi), ""), "");
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, take, j, bi, ""), best);
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, take, xj,
		LLVMBuildLoad2(f->b, vt, bv, ""), ""), bv);
	cg_loop_end(f, &lj);
	bi = LLVMBuildLoad2(f->b, f->c->i64, best, "");
	p = cg_iadd(f, cg_imul(f, cg_iadd(f, cg_imul(f, ivs[0], k), r), d[2]),
		    ivs[1]);
	cg_store_c(f, f->out[0], p, LLVMBuildLoad2(f->b, vt, bv, ""), t);
	if (n->nout > 1 && f->out[1])
		cg_store(f, f->out[1], p, bi);
	LLVMBuildStore(f->b, bi, prev);
	cg_loop_end(f, &lr);
	cg_nest_end(f, 2, loops);
	return true;
}

/* Per batch entry b: its length, checked against [0, T] (CG_ERR_INDEX,
 * then 0), and time step t read from len - 1 - t while t < len. */
static bool
lower_reverse_sequence(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	int ta = (int)ir_attr_i(n, "time_axis");
	int64_t inner = 1, tn = x->dim[ta], nb = x->dim[1 - ta];
	int64_t d1 = x->dim[1], sb = ta ? d1 : 1, stt = ta ? 1 : d1;
	LLVMValueRef b, t, e, len, bad, s, o, i;
	cg_loop lb, lt, le;

	for (int k = 2; k < x->rank; k++)
		inner *= x->dim[k];
	if (nb == 0)
		return true;
	b = cg_loop_begin(f, nb, &lb);
	len = cg_convert(f, cg_load(f, f->in[1], b), n->in[1]->dtype, IR_I64);
	bad = LLVMBuildICmp(f->b, LLVMIntUGT, len, cg_i64(f, tn), "");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	len = LLVMBuildSelect(f->b, bad, cg_i64(f, 0), len, "");
	if (tn > 0 && inner > 0) {
		t = cg_loop_begin(f, tn, &lt);
		s = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, t,
			len, ""), LLVMBuildSub(f->b, LLVMBuildSub(f->b, len,
			cg_i64(f, 1), ""), t, ""), t, "");
		o = cg_iadd(f, cg_imul(f, b, sb), cg_imul(f, t, stt));
		i = cg_iadd(f, cg_imul(f, b, sb), cg_imul(f, s, stt));
		e = cg_loop_begin(f, inner, &le);
		cg_store(f, f->out[0], cg_iadd(f, cg_imul(f, o, inner), e),
			 cg_load(f, f->in[0], cg_iadd(f, cg_imul(f, i, inner),
						     e)));
		cg_loop_end(f, &le);
		cg_loop_end(f, &lt);
	}
	cg_loop_end(f, &lb);
	return true;
}

static bool
lower_compress(cg_fn *f)
{
	int64_t cnt = ir_shape_numel(&f->n->out[0]->shape), *map;
	LLVMValueRef tab, i;
	cg_loop l;

	if (cnt == 0)
		return true;
	map = nn_xmalloc((size_t)cnt * sizeof *map);
	ir_compress_map(f->n, map);
	tab = cg_i64_table(f, map, cnt);
	free(map);
	i = cg_loop_begin(f, cnt, &l);
	cg_store(f, f->out[0], i, cg_load(f, f->in[0], cg_load(f, tab, i)));
	cg_loop_end(f, &l);
	return true;
}

/* Zeros, then y[I[q]] = X[q] in order; I addresses the inferred output,
 * at the start of every axis of the output (ir/op_index.c). */
static bool
lower_maxunpool(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *os = &n->out[0]->shape;
	int64_t total = ir_shape_numel(&n->in[0]->shape), m, st[IR_MAX_RANK];
	LLVMValueRef q, v, bad, off, r, zero;
	ir_shape inf;
	cg_loop l;

	if (ir_shape_numel(os) == 0)
		return true;
	ir_maxunpool_inferred(n, &inf);
	m = ir_shape_numel(&inf);
	cg_strides(os, st);
	zero = LLVMConstNull(cg_type(f->c, n->out[0]->dtype));
	q = cg_loop_begin(f, ir_shape_numel(os), &l);
	cg_store(f, f->out[0], q, zero);
	cg_loop_end(f, &l);
	if (total == 0)
		return true;
	q = cg_loop_begin(f, total, &l);
	v = cg_load(f, f->in[1], q);
	bad = LLVMBuildICmp(f->b, LLVMIntUGE, v, cg_i64(f, m), "");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	v = LLVMBuildSelect(f->b, bad, cg_i64(f, 0), v, "");
	if (ir_shape_eq(&inf, os)) {
		off = v;
	} else {
		off = cg_i64(f, 0);
		r = v;
		for (int k = inf.rank - 1; k >= 0; k--) {
			LLVMValueRef dk = cg_i64(f, inf.dim[k]);
			off = cg_iadd(f, off, cg_imul(f, LLVMBuildURem(f->b, r,
				dk, ""), st[k]));
			r = LLVMBuildUDiv(f->b, r, dk, "");
		}
	}
	cg_store(f, f->out[0], off, cg_load(f, f->in[0], q));
	cg_loop_end_novec(f, &l, false);
	return true;
}

bool
cg_lower_index(cg_fn *f)
{
	switch (f->n->op) {
	case OP_CumSum: return lower_cumsum(f);
	case OP_OneHot: return lower_onehot(f);
	case OP_TopK: return lower_topk(f);
	case OP_ReverseSequence: return lower_reverse_sequence(f);
	case OP_Compress: return lower_compress(f);
	case OP_MaxUnpool: return lower_maxunpool(f);
	default: return cg_fail(f, "not an index op");
	}
}
