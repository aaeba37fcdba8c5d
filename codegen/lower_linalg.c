/* Lowering of Det: per matrix, a copy in double in the node's scratch,
 * then LU decomposition with partial pivoting in run-time loops, step
 * for step as ir/op_linalg.c (so the object gives the interpreter's
 * bits). */
#include "cg_internal.h"

int64_t
cg_linalg_scratch_bytes(const ir_node *n)
{
	const ir_shape *s;
	int64_t m;

	if (ir_ops[n->op].kind != IR_KIND_LINALG)
		return 0;
	s = &n->in[0]->shape;
	m = s->dim[s->rank - 1];
	return m * m * (int64_t)sizeof(double);
}

/* Element (i, j) of the m x m scratch matrix a. */
static LLVMValueRef
elem(cg_fn *f, LLVMValueRef a, LLVMValueRef i, LLVMValueRef j, int64_t m)
{
	return cg_gep(f, a, cg_iadd(f, cg_imul(f, i, m), j));
}

static LLVMValueRef
ld(cg_fn *f, LLVMValueRef p)
{
	return LLVMBuildLoad2(f->b, f->c->f64, p, "");
}

/* *p is the row of the first element of largest magnitude in column k
 * from row k on; a NaN wins over any number, the first NaN stays. */
static void
find_pivot(cg_fn *f, LLVMValueRef a, LLVMValueRef k, int64_t m,
	   LLVMValueRef p)
{
	LLVMValueRef best = cg_alloca(f, f->c->f64), i, v, cur, better, x;
	cg_loop l;

	LLVMBuildStore(f->b, k, p);
	x = ld(f, elem(f, a, k, k, m));
	LLVMBuildStore(f->b, cg_intrin(f, "fabs", IR_F64, 1, &x), best);
	i = cg_loop_begin_dyn(f, cg_iadd(f, k, cg_i64(f, 1)), cg_i64(f, m), &l);
	x = ld(f, elem(f, a, i, k, m));
	v = cg_intrin(f, "fabs", IR_F64, 1, &x);
	cur = ld(f, best);
	better = LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealUGT, v, cur,
		""), LLVMBuildFCmp(f->b, LLVMRealORD, cur, cur, ""), "");
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, v, cur, ""), best);
	LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, i, LLVMBuildLoad2(
		f->b, f->c->i64, p, ""), ""), p);
	cg_loop_end_dyn(f, &l);
}

/* Rows k and pk swapped from column k on; rows below k less their
 * multiple of row k (pivot dv). */
static void
eliminate(cg_fn *f, LLVMValueRef a, LLVMValueRef k, LLVMValueRef pk,
	  LLVMValueRef dv, int64_t m)
{
	LLVMValueRef k1 = cg_iadd(f, k, cg_i64(f, 1)), end = cg_i64(f, m);
	LLVMValueRef j, i, x, y, fct, pa, pb;
	cg_loop lj, li;

	j = cg_loop_begin_dyn(f, k, end, &lj);
	pa = elem(f, a, k, j, m);
	pb = elem(f, a, pk, j, m);
	x = ld(f, pa);
	y = ld(f, pb);
	LLVMBuildStore(f->b, y, pa);
	LLVMBuildStore(f->b, x, pb);
	cg_loop_end_dyn(f, &lj);
	i = cg_loop_begin_dyn(f, k1, end, &li);
	fct = LLVMBuildFDiv(f->b, ld(f, elem(f, a, i, k, m)), dv, "");
	j = cg_loop_begin_dyn(f, k1, end, &lj);
	pa = elem(f, a, i, j, m);
	x = LLVMBuildFMul(f->b, fct, ld(f, elem(f, a, k, j, m)), "");
	LLVMBuildStore(f->b, LLVMBuildFSub(f->b, ld(f, pa), x, ""), pa);
	cg_loop_end_dyn(f, &lj);
	cg_loop_end_dyn(f, &li);
}

/* The determinant of the scratch matrix a (m >= 1) as an f64: a zero
 * pivot makes it 0 (the steps after it divide by 1 and are discarded,
 * where the interpreter stops). */
static LLVMValueRef
det_lu(cg_fn *f, LLVMValueRef a, int64_t m)
{
	LLVMValueRef det = cg_alloca(f, f->c->f64), sing = cg_alloca(f,
		f->c->i1), p = cg_alloca(f, f->c->i64), k, pk, pv, z, d;
	cg_loop lk;

	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 1), det);
	LLVMBuildStore(f->b, LLVMConstNull(f->c->i1), sing);
	k = cg_loop_begin(f, m, &lk);
	find_pivot(f, a, k, m, p);
	pk = LLVMBuildLoad2(f->b, f->c->i64, p, "");
	pv = ld(f, elem(f, a, pk, k, m));
	z = LLVMBuildFCmp(f->b, LLVMRealOEQ, pv, cg_fconst(f, IR_F64, 0), "");
	LLVMBuildStore(f->b, LLVMBuildOr(f->b, LLVMBuildLoad2(f->b, f->c->i1,
		sing, ""), z, ""), sing);
	d = ld(f, det);
	d = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntNE, pk, k, ""),
			    LLVMBuildFNeg(f->b, d, ""), d, "");
	LLVMBuildStore(f->b, LLVMBuildFMul(f->b, d, pv, ""), det);
	eliminate(f, a, k, pk, LLVMBuildSelect(f->b, z, cg_fconst(f, IR_F64,
		1), pv, ""), m);
	cg_loop_end(f, &lk);
	return LLVMBuildSelect(f->b, LLVMBuildLoad2(f->b, f->c->i1, sing, ""),
			       cg_fconst(f, IR_F64, 0), ld(f, det), "");
}

bool
cg_lower_linalg(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *s = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int64_t m = s->dim[s->rank - 1], mm = m * m;
	int64_t nb = ir_shape_numel(&n->out[0]->shape);
	LLVMValueRef a, b, e, v;
	cg_loop lb, le;

	if (!ir_dtype_is_float(t))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	b = cg_loop_begin(f, nb, &lb);
	if (m == 0) { /* the empty product */
		cg_store_c(f, f->out[0], b, cg_fconst(f, ct, 1), t);
		cg_loop_end(f, &lb);
		return true;
	}
	a = LLVMBuildBitCast(f->b, f->scratch, LLVMPointerType(f->c->f64, 0),
			     "");
	e = cg_loop_begin(f, mm, &le);
	v = cg_load_c(f, f->in[0], cg_iadd(f, cg_imul(f, b, mm), e), t);
	cg_store(f, a, e, cg_convert(f, v, ct, IR_F64));
	cg_loop_end(f, &le);
	v = cg_convert(f, det_lu(f, a, m), IR_F64, ct);
	cg_store_c(f, f->out[0], b, v, t);
	cg_loop_end(f, &lb);
	return true;
}
