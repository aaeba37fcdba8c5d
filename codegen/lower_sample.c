/* Lowering of the spatial sampling ops, GridSample and RoiAlign: scalar
 * loops over the output, the arithmetic in f64 step for step as
 * ir/op_sample.c computes it (a coordinate on a rounding boundary must
 * pick the interpreter's tap). Taps outside the input read nothing. */
#include "cg_internal.h"

static LLVMValueRef
dc(cg_fn *f, double v)
{
	return cg_fconst(f, IR_F64, v);
}

static LLVMValueRef
fadd(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFAdd(f->b, a, b, "");
}

static LLVMValueRef
fsub(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFSub(f->b, a, b, "");
}

static LLVMValueRef
fmul(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFMul(f->b, a, b, "");
}

static LLVMValueRef
intrin1(cg_fn *f, const char *name, LLVMValueRef v)
{
	return cg_intrin(f, name, IR_F64, 1, &v);
}

static LLVMValueRef
intrin2(cg_fn *f, const char *name, LLVMValueRef a, LLVMValueRef b)
{
	LLVMValueRef v[2] = {a, b};
	return cg_intrin(f, name, IR_F64, 2, v);
}

/* x in [lo, hi] (ordered: false for NaN). */
static LLVMValueRef
in_range(cg_fn *f, LLVMValueRef x, double lo, double hi)
{
	return LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, LLVMRealOGE, x, dc(f,
		lo), ""), LLVMBuildFCmp(f->b, LLVMRealOLE, x, dc(f, hi), ""),
		"");
}

/* Input 0 at the integer-valued (xi, yi) of the plane at base (h x w),
 * 0 outside it. */
static LLVMValueRef
tap(cg_fn *f, LLVMValueRef base, int64_t h, int64_t w, LLVMValueRef xi,
    LLVMValueRef yi)
{
	LLVMValueRef ok = LLVMBuildAnd(f->b, in_range(f, xi, 0, (double)(w -
		1)), in_range(f, yi, 0, (double)(h - 1)), "");
	LLVMValueRef x = LLVMBuildFPToSI(f->b, LLVMBuildSelect(f->b, ok, xi,
		dc(f, 0), ""), f->c->i64, "");
	LLVMValueRef y = LLVMBuildFPToSI(f->b, LLVMBuildSelect(f->b, ok, yi,
		dc(f, 0), ""), f->c->i64, "");
	LLVMValueRef v = cg_load_f64(f, 0, cg_iadd(f, base, cg_iadd(f, cg_imul(f,
		y, w), x)));
	return LLVMBuildSelect(f->b, ok, v, dc(f, 0), "");
}

/* PyTorch's reflect_coordinates (op_sample.c's reflect). */
static LLVMValueRef
reflect(cg_fn *f, LLVMValueRef v, double lo2, double hi2)
{
	double mn = lo2 / 2, span = (hi2 - lo2) / 2;
	LLVMValueRef extra, flips, even;

	if (lo2 == hi2)
		return dc(f, 0);
	v = intrin1(f, "fabs", fsub(f, v, dc(f, mn)));
	extra = LLVMBuildFRem(f->b, v, dc(f, span), "");
	flips = intrin1(f, "floor", LLVMBuildFDiv(f->b, v, dc(f, span), ""));
	even = LLVMBuildFCmp(f->b, LLVMRealOEQ, LLVMBuildFRem(f->b, flips,
		dc(f, 2), ""), dc(f, 0), "");
	return LLVMBuildSelect(f->b, even, fadd(f, extra, dc(f, mn)),
			       fadd(f, fsub(f, dc(f, span), extra), dc(f, mn)),
			       "");
}

static LLVMValueRef
grid_pad(cg_fn *f, LLVMValueRef v, int64_t size, int pad, bool ac)
{
	double hi = (double)(size - 1);

	if (pad == IR_GRID_ZEROS)
		return v;
	if (pad == IR_GRID_REFLECTION)
		v = ac ? reflect(f, v, 0, 2 * hi)
		       : reflect(f, v, -1, 2 * hi + 1);
	return intrin2(f, "minnum", intrin2(f, "maxnum", v, dc(f, 0)),
		       dc(f, hi));
}

/* The cubic convolution weights of the 4 taps around t (A = -0.75). */
static void
cubic_coeffs(cg_fn *f, LLVMValueRef t, LLVMValueRef *c)
{
	const double a = -0.75;
	LLVMValueRef x = fadd(f, t, dc(f, 1));

	c[0] = fsub(f, fmul(f, fadd(f, fmul(f, fsub(f, fmul(f, dc(f, a), x),
		dc(f, 5 * a)), x), dc(f, 8 * a)), x), dc(f, 4 * a));
	c[1] = fadd(f, fmul(f, fmul(f, fsub(f, fmul(f, dc(f, a + 2), t),
		dc(f, a + 3)), t), t), dc(f, 1));
	x = fsub(f, dc(f, 1), t);
	c[2] = fadd(f, fmul(f, fmul(f, fsub(f, fmul(f, dc(f, a + 2), x),
		dc(f, a + 3)), x), x), dc(f, 1));
	x = fadd(f, x, dc(f, 1));
	c[3] = fsub(f, fmul(f, fadd(f, fmul(f, fsub(f, fmul(f, dc(f, a), x),
		dc(f, 5 * a)), x), dc(f, 8 * a)), x), dc(f, 4 * a));
}

static LLVMValueRef
grid_unnorm(cg_fn *f, LLVMValueRef v, int64_t size, bool ac)
{
	v = fadd(f, v, dc(f, 1));
	if (ac)
		return fmul(f, LLVMBuildFDiv(f->b, v, dc(f, 2), ""),
			    dc(f, (double)(size - 1)));
	return LLVMBuildFDiv(f->b, fsub(f, fmul(f, v, dc(f, (double)size)),
				       dc(f, 1)), dc(f, 2), "");
}

static LLVMValueRef
grid_one(cg_fn *f, LLVMValueRef base, int mode, int pad, bool ac,
	 LLVMValueRef ix, LLVMValueRef iy)
{
	const ir_shape *x = &f->n->in[0]->shape;
	int64_t h = x->dim[2], w = x->dim[3];
	LLVMValueRef x0, y0, tx, ty, ux, uy, cx[4], cy[4], v;

	if (mode != IR_GRID_BICUBIC) {
		ix = grid_pad(f, ix, w, pad, ac);
		iy = grid_pad(f, iy, h, pad, ac);
	}
	if (mode == IR_GRID_NEAREST)
		return tap(f, base, h, w, intrin1(f, "nearbyint", ix),
			   intrin1(f, "nearbyint", iy));
	x0 = intrin1(f, "floor", ix);
	y0 = intrin1(f, "floor", iy);
	tx = fsub(f, ix, x0);
	ty = fsub(f, iy, y0);
	if (mode == IR_GRID_BILINEAR) {
		LLVMValueRef x1 = fadd(f, x0, dc(f, 1)), y1 = fadd(f, y0,
			dc(f, 1));
		ux = fsub(f, dc(f, 1), tx);
		uy = fsub(f, dc(f, 1), ty);
		v = fmul(f, fmul(f, tap(f, base, h, w, x0, y0), ux), uy);
		v = fadd(f, v, fmul(f, fmul(f, tap(f, base, h, w, x1, y0), tx),
				    uy));
		v = fadd(f, v, fmul(f, fmul(f, tap(f, base, h, w, x0, y1), ux),
				    ty));
		return fadd(f, v, fmul(f, fmul(f, tap(f, base, h, w, x1, y1),
					       tx), ty));
	}
	cubic_coeffs(f, tx, cx);
	cubic_coeffs(f, ty, cy);
	v = dc(f, 0);
	for (int j = 0; j < 4; j++) {
		LLVMValueRef row = dc(f, 0), yj;
		yj = grid_pad(f, fadd(f, y0, dc(f, j - 1)), h, pad, ac);
		for (int i = 0; i < 4; i++) {
			LLVMValueRef xi = grid_pad(f, fadd(f, x0, dc(f, i - 1)),
						   w, pad, ac);
			row = fadd(f, row, fmul(f, cx[i], tap(f, base, h, w,
				xi, yj)));
		}
		v = fadd(f, v, fmul(f, cy[j], row));
	}
	return v;
}

static bool
lower_grid(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *o = &n->out[0]->shape, *x = &n->in[0]->shape;
	bool ac = ir_attr_i(n, "align_corners") != 0;
	int64_t hw = o->dim[2] * o->dim[3];
	int64_t dims[3] = {o->dim[0], o->dim[1], hw};
	ir_dtype t = n->out[0]->dtype;
	LLVMValueRef ivs[3], gi, ix, iy, base, v;
	cg_loop l[3];
	int mode, pad;

	if (!ir_grid_modes(n, &mode, &pad, f->c->d))
		return false;
	cg_nest_begin(f, 3, dims, ivs, l);
	gi = cg_imul(f, cg_iadd(f, cg_imul(f, ivs[0], hw), ivs[2]), 2);
	ix = grid_unnorm(f, cg_load_f64(f, 1, gi), x->dim[3], ac);
	iy = grid_unnorm(f, cg_load_f64(f, 1, cg_iadd(f, gi, cg_i64(f, 1))),
			 x->dim[2], ac);
	base = cg_imul(f, cg_iadd(f, cg_imul(f, ivs[0], x->dim[1]), ivs[1]),
		       x->dim[2] * x->dim[3]);
	v = grid_one(f, base, mode, pad, ac, ix, iy);
	v = cg_convert(f, v, IR_F64, cg_ctype(t));
	cg_store_c(f, f->out[0], cg_iadd(f, cg_imul(f, cg_iadd(f, cg_imul(f,
		ivs[0], o->dim[1]), ivs[1]), hw), ivs[2]), v, t);
	cg_nest_end(f, 3, l);
	return true;
}

/* ir_roi_grid: ceil(v) samples, 0 for v <= 0 or NaN, at most
 * IR_ROI_MAX_GRID. */
static LLVMValueRef
roi_grid(cg_fn *f, LLVMValueRef v)
{
	LLVMValueRef ok;

	v = intrin1(f, "ceil", v);
	ok = LLVMBuildFCmp(f->b, LLVMRealOGT, v, dc(f, 0), "");
	v = intrin2(f, "minnum", v, dc(f, IR_ROI_MAX_GRID));
	return LLVMBuildFPToSI(f->b, LLVMBuildSelect(f->b, ok, v, dc(f, 0),
		""), f->c->i64, "");
}

/* One roi's facts: start (x, y), bin sizes, samples per bin and their
 * count as a divisor, the input plane index of its batch. */
typedef struct roi_box {
	LLVMValueRef x0, y0, bw, bh, gw, gh, cnt, plane;
} roi_box;

static void
roi_box_of(cg_fn *f, LLVMValueRef r, bool half, roi_box *rb)
{
	const ir_node *n = f->n;
	const ir_shape *o = &n->out[0]->shape;
	int64_t sr = ir_attr_i(n, "sampling_ratio");
	int64_t nb = n->in[0]->shape.dim[0];
	double ss = ir_attr_f(n, "spatial_scale");
	LLVMValueRef c[4], rw, rh, b, bad;

	for (int j = 0; j < 4; j++)
		c[j] = fsub(f, fmul(f, cg_load_f64(f, 1, cg_iadd(f, cg_imul(f, r,
			4), cg_i64(f, j))), dc(f, ss)), dc(f, half ? 0.5 : 0));
	rw = fsub(f, c[2], c[0]);
	rh = fsub(f, c[3], c[1]);
	if (!half) {
		rw = intrin2(f, "maxnum", rw, dc(f, 1));
		rh = intrin2(f, "maxnum", rh, dc(f, 1));
	}
	rb->x0 = c[0];
	rb->y0 = c[1];
	rb->bh = LLVMBuildFDiv(f->b, rh, dc(f, (double)o->dim[2]), "");
	rb->bw = LLVMBuildFDiv(f->b, rw, dc(f, (double)o->dim[3]), "");
	rb->gh = sr > 0 ? cg_i64(f, sr) : roi_grid(f, rb->bh);
	rb->gw = sr > 0 ? cg_i64(f, sr) : roi_grid(f, rb->bw);
	rb->cnt = LLVMBuildNSWMul(f->b, rb->gh, rb->gw, "");
	rb->cnt = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSGT,
		rb->cnt, cg_i64(f, 1), ""), rb->cnt, cg_i64(f, 1), "");
	rb->cnt = LLVMBuildSIToFP(f->b, rb->cnt, f->c->f64, "");
	b = cg_convert(f, cg_load(f, f->in[2], r), n->in[2]->dtype, IR_I64);
	bad = LLVMBuildOr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, b, cg_i64(f,
		0), ""), LLVMBuildICmp(f->b, LLVMIntSGE, b, cg_i64(f, nb), ""),
		"");
	cg_runtime_error(f, bad, CG_ERR_INDEX);
	rb->plane = LLVMBuildSelect(f->b, bad, cg_i64(f, 0), b, "");
}

/* The weighted taps of sample point (x, y) (ir/op_sample.c's
 * roi_point), summed (avg) or their cg_max (max). */
static LLVMValueRef
roi_point(cg_fn *f, LLVMValueRef base, LLVMValueRef y, LLVMValueRef x,
	  bool max)
{
	const ir_shape *s = &f->n->in[0]->shape;
	int64_t h = s->dim[2], w = s->dim[3];
	LLVMValueRef ok, yl, xl, yh, xh, cy, cx, ly, lx, pos[4], wt[4], v[4];

	ok = LLVMBuildAnd(f->b, in_range(f, y, -1, (double)h), in_range(f, x,
		-1, (double)w), "");
	y = LLVMBuildSelect(f->b, ok, intrin2(f, "maxnum", y, dc(f, 0)),
			    dc(f, 0), "");
	x = LLVMBuildSelect(f->b, ok, intrin2(f, "maxnum", x, dc(f, 0)),
			    dc(f, 0), "");
	yl = LLVMBuildFPToSI(f->b, y, f->c->i64, "");
	xl = LLVMBuildFPToSI(f->b, x, f->c->i64, "");
	cy = LLVMBuildICmp(f->b, LLVMIntSGE, yl, cg_i64(f, h - 1), "");
	cx = LLVMBuildICmp(f->b, LLVMIntSGE, xl, cg_i64(f, w - 1), "");
	yh = LLVMBuildSelect(f->b, cy, cg_i64(f, h - 1), cg_iadd(f, yl,
		cg_i64(f, 1)), "");
	xh = LLVMBuildSelect(f->b, cx, cg_i64(f, w - 1), cg_iadd(f, xl,
		cg_i64(f, 1)), "");
	yl = LLVMBuildSelect(f->b, cy, cg_i64(f, h - 1), yl, "");
	xl = LLVMBuildSelect(f->b, cx, cg_i64(f, w - 1), xl, "");
	y = LLVMBuildSelect(f->b, cy, dc(f, (double)(h - 1)), y, "");
	x = LLVMBuildSelect(f->b, cx, dc(f, (double)(w - 1)), x, "");
	ly = fsub(f, y, LLVMBuildSIToFP(f->b, yl, f->c->f64, ""));
	lx = fsub(f, x, LLVMBuildSIToFP(f->b, xl, f->c->f64, ""));
	pos[0] = cg_iadd(f, cg_imul(f, yl, w), xl);
	pos[1] = cg_iadd(f, cg_imul(f, yl, w), xh);
	pos[2] = cg_iadd(f, cg_imul(f, yh, w), xl);
	pos[3] = cg_iadd(f, cg_imul(f, yh, w), xh);
	wt[0] = fmul(f, fsub(f, dc(f, 1), ly), fsub(f, dc(f, 1), lx));
	wt[1] = fmul(f, fsub(f, dc(f, 1), ly), lx);
	wt[2] = fmul(f, ly, fsub(f, dc(f, 1), lx));
	wt[3] = fmul(f, ly, lx);
	for (int q = 0; q < 4; q++) {
		pos[q] = LLVMBuildSelect(f->b, ok, pos[q], cg_i64(f, 0), "");
		wt[q] = LLVMBuildSelect(f->b, ok, wt[q], dc(f, 0), "");
		v[q] = fmul(f, wt[q], cg_load_f64(f, 0, cg_iadd(f, base, pos[q])));
	}
	if (max)
		return cg_max(f, IR_F64, cg_max(f, IR_F64, v[0], v[1]),
			      cg_max(f, IR_F64, v[2], v[3]));
	return fadd(f, fadd(f, fadd(f, v[0], v[1]), v[2]), v[3]);
}

/* y (or x) of sample i of bin p: start + p * bin + (i + .5) * bin / g. */
static LLVMValueRef
roi_coord(cg_fn *f, LLVMValueRef start, LLVMValueRef p, LLVMValueRef bin,
	  LLVMValueRef i, LLVMValueRef g)
{
	LLVMValueRef a = fadd(f, start, fmul(f, LLVMBuildSIToFP(f->b, p,
		f->c->f64, ""), bin));
	LLVMValueRef s = fmul(f, fadd(f, LLVMBuildSIToFP(f->b, i, f->c->f64,
		""), dc(f, .5)), bin);
	return fadd(f, a, LLVMBuildFDiv(f->b, s, LLVMBuildSIToFP(f->b, g,
		f->c->f64, ""), ""));
}

static bool
lower_roi(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *o = &n->out[0]->shape, *x = &n->in[0]->shape;
	int64_t dims[2] = {o->dim[1], o->dim[2] * o->dim[3]};
	ir_dtype t = n->out[0]->dtype;
	LLVMValueRef r, ivs[2], base, acc, first, iy, ix, v, y, xx, old;
	LLVMValueRef ph, pw;
	cg_loop lr, l[2], ly, lx;
	roi_box rb;
	bool max, half;

	if (!ir_roi_modes(n, &max, &half, f->c->d))
		return false;
	acc = cg_alloca(f, f->c->f64);
	first = cg_alloca(f, f->c->i1);
	r = cg_loop_begin(f, o->dim[0], &lr);
	roi_box_of(f, r, half, &rb);
	cg_nest_begin(f, 2, dims, ivs, l);
	base = cg_imul(f, cg_iadd(f, cg_imul(f, rb.plane, x->dim[1]), ivs[0]),
		       x->dim[2] * x->dim[3]);
	ph = LLVMBuildSDiv(f->b, ivs[1], cg_i64(f, o->dim[3]), "");
	pw = LLVMBuildSRem(f->b, ivs[1], cg_i64(f, o->dim[3]), "");
	LLVMBuildStore(f->b, dc(f, 0), acc);
	LLVMBuildStore(f->b, LLVMConstInt(f->c->i1, 1, 0), first);
	iy = cg_loop_begin_dyn(f, cg_i64(f, 0), rb.gh, &ly);
	ix = cg_loop_begin_dyn(f, cg_i64(f, 0), rb.gw, &lx);
	y = roi_coord(f, rb.y0, ph, rb.bh, iy, rb.gh);
	xx = roi_coord(f, rb.x0, pw, rb.bw, ix, rb.gw);
	v = roi_point(f, base, y, xx, max);
	old = LLVMBuildLoad2(f->b, f->c->f64, acc, "");
	if (max) {
		v = LLVMBuildSelect(f->b, LLVMBuildLoad2(f->b, f->c->i1, first,
			""), v, cg_max(f, IR_F64, old, v), "");
		LLVMBuildStore(f->b, LLVMConstInt(f->c->i1, 0, 0), first);
	} else {
		v = fadd(f, old, v);
	}
	LLVMBuildStore(f->b, v, acc);
	cg_loop_end_dyn(f, &lx);
	cg_loop_end_dyn(f, &ly);
	v = LLVMBuildLoad2(f->b, f->c->f64, acc, "");
	if (!max)
		v = LLVMBuildFDiv(f->b, v, rb.cnt, "");
	cg_store_c(f, f->out[0], cg_iadd(f, cg_imul(f, cg_iadd(f, cg_imul(f,
		r, o->dim[1]), ivs[0]), dims[1]), ivs[1]), cg_convert(f, v,
		IR_F64, cg_ctype(t)), t);
	cg_nest_end(f, 2, l);
	cg_loop_end(f, &lr);
	return true;
}

bool
cg_lower_sample(cg_fn *f)
{
	return f->n->op == OP_GridSample ? lower_grid(f) : lower_roi(f);
}
