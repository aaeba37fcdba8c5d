/* Lowering of the signal ops. The windows and MelWeightMatrix have only
 * constant inputs: shape inference has usually computed their output
 * already (the node then has no code); when it has not (an output too
 * large to fold), the interpreter's hook computes it here, at compile
 * time, into a constant the node copies out. DFT and STFT are direct
 * O(len^2) sums in double with constant twiddle tables (cos and sin of
 * 2 pi j / len), as ir_dft_get describes them. */
#include <math.h>
#include <stdlib.h>

#include "cg_internal.h"

#define TWO_PI 6.283185307179586476925286766559

static bool
lower_folded(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_value *o = n->out[0];
	size_t nb = (size_t)ir_shape_numel(&o->shape) * ir_dtype_size(o->dtype);
	const void *in[5] = {0};
	void *buf = nn_xcalloc(nb + 1, 1), *out[1] = {buf};
	bool ok;

	for (int i = 0; i < n->nin && i < 5; i++)
		in[i] = n->in[i] ? n->in[i]->data : NULL;
	ok = ir_eval_node(n, in, out, f->c->d);
	if (ok && nb)
		cg_memcpy(f, f->out[0], cg_i64(f, 0),
			  cg_const_global(f->c, "sig", buf, nb), cg_i64(f, 0),
			  (int64_t)nb);
	free(buf);
	return ok;
}

/* A constant table of n doubles, as a double*. */
static LLVMValueRef
f64_table(cg_fn *f, const double *v, int64_t n)
{
	LLVMValueRef g = cg_const_global(f->c, "tw", v, (size_t)n * sizeof *v);

	return LLVMBuildBitCast(f->b, g, LLVMPointerType(f->c->f64, 0), "");
}

static LLVMValueRef
load_f64(cg_fn *f, LLVMValueRef p, LLVMValueRef i, ir_dtype t)
{
	return cg_convert(f, cg_load_c(f, p, i, t), cg_ctype(t), IR_F64);
}

static LLVMValueRef
fmuladd(cg_fn *f, LLVMValueRef acc, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFAdd(f->b, acc, LLVMBuildFMul(f->b, a, b, ""), "");
}

/* The sum over the samples s of one output bin into re, im (allocas). */
static void
dft_sum(cg_fn *f, const ir_dft *g, LLVMValueRef base, LLVMValueRef k,
	LLVMValueRef ct, LLVMValueRef st, LLVMValueRef re, LLVMValueRef im)
{
	ir_dtype t = f->n->in[0]->dtype;
	LLVMTypeRef d = f->c->f64;
	LLVMValueRef s, e, xr, xi, j, c, sn, r, m;
	cg_loop l;

	s = cg_loop_begin(f, g->nread, &l);
	e = cg_iadd(f, base, cg_imul(f, s, g->iss));
	xr = load_f64(f, f->in[0], e, t);
	xi = g->comp == 2 ? load_f64(f, f->in[0], cg_iadd(f, e, cg_i64(f, 1)),
				     t) : NULL;
	if (g->window >= 0) {
		LLVMValueRef w = load_f64(f, f->in[g->window], s, t);
		xr = LLVMBuildFMul(f->b, xr, w, "");
		xi = xi ? LLVMBuildFMul(f->b, xi, w, "") : NULL;
	}
	j = LLVMBuildURem(f->b, LLVMBuildNUWMul(f->b, k, s, ""),
			  cg_i64(f, g->len), "");
	c = cg_load(f, ct, j);
	sn = cg_load(f, st, j);
	r = fmuladd(f, LLVMBuildLoad2(f->b, d, re, ""), xr, c);
	m = LLVMBuildFSub(f->b, LLVMBuildLoad2(f->b, d, im, ""),
			  LLVMBuildFMul(f->b, xr, sn, ""), "");
	if (xi) {
		r = fmuladd(f, r, xi, sn);
		m = fmuladd(f, m, xi, c);
	}
	LLVMBuildStore(f->b, r, re);
	LLVMBuildStore(f->b, m, im);
	cg_loop_end(f, &l);
}

static bool
lower_dft(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->out[0]->dtype, ct = cg_ctype(t);
	int64_t dims[4], ist[4], ost[4];
	LLVMValueRef ivs[4], ctab, stab, re, im, base, q, v[2];
	cg_loop loops[4];
	double *tab;
	ir_dft g;

	if (!ir_dft_get(n, &g))
		return cg_fail(f, "axis out of range");
	if (ir_shape_numel(&n->out[0]->shape) == 0)
		return true;
	tab = nn_xmalloc((size_t)g.len * 2 * sizeof *tab);
	for (int64_t j = 0; j < g.len; j++) {
		tab[j] = cos(TWO_PI * (double)j / (double)g.len);
		tab[g.len + j] = (g.inverse ? -1 : 1) *
				 sin(TWO_PI * (double)j / (double)g.len);
	}
	ctab = f64_table(f, tab, g.len);
	stab = f64_table(f, tab + g.len, g.len);
	free(tab);
	dims[0] = g.n1, dims[1] = g.n2, dims[2] = g.bins, dims[3] = g.inner;
	ist[0] = g.is1, ist[1] = g.is2, ist[2] = 0, ist[3] = g.isi;
	ost[3] = 2;
	for (int k = 2; k >= 0; k--)
		ost[k] = ost[k + 1] * dims[k + 1];
	re = cg_alloca(f, f->c->f64);
	im = cg_alloca(f, f->c->f64);
	cg_nest_begin(f, 4, dims, ivs, loops);
	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 0), re);
	LLVMBuildStore(f->b, cg_fconst(f, IR_F64, 0), im);
	base = cg_linear(f, 4, ivs, ist, 0);
	if (g.nread > 0)
		dft_sum(f, &g, base, ivs[2], ctab, stab, re, im);
	v[0] = LLVMBuildLoad2(f->b, f->c->f64, re, "");
	v[1] = LLVMBuildLoad2(f->b, f->c->f64, im, "");
	q = cg_linear(f, 4, ivs, ost, 0);
	for (int k = 0; k < 2; k++) {
		if (g.inverse)
			v[k] = LLVMBuildFDiv(f->b, v[k], cg_fconst(f, IR_F64,
				(double)g.len), "");
		cg_store_c(f, f->out[0], cg_iadd(f, q, cg_i64(f, k)),
			   cg_convert(f, v[k], IR_F64, ct), t);
	}
	cg_nest_end(f, 4, loops);
	return true;
}

bool
cg_lower_signal(cg_fn *f)
{
	if (f->n->op == OP_DFT || f->n->op == OP_STFT)
		return lower_dft(f);
	return lower_folded(f);
}
