/* GridSample (opset 16, 4-D: bilinear, nearest, bicubic; zeros, border,
 * reflection padding) and RoiAlign (opset 16): the spatial sampling ops,
 * shape inference and reference kernels in double. The arithmetic follows
 * PyTorch's grid_sampler and roi_align, which produced the ONNX cases;
 * codegen/lower_sample.c repeats it step for step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static int
pick(const ir_node *n, const char *attr, const char *const *names,
     int count, nn_diag *d)
{
	const char *s = ir_attr_s(n, attr);
	for (int i = 0; i < count; i++)
		if (!strcmp(s, names[i]))
			return i;
	nn_error_node(d, n, "%s '%s' is not supported", attr, s);
	return -1;
}

bool
ir_grid_modes(const ir_node *n, int *mode, int *pad, nn_diag *d)
{
	static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
	static const char *const pads[] = {"zeros", "border", "reflection"};
	int64_t ac = ir_attr_i(n, "align_corners");
	if (ac != 0 && ac != 1) {
		nn_error_node(d, n, "align_corners=%lld is not supported (0 "
			      "or 1)", (long long)ac);
		return false;
	}
	*mode = pick(n, "mode", modes, 3, d);
	*pad = *mode < 0 ? -1 : pick(n, "padding_mode", pads, 3, d);
	return *mode >= 0 && *pad >= 0;
}

static bool
shape_grid(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *g = &n->in[1]->shape;
	int mode, pad;
	if (!ir_check_float_input(n, 0, d) || !ir_check_float_input(n, 1, d) ||
	    !ir_grid_modes(n, &mode, &pad, d))
		return false;
	if (x->rank != 4 || g->rank != 4 || g->dim[0] != x->dim[0] ||
	    g->dim[3] != 2) {
		char a[64], b[64];
		ir_shape_str(x, a, sizeof a);
		ir_shape_str(g, b, sizeof b);
		nn_error_node(d, n, "X %s and grid %s are not N x C x H x W "
			      "and N x H_out x W_out x 2", a, b);
		return false;
	}
	ir_shape o = {4, {x->dim[0], x->dim[1], g->dim[1], g->dim[2]}};
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = o;
	return true;
}

/* PyTorch's reflect_coordinates: v reflected into [lo2/2, hi2/2]. */
static double
reflect(double v, double lo2, double hi2)
{
	if (lo2 == hi2)
		return 0;
	double mn = lo2 / 2, span = (hi2 - lo2) / 2;
	v = fabs(v - mn);
	double extra = fmod(v, span), flips = floor(v / span);
	return fmod(flips, 2) == 0 ? extra + mn : span - extra + mn;
}

static double
grid_pad(double v, int64_t size, int pad, bool ac)
{
	double hi = (double)(size - 1);
	if (pad == IR_GRID_ZEROS)
		return v;
	if (pad == IR_GRID_REFLECTION)
		v = ac ? reflect(v, 0, 2 * hi) : reflect(v, -1, 2 * hi + 1);
	return fmin(fmax(v, 0), hi);
}

typedef struct grid_ctx {
	const void *x;
	ir_dtype t;
	int64_t h, w, base; /* base: the (n, c) plane's first element */
	int pad;
	bool ac;
} grid_ctx;

/* X at integer-valued (xi, yi), 0 outside the plane. */
static double
tap(const grid_ctx *g, double xi, double yi)
{
	if (!(xi >= 0 && xi <= (double)(g->w - 1) && yi >= 0 &&
	      yi <= (double)(g->h - 1)))
		return 0;
	return ir_load_f64(g->x, g->t,
			   g->base + (int64_t)yi * g->w + (int64_t)xi);
}

static void
cubic_coeffs(double t, double *c)
{
	const double a = -0.75;
	double x = t + 1;
	c[0] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
	c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
	x = 1 - t;
	c[2] = ((a + 2) * x - (a + 3)) * x * x + 1;
	x += 1;
	c[3] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

static double
grid_one(const grid_ctx *g, int mode, double ix, double iy)
{
	if (mode != IR_GRID_BICUBIC) {
		ix = grid_pad(ix, g->w, g->pad, g->ac);
		iy = grid_pad(iy, g->h, g->pad, g->ac);
	}
	if (mode == IR_GRID_NEAREST)
		return tap(g, nearbyint(ix), nearbyint(iy));
	double x0 = floor(ix), y0 = floor(iy), tx = ix - x0, ty = iy - y0;
	if (mode == IR_GRID_BILINEAR)
		return tap(g, x0, y0) * (1 - tx) * (1 - ty) +
		       tap(g, x0 + 1, y0) * tx * (1 - ty) +
		       tap(g, x0, y0 + 1) * (1 - tx) * ty +
		       tap(g, x0 + 1, y0 + 1) * tx * ty;
	double cx[4], cy[4], v = 0;
	cubic_coeffs(tx, cx);
	cubic_coeffs(ty, cy);
	for (int j = 0; j < 4; j++) {
		double row = 0;
		double yj = grid_pad(y0 - 1 + j, g->h, g->pad, g->ac);
		for (int i = 0; i < 4; i++)
			row += cx[i] * tap(g, grid_pad(x0 - 1 + i, g->w,
					   g->pad, g->ac), yj);
		v += cy[j] * row;
	}
	return v;
}

/* The unnormalized coordinate of grid value v along an axis of size. */
static double
grid_unnorm(double v, int64_t size, bool ac)
{
	return ac ? (v + 1) / 2 * (double)(size - 1)
		  : ((v + 1) * (double)size - 1) / 2;
}

static void
eval_grid(const ir_node *n, const void *const *in, void *const *out,
	  int mode, int pad)
{
	const ir_shape *o = &n->out[0]->shape, *x = &n->in[0]->shape;
	ir_dtype gt = n->in[1]->dtype;
	grid_ctx g = {in[0], n->in[0]->dtype, x->dim[2], x->dim[3], 0, pad,
		      ir_attr_i(n, "align_corners") != 0};
	int64_t hw = o->dim[2] * o->dim[3], k = 0;
	for (int64_t b = 0; b < o->dim[0]; b++)
		for (int64_t c = 0; c < o->dim[1]; c++) {
			g.base = (b * x->dim[1] + c) * g.h * g.w;
			for (int64_t p = 0; p < hw; p++, k++) {
				int64_t gi = (b * hw + p) * 2;
				double ix = grid_unnorm(ir_load_f64(in[1],
					gt, gi), g.w, g.ac);
				double iy = grid_unnorm(ir_load_f64(in[1],
					gt, gi + 1), g.h, g.ac);
				ir_store_f64(out[0], g.t, k,
					     grid_one(&g, mode, ix, iy));
			}
		}
}

bool
ir_roi_modes(const ir_node *n, bool *max, bool *half, nn_diag *d)
{
	static const char *const modes[] = {"avg", "max"};
	static const char *const cts[] = {"half_pixel", "output_half_pixel"};
	int m = pick(n, "mode", modes, 2, d);
	int ct = m < 0 ? -1 : pick(n, "coordinate_transformation_mode",
				   cts, 2, d);
	*max = m == 1;
	*half = ct == 0;
	if (ct < 0)
		return false;
	if (ir_attr_i(n, "output_height") < 1 ||
	    ir_attr_i(n, "output_width") < 1 ||
	    ir_attr_i(n, "sampling_ratio") < 0) {
		nn_error_node(d, n, "output_height and output_width must be "
			      ">= 1, sampling_ratio >= 0");
		return false;
	}
	return true;
}

static bool
shape_roi(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *r = &n->in[1]->shape;
	const ir_shape *b = &n->in[2]->shape;
	bool max, half;
	if (!ir_check_float_input(n, 0, d) || !ir_check_float_input(n, 1, d) ||
	    !ir_roi_modes(n, &max, &half, d))
		return false;
	if (!ir_dtype_is_int(n->in[2]->dtype)) {
		nn_error_node(d, n, "batch_indices: dtype %s is not an integer "
			      "type", ir_dtype_name(n->in[2]->dtype));
		return false;
	}
	if (x->rank != 4 || r->rank != 2 || r->dim[1] != 4 || b->rank != 1 ||
	    b->dim[0] != r->dim[0]) {
		char a[64], c[64], e[64];
		ir_shape_str(x, a, sizeof a);
		ir_shape_str(r, c, sizeof c);
		ir_shape_str(b, e, sizeof e);
		nn_error_node(d, n, "X %s, rois %s and batch_indices %s are "
			      "not N x C x H x W, R x 4 and R", a, c, e);
		return false;
	}
	ir_shape o = {4, {r->dim[0], x->dim[1], ir_attr_i(n,
		"output_height"), ir_attr_i(n, "output_width")}};
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = o;
	return true;
}

int64_t
ir_roi_grid(double v)
{
	v = ceil(v);
	return v > 0 ? (int64_t)fmin(v, (double)IR_ROI_MAX_GRID) : 0;
}

/* One sample point of a bin (onnxruntime's bilinear pre-calculation):
 * 4 flat positions into the plane and their weights. */
static void
roi_point(double y, double x, int64_t h, int64_t w, int64_t *pos,
	  double *wt)
{
	if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w)) {
		memset(pos, 0, 4 * sizeof *pos);
		memset(wt, 0, 4 * sizeof *wt);
		return;
	}
	y = fmax(y, 0);
	x = fmax(x, 0);
	int64_t yl = (int64_t)y, xl = (int64_t)x, yh = yl + 1, xh = xl + 1;
	if (yl >= h - 1) {
		yl = yh = h - 1;
		y = (double)yl;
	}
	if (xl >= w - 1) {
		xl = xh = w - 1;
		x = (double)xl;
	}
	double ly = y - (double)yl, lx = x - (double)xl;
	pos[0] = yl * w + xl;
	pos[1] = yl * w + xh;
	pos[2] = yh * w + xl;
	pos[3] = yh * w + xh;
	wt[0] = (1 - ly) * (1 - lx);
	wt[1] = (1 - ly) * lx;
	wt[2] = ly * (1 - lx);
	wt[3] = ly * lx;
}

/* cg_max's NaN rule: a NaN operand wins. */
static double
nan_max(double a, double b)
{
	double m = a > b || isnan(a) ? a : b;
	return isnan(b) ? b : m;
}

/* A roi's start (x, y), bin sizes and samples per bin. */
typedef struct roi_box {
	double x0, y0, bw, bh;
	int64_t gw, gh;
} roi_box;

/* Output bin (ph, pw) of the plane at base: the mean (or the cg_max) of
 * its samples' weighted taps. */
static double
roi_bin(const ir_node *n, const void *x, const roi_box *rb, int64_t base,
	int64_t ph, int64_t pw, bool max)
{
	const ir_shape *xs = &n->in[0]->shape;
	int64_t pos[4], cnt = rb->gh * rb->gw > 1 ? rb->gh * rb->gw : 1;
	double acc = 0, wt[4], v[4];
	bool first = true;
	for (int64_t iy = 0; iy < rb->gh; iy++)
		for (int64_t ix = 0; ix < rb->gw; ix++) {
			double y = rb->y0 + (double)ph * rb->bh +
				   ((double)iy + .5) * rb->bh / (double)rb->gh;
			double xx = rb->x0 + (double)pw * rb->bw +
				    ((double)ix + .5) * rb->bw / (double)rb->gw;
			roi_point(y, xx, xs->dim[2], xs->dim[3], pos, wt);
			for (int q = 0; q < 4; q++)
				v[q] = wt[q] * ir_load_f64(x, n->in[0]->dtype,
							   base + pos[q]);
			if (!max) {
				acc += v[0] + v[1] + v[2] + v[3];
				continue;
			}
			double m = nan_max(nan_max(v[0], v[1]),
					   nan_max(v[2], v[3]));
			acc = first ? m : nan_max(acc, m);
			first = false;
		}
	return max ? acc : acc / (double)cnt;
}

static void
roi_box_of(const ir_node *n, const void *rois, int64_t r, bool half,
	   roi_box *rb)
{
	const ir_shape *o = &n->out[0]->shape;
	int64_t sr = ir_attr_i(n, "sampling_ratio");
	double ss = ir_attr_f(n, "spatial_scale"), c[4];
	for (int j = 0; j < 4; j++)
		c[j] = ir_load_f64(rois, n->in[1]->dtype, r * 4 + j) * ss -
		       (half ? 0.5 : 0);
	double rw = c[2] - c[0], rh = c[3] - c[1];
	if (!half) {
		rw = fmax(rw, 1.0);
		rh = fmax(rh, 1.0);
	}
	rb->x0 = c[0];
	rb->y0 = c[1];
	rb->bh = rh / (double)o->dim[2];
	rb->bw = rw / (double)o->dim[3];
	rb->gh = sr > 0 ? sr : ir_roi_grid(rb->bh);
	rb->gw = sr > 0 ? sr : ir_roi_grid(rb->bw);
}

static bool
eval_roi(const ir_node *n, const void *const *in, void *const *out,
	 nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *o = &n->out[0]->shape;
	int64_t ow = o->dim[3], k = 0;
	bool max, half;
	roi_box rb;
	ir_roi_modes(n, &max, &half, d);
	for (int64_t r = 0; r < o->dim[0]; r++) {
		int64_t b = ir_load_i64(in[2], n->in[2]->dtype, r);
		if (b < 0 || b >= x->dim[0]) {
			nn_error_node(d, n, "batch_indices[%lld] = %lld is "
				      "outside [0, %lld)", (long long)r,
				      (long long)b, (long long)x->dim[0]);
			return false;
		}
		roi_box_of(n, in[1], r, half, &rb);
		for (int64_t ch = 0; ch < x->dim[1]; ch++) {
			int64_t base = (b * x->dim[1] + ch) * x->dim[2] *
				       x->dim[3];
			for (int64_t p = 0; p < o->dim[2] * ow; p++, k++)
				ir_store_f64(out[0], n->in[0]->dtype, k,
					     roi_bin(n, in[0], &rb, base,
						     p / ow, p % ow, max));
		}
	}
	return true;
}

bool
ir_shape_sample(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	return n->op == OP_GridSample ? shape_grid(n, d) : shape_roi(n, d);
}

bool
ir_eval_sample(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	int mode, pad;
	if (n->op == OP_RoiAlign)
		return eval_roi(n, in, out, d);
	if (!ir_grid_modes(n, &mode, &pad, d))
		return false;
	eval_grid(n, in, out, mode, pad);
	return true;
}
