/* Lowering of MaxPool (with optional Indices), AveragePool and the
 * global pools. Window positions outside the input are masked with
 * selects, so the loops keep constant trip counts. */
#include <math.h>
#include <string.h>

#include "cg_internal.h"

typedef struct pgeo {
	int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
	int64_t isz, osz;
} pgeo;

static int64_t
fdiv2(int64_t a)
{
	return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static void
get_pgeo(const ir_node *n, pgeo *g)
{
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;
	int sp = x->rank - 2, nk, np, ns, nd;
	const int64_t *ks = ir_attr_ints(n, "kernel_shape", &nk);
	const int64_t *pads = ir_attr_ints(n, "pads", &np);
	const int64_t *st = ir_attr_ints(n, "strides", &ns);
	const int64_t *dl = ir_attr_ints(n, "dilations", &nd);
	const char *ap = ir_attr_s(n, "auto_pad");
	bool same = !strncmp(ap, "SAME", 4);

	g->isz = g->osz = 1;
	for (int a = 0; a < 3; a++) {
		int j = a - (3 - sp);
		bool on = j >= 0;
		g->in[a] = on ? x->dim[2 + j] : 1;
		g->out[a] = on ? y->dim[2 + j] : 1;
		g->k[a] = on && ks && j < nk ? ks[j] : 1;
		g->s[a] = on && st && j < ns ? st[j] : 1;
		g->d[a] = on && dl && j < nd ? dl[j] : 1;
		g->pb[a] = on && pads && j < np ? pads[j] : 0;
		g->pe[a] = on && pads && sp + j < np ? pads[sp + j] : 0;
		if (on && same) {
			int64_t tot = (g->out[a] - 1) * g->s[a] +
				      (g->k[a] - 1) * g->d[a] + 1 - g->in[a];
			if (tot < 0)
				tot = 0;
			g->pb[a] = !strcmp(ap, "SAME_UPPER") ? fdiv2(tot)
							     : tot - fdiv2(tot);
			g->pe[a] = tot - g->pb[a];
		} else if (on && !strcmp(ap, "VALID")) {
			g->pb[a] = g->pe[a] = 0;
		}
		g->isz *= g->in[a];
		g->osz *= g->out[a];
	}
}

static LLVMValueRef
int_min(cg_fn *f, ir_dtype t)
{
	if (t == IR_U8 || t == IR_U16 || t == IR_U32 || t == IR_U64)
		return LLVMConstNull(cg_type(f->c, t));
	return LLVMConstInt(cg_type(f->c, t),
			    1ull << (ir_dtype_size(t) * 8 - 1), 0);
}

/* Whether a replaces the running maximum b: for floats the first NaN
 * wins and stays (the index points at it), as in the interpreter. */
static LLVMValueRef
gt(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (ir_dtype_is_float(t))
		return LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealUGT, a,
			b, ""), LLVMBuildFCmp(f->b, LLVMRealORD, b, b, ""), "");
	return LLVMBuildICmp(f->b, t == IR_U8 || t == IR_U16 || t == IR_U32 ||
			     t == IR_U64 ? LLVMIntUGT : LLVMIntSGT, a, b, "");
}

typedef struct acc {
	LLVMValueRef val, cnt, idx;
} acc;

/* The body for one window position: coordinates c[a] of the input. */
static void
window_step(cg_fn *f, const pgeo *g, acc *ac, LLVMValueRef *oiv,
	    LLVMValueRef *kiv, LLVMValueRef x0, bool max, ir_dtype t)
{
	LLVMValueRef valid = LLVMConstInt(f->c->i1, 1, 0), inpad = valid;
	LLVMValueRef li = x0, v, cur, better;
	int64_t st[3] = {g->in[1] * g->in[2], g->in[2], 1};

	for (int a = 0; a < 3; a++) {
		LLVMValueRef c = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b,
			oiv[a], cg_i64(f, g->s[a]), ""), LLVMBuildNSWMul(f->b,
			kiv[a], cg_i64(f, g->d[a]), ""), "");
		LLVMValueRef ok;
		c = LLVMBuildNSWSub(f->b, c, cg_i64(f, g->pb[a]), "");
		ok = LLVMBuildICmp(f->b, LLVMIntULT, c, cg_i64(f, g->in[a]), "");
		valid = LLVMBuildAnd(f->b, valid, ok, "");
		inpad = LLVMBuildAnd(f->b, inpad, LLVMBuildICmp(f->b,
			LLVMIntSLT, c, cg_i64(f, g->in[a] + g->pe[a]), ""), "");
		c = LLVMBuildSelect(f->b, ok, c, cg_i64(f, 0), "");
		li = LLVMBuildNSWAdd(f->b, li, LLVMBuildNSWMul(f->b, c,
			cg_i64(f, st[a]), ""), "");
	}
	v = cg_load_c(f, f->in[0], li, t);
	cur = LLVMBuildLoad2(f->b, cg_type(f->c, cg_ctype(t)), ac->val, "");
	if (max) {
		/* the first valid element is taken whatever it is (-Inf, or
		 * the type's minimum), so the index points into the window */
		LLVMValueRef seen = LLVMBuildLoad2(f->b, f->c->i64, ac->cnt, "");
		better = LLVMBuildAnd(f->b, valid, LLVMBuildOr(f->b,
			LLVMBuildICmp(f->b, LLVMIntEQ, seen, cg_i64(f, 0), ""),
			gt(f, cg_ctype(t), v, cur), ""), "");
		LLVMBuildStore(f->b, LLVMBuildNSWAdd(f->b, seen,
			LLVMBuildZExt(f->b, valid, f->c->i64, ""), ""), ac->cnt);
		LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better, v, cur, ""),
			       ac->val);
		LLVMBuildStore(f->b, LLVMBuildSelect(f->b, better,
			LLVMBuildNSWSub(f->b, li, x0, ""), LLVMBuildLoad2(f->b,
			f->c->i64, ac->idx, ""), ""), ac->idx);
		return;
	}
	v = LLVMBuildSelect(f->b, valid, v, cg_fconst(f, cg_ctype(t), 0), "");
	LLVMBuildStore(f->b, LLVMBuildFAdd(f->b, cur, v, ""), ac->val);
	if (ir_attr_i(f->n, "count_include_pad"))
		valid = inpad;
	LLVMBuildStore(f->b, LLVMBuildNSWAdd(f->b, LLVMBuildLoad2(f->b,
		f->c->i64, ac->cnt, ""), LLVMBuildZExt(f->b, valid, f->c->i64,
		""), ""), ac->cnt);
}

/* MaxPool's Indices: flat index into X, column-major within the image
 * when storage_order is 1. */
static LLVMValueRef
max_index(cg_fn *f, const pgeo *g, LLVMValueRef nc, LLVMValueRef rel)
{
	LLVMValueRef h, w;

	if (ir_attr_i(f->n, "storage_order")) {
		h = LLVMBuildSDiv(f->b, rel, cg_i64(f, g->in[2]), "");
		w = LLVMBuildSRem(f->b, rel, cg_i64(f, g->in[2]), "");
		rel = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, w,
			cg_i64(f, g->in[1] * g->in[0]), ""), h, "");
	}
	return LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, nc,
		cg_i64(f, g->isz), ""), rel, "");
}

static bool
lower_window(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	bool max = n->op == OP_MaxPool;
	int64_t od[4], nc = n->in[0]->shape.dim[0] * n->in[0]->shape.dim[1];
	LLVMValueRef oiv[4], kiv[3], x0, o, res;
	cg_loop lo[4], lk[3];
	acc ac;
	pgeo g;

	get_pgeo(n, &g);
	ac.val = cg_alloca(f, cg_type(f->c, ct));
	ac.cnt = cg_alloca(f, f->c->i64);
	ac.idx = cg_alloca(f, f->c->i64);
	od[0] = nc, od[1] = g.out[0], od[2] = g.out[1], od[3] = g.out[2];
	cg_nest_begin(f, 4, od, oiv, lo);
	LLVMBuildStore(f->b, ir_dtype_is_float(ct) ? cg_fconst(f, ct, max ?
		-INFINITY : 0) : int_min(f, ct), ac.val);
	LLVMBuildStore(f->b, cg_i64(f, 0), ac.cnt);
	LLVMBuildStore(f->b, cg_i64(f, 0), ac.idx);
	x0 = LLVMBuildNSWMul(f->b, oiv[0], cg_i64(f, g.isz), "");
	cg_nest_begin(f, 3, g.k, kiv, lk);
	window_step(f, &g, &ac, oiv + 1, kiv, x0, max, t);
	cg_nest_end(f, 3, lk);
	o = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oiv[0],
		cg_i64(f, g.osz), ""), cg_linear(f, 3, oiv + 1, (int64_t[]){
		g.out[1] * g.out[2], g.out[2], 1}, 0), "");
	res = LLVMBuildLoad2(f->b, cg_type(f->c, ct), ac.val, "");
	if (!max)
		res = LLVMBuildFDiv(f->b, res, LLVMBuildSIToFP(f->b,
			LLVMBuildLoad2(f->b, f->c->i64, ac.cnt, ""),
			cg_type(f->c, ct), ""), "");
	cg_store_c(f, f->out[0], o, res, t);
	if (max && n->nout > 1 && f->out[1])
		cg_store(f, f->out[1], o, max_index(f, &g, oiv[0],
			LLVMBuildLoad2(f->b, f->c->i64, ac.idx, "")));
	cg_nest_end(f, 4, lo);
	return true;
}

static bool
lower_global(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	const ir_shape *x = &n->in[0]->shape;
	int64_t nc = x->dim[0] * x->dim[1], sz = ir_shape_numel(x) / nc;
	bool max = n->op == OP_GlobalMaxPool;
	LLVMValueRef a = cg_alloca(f, cg_type(f->c, ct)), c, i, v, cur;
	cg_loop l1, l2;

	c = cg_loop_begin(f, nc, &l1);
	LLVMBuildStore(f->b, cg_fconst(f, ct, max ? -INFINITY : 0), a);
	i = cg_loop_begin(f, sz, &l2);
	v = cg_load_c(f, f->in[0], LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b,
		c, cg_i64(f, sz), ""), i, ""), t);
	cur = LLVMBuildLoad2(f->b, cg_type(f->c, ct), a, "");
	LLVMBuildStore(f->b, max ? cg_max(f, ct, v, cur)
				 : LLVMBuildFAdd(f->b, cur, v, ""), a);
	cg_loop_end(f, &l2);
	v = LLVMBuildLoad2(f->b, cg_type(f->c, ct), a, "");
	if (!max)
		v = LLVMBuildFDiv(f->b, v, cg_fconst(f, ct, (double)sz), "");
	cg_store_c(f, f->out[0], c, v, t);
	cg_loop_end(f, &l1);
	return true;
}

bool
cg_lower_pool(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype;
	int sp = n->in[0]->shape.rank - 2;

	if (t == IR_BOOL || (!ir_dtype_is_float(t) && n->op != OP_MaxPool))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	if (n->op == OP_GlobalAveragePool || n->op == OP_GlobalMaxPool)
		return lower_global(f);
	if (sp < 1 || sp > 3)
		return cg_fail(f, "%d spatial dims are not supported", sp);
	return lower_window(f);
}
