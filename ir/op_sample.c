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
pick(const ir_node *n, const char *attr, const char *dflt,
     const char *const *names, int count, nn_diag *d)
{
	const char *s = ir_attr_str(n, attr, dflt);
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
	int64_t ac = ir_attr_int(n, "align_corners", 0);
	if (ac != 0 && ac != 1) {
		nn_error_node(d, n, "align_corners=%lld is not supported (0 "
			      "or 1)", (long long)ac);
		return false;
	}
	*mode = pick(n, "mode", "bilinear", modes, 3, d);
	*pad = *mode < 0 ? -1 : pick(n, "padding_mode", "zeros", pads, 3, d);
	return *mode >= 0 && *pad >= 0;
}

static bool
float_in(const ir_node *n, int i, nn_diag *d)
{
	if (ir_dtype_is_float(n->in[i]->dtype))
		return true;
	nn_error_node(d, n, "input %d ('%s'): dtype %s not supported", i,
		      ir_value_label(n->in[i]), ir_dtype_name(n->in[i]->dtype));
	return false;
}

static bool
shape_grid(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *g = &n->in[1]->shape;
	int mode, pad;
	if (!float_in(n, 0, d) || !float_in(n, 1, d) ||
	    !ir_grid_modes(n, &mode, &pad, d))
		return false;
	if (x->rank != 4 || g->rank != 4 || g->dim[0] != x->dim[0] ||
	    g->dim[3] != 2) {
		char a[64], b[64];
		ir_shape_str(x, a, sizeof a);
		ir_shape_str(g, b, sizeof b);
		nn_error_node(d, n, "X %s and grid %s are not N x C x H x W and "
			      "N x H_out x W_out x 2", a, b);
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
		      ir_attr_int(n, "align_corners", 0) != 0};
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
ir_shape_sample(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	return shape_grid(n, d);
}

bool
ir_eval_sample(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	int mode, pad;
	if (!ir_grid_modes(n, &mode, &pad, d))
		return false;
	eval_grid(n, in, out, mode, pad);
	return true;
}
