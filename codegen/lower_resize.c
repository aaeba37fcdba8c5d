/* Lowering of Resize (nearest, linear, cubic; every coordinate
 * transformation mode). Resize is separable and shapes are constant, so
 * each axis gets compile-time tables of source indices and weights; the
 * kernel only gathers and blends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

#define MAXTAP 4

typedef struct axis_tab {
	int taps;
	int64_t *idx;  /* out * taps */
	float *w;      /* out * taps */
	bool *outside; /* tf_crop_and_resize extrapolation */
} axis_tab;

typedef struct rz {
	const char *ctm, *mode, *nmode;
	double a;
	bool excl;
} rz;

static double
src_coord(const rz *r, double x, double scale, int64_t in, int64_t out,
	  double rs, double re)
{
	const char *m = r->ctm;

	if (!strcmp(m, "asymmetric"))
		return x / scale;
	/* With scales given, ONNX's reference takes the output length as
	 * in * scale, unrounded. */
	if (!strcmp(m, "align_corners"))
		return out == 1 ? 0 : x * (double)(in - 1) /
				      (scale * (double)in - 1);
	if (!strcmp(m, "pytorch_half_pixel")) /* that length, as well */
		return scale * (double)in > 1 ? (x + 0.5) / scale - 0.5 : 0;
	if (!strcmp(m, "tf_crop_and_resize"))
		return out > 1 ? rs * (double)(in - 1) + x * (re - rs) *
				 (double)(in - 1) / (double)(out - 1)
			       : 0.5 * (rs + re) * (double)(in - 1);
	if (!strcmp(m, "half_pixel_symmetric")) {
		double adj = (double)out / (scale * (double)in);
		double c = (double)in / 2 * (1 - adj);
		return c + (x + 0.5) / scale - 0.5;
	}
	return (x + 0.5) / scale - 0.5; /* half_pixel */
}

static int64_t
nearest(const rz *r, double x)
{
	const char *m = r->nmode;

	if (!strcmp(m, "floor"))
		return (int64_t)floor(x);
	if (!strcmp(m, "ceil"))
		return (int64_t)ceil(x);
	if (x - floor(x) == 0.5)
		return (int64_t)(!strcmp(m, "round_prefer_ceil") ? ceil(x)
								  : floor(x));
	return (int64_t)floor(x + 0.5);
}

static void
cubic_coeffs(double r, double a, double *c)
{
	double s = r + 1, u = 1 - r, v = 2 - r;

	c[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
	c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
	c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
	c[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

static int64_t
clampi(int64_t v, int64_t n)
{
	return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/* Fills the taps of output position o of one axis. */
static void
fill_pos(const rz *r, axis_tab *t, int64_t o, double x, int64_t in)
{
	int64_t *ix = t->idx + o * t->taps;
	float *w = t->w + o * t->taps;
	double c[MAXTAP], sum = 0;
	int64_t x0 = (int64_t)floor(x), base;

	if (t->taps == 1) {
		ix[0] = clampi(nearest(r, x), in);
		w[0] = 1;
		return;
	}
	if (t->taps == 2) {
		c[0] = 1 - (x - (double)x0), c[1] = x - (double)x0;
		base = x0;
	} else {
		cubic_coeffs(x - (double)x0, r->a, c);
		base = x0 - 1;
	}
	for (int k = 0; k < t->taps; k++) {
		int64_t p = base + k;
		if (r->excl && (p < 0 || p >= in))
			c[k] = 0;
		sum += c[k];
	}
	for (int k = 0; k < t->taps; k++) {
		ix[k] = clampi(base + k, in);
		w[k] = (float)(r->excl && sum != 0 ? c[k] / sum : c[k]);
	}
}

/* An axis where every output copies one input element needs one tap. */
static void
collapse(axis_tab *t, int64_t out)
{
	for (int64_t o = 0; o < out; o++) {
		int ones = 0, zeros = 0;
		for (int k = 0; k < t->taps; k++) {
			float w = t->w[o * t->taps + k];
			ones += w == 1.0f, zeros += w == 0.0f;
		}
		if (ones != 1 || zeros != t->taps - 1)
			return;
	}
	for (int64_t o = 0; o < out; o++) {
		int k = 0;
		while (t->w[o * t->taps + k] != 1.0f)
			k++;
		t->idx[o] = t->idx[o * t->taps + k];
		t->w[o] = 1;
	}
	t->taps = 1;
}

/* Per-axis scales (from input 2, or the size ratios) and roi. */
static bool
axis_params(cg_fn *f, double *scale, double *rs, double *re)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;
	int rank = x->rank, na;
	const int64_t *axes = ir_attr_ints(n, "axes", &na);
	const ir_value *sv = n->nin > 2 ? n->in[2] : NULL;
	const ir_value *roi = n->nin > 1 ? n->in[1] : NULL;
	int nax = axes ? na : rank;

	for (int k = 0; k < rank; k++) {
		scale[k] = (double)y->dim[k] / (double)x->dim[k];
		rs[k] = 0, re[k] = 1;
	}
	if (sv && !sv->data && ir_shape_numel(&sv->shape) > 0)
		return cg_fail(f, "scales must be a constant");
	for (int i = 0; i < nax; i++) {
		int a = axes ? cg_axis(axes[i], rank) : i;
		if (a < 0)
			return cg_fail(f, "axis out of range");
		if (sv && sv->data && ir_shape_numel(&sv->shape) == nax)
			scale[a] = ir_load_f64(sv->data, sv->dtype, i);
		if (roi && roi->data && ir_shape_numel(&roi->shape) == 2 * nax) {
			rs[a] = ir_load_f64(roi->data, roi->dtype, i);
			re[a] = ir_load_f64(roi->data, roi->dtype, nax + i);
		}
	}
	return true;
}

static bool
build_tabs(cg_fn *f, const rz *r, axis_tab *tab)
{
	const ir_shape *x = &f->n->in[0]->shape, *y = &f->n->out[0]->shape;
	double scale[IR_MAX_RANK], rs[IR_MAX_RANK], re[IR_MAX_RANK];
	int taps = !strcmp(r->mode, "nearest") ? 1
		 : !strcmp(r->mode, "linear") ? 2 : 4;

	if (!axis_params(f, scale, rs, re))
		return false;
	for (int a = 0; a < x->rank; a++) {
		axis_tab *t = &tab[a];
		t->taps = taps;
		t->idx = nn_xcalloc((size_t)(y->dim[a] * taps) + 1, 8);
		t->w = nn_xcalloc((size_t)(y->dim[a] * taps) + 1, 4);
		t->outside = nn_xcalloc((size_t)y->dim[a] + 1, 1);
		for (int64_t o = 0; o < y->dim[a]; o++) {
			double c = src_coord(r, (double)o, scale[a], x->dim[a],
					     y->dim[a], rs[a], re[a]);
			t->outside[o] = c < 0 || c > (double)(x->dim[a] - 1);
			fill_pos(r, t, o, c, x->dim[a]);
		}
		collapse(t, y->dim[a]);
	}
	return true;
}

/* out[o] = sum over tap combinations of prod(w) * x[sum(idx * stride)]. */
static LLVMValueRef
emit_blend(cg_fn *f, const axis_tab *tab, LLVMValueRef *ivs, ir_dtype t,
	   LLVMValueRef *itab, LLVMValueRef *wtab)
{
	const ir_shape *x = &f->n->in[0]->shape;
	int rank = x->rank, tap[IR_MAX_RANK] = {0};
	int64_t xs[IR_MAX_RANK];
	LLVMValueRef acc = NULL;
	bool single = true;

	cg_strides(x, xs);
	for (int a = 0; a < rank; a++)
		single = single && tab[a].taps == 1;
	for (;;) {
		LLVMValueRef li = cg_i64(f, 0), w = NULL, v;
		int a;
		for (a = 0; a < rank; a++) {
			LLVMValueRef k = LLVMBuildAdd(f->b, LLVMBuildMul(f->b,
				ivs[a], cg_i64(f, tab[a].taps), ""),
				cg_i64(f, tap[a]), "");
			li = LLVMBuildAdd(f->b, li, LLVMBuildMul(f->b, cg_load(f,
				itab[a], k), cg_i64(f, xs[a]), ""), "");
			if (tab[a].taps > 1) {
				LLVMValueRef wa = cg_load(f, wtab[a], k);
				w = w ? LLVMBuildFMul(f->b, w, wa, "") : wa;
			}
		}
		v = single ? cg_load(f, f->in[0], li)
			   : cg_load_c(f, f->in[0], li, t);
		/* a zero-weight tap contributes nothing, as in the
		 * interpreter: a NaN or Inf there must not reach out[o] */
		if (w)
			v = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b,
				LLVMRealOEQ, w, LLVMConstReal(LLVMTypeOf(w), 0),
				""), LLVMConstReal(LLVMTypeOf(w), 0),
				LLVMBuildFMul(f->b, v, w, ""), "");
		acc = acc ? LLVMBuildFAdd(f->b, acc, v, "") : v;
		for (a = rank - 1; a >= 0 && ++tap[a] == tab[a].taps; a--)
			tap[a] = 0;
		if (a < 0)
			break;
	}
	return acc;
}

bool
cg_lower_resize(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *y = &n->out[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	axis_tab tab[IR_MAX_RANK] = {{0}};
	LLVMValueRef ivs[IR_MAX_RANK], itab[IR_MAX_RANK], wtab[IR_MAX_RANK];
	LLVMValueRef v, out_i;
	int64_t so[IR_MAX_RANK];
	cg_loop loops[IR_MAX_RANK];
	rz r;
	bool ok, single = true, crop;

	r.ctm = ir_attr_s(n, "coordinate_transformation_mode");
	r.mode = ir_attr_s(n, "mode");
	r.nmode = ir_attr_s(n, "nearest_mode");
	r.a = ir_attr_f(n, "cubic_coeff_a");
	r.excl = ir_attr_i(n, "exclude_outside");
	crop = !strcmp(r.ctm, "tf_crop_and_resize");
	if (ir_attr_i(n, "antialias"))
		return cg_fail(f, "antialias is not supported");
	ok = build_tabs(f, &r, tab);
	for (int a = 0; ok && a < y->rank; a++) {
		single = single && tab[a].taps == 1;
		itab[a] = cg_i64_table(f, tab[a].idx, y->dim[a] * tab[a].taps);
		wtab[a] = cg_f32_table(f, tab[a].w, y->dim[a] * tab[a].taps);
	}
	if (ok && !single && !ir_dtype_is_float(t))
		ok = cg_fail(f, "interpolating %s is not supported",
			     ir_dtype_name(t));
	if (ok) {
		cg_strides(y, so);
		cg_nest_begin(f, y->rank, y->dim, ivs, loops);
		v = emit_blend(f, tab, ivs, t, itab, wtab);
		out_i = cg_linear(f, y->rank, ivs, so, 0);
		if (crop) {
			LLVMValueRef any = LLVMConstInt(f->c->i1, 0, 0);
			for (int a = 0; a < y->rank; a++) {
				int64_t *o = nn_xcalloc((size_t)y->dim[a] + 1, 8);
				for (int64_t k = 0; k < y->dim[a]; k++)
					o[k] = tab[a].outside[k];
				any = LLVMBuildOr(f->b, any, LLVMBuildTrunc(f->b,
					cg_load(f, cg_i64_table(f, o, y->dim[a]),
					ivs[a]), f->c->i1, ""), "");
				free(o);
			}
			v = LLVMBuildSelect(f->b, any, cg_fconst(f, cg_ctype(t),
				ir_attr_f(n, "extrapolation_value")), v,
				"");
		}
		if (single)
			cg_store(f, f->out[0], out_i, v);
		else
			cg_store_c(f, f->out[0], out_i, v, t);
		cg_nest_end(f, y->rank, loops);
	}
	for (int a = 0; a < IR_MAX_RANK; a++) {
		free(tab[a].idx);
		free(tab[a].w);
		free(tab[a].outside);
	}
	return ok;
}
