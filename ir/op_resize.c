/* Resize (opset 13-18 form: X, roi, scales, sizes): nearest, linear and
 * cubic interpolation over N-D, every coordinate transformation mode, and
 * opset-18 antialias. Shape inference needs scales or sizes constant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

enum { CT_HALF_PIXEL, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_CROP, CT_TF_NN };
enum { NR_PREFER_FLOOR, NR_PREFER_CEIL, NR_FLOOR, NR_CEIL };
enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };

typedef struct rz_plan {
	int rank;
	int mode, ct, nearest;
	bool antialias, exclude_outside;
	double extrap, cubic_a;
	int64_t in[IR_MAX_RANK], out[IR_MAX_RANK];
	/* scale: output/input ratio; len: the resized length that
	 * align_corners and tf_crop_and_resize divide by (in * scale). */
	double scale[IR_MAX_RANK], len[IR_MAX_RANK];
	double roi0[IR_MAX_RANK], roi1[IR_MAX_RANK];
} rz_plan;

/* Index of s in names[0..n), or -1 after reporting. */
static int
pick(const ir_node *n, const char *attr, const char *s,
     const char *const *names, int count, nn_diag *d)
{
	for (int i = 0; i < count; i++)
		if (!strcmp(s, names[i]))
			return i;
	nn_error_node(d, n, "%s '%s' is not supported", attr, s);
	return -1;
}

static bool
read_modes(const ir_node *n, rz_plan *p, nn_diag *d)
{
	static const char *const modes[] = {"nearest", "linear", "cubic"};
	static const char *const cts[] = {
		"half_pixel", "pytorch_half_pixel", "align_corners",
		"asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"};
	static const char *const nrs[] = {"round_prefer_floor",
					  "round_prefer_ceil", "floor", "ceil"};
	int64_t aa = ir_attr_i(n, "antialias");
	int64_t ex = ir_attr_i(n, "exclude_outside");
	p->mode = pick(n, "mode", ir_attr_s(n, "mode"), modes, 3,
		       d);
	if (p->mode < 0)
		return false;
	if ((aa != 0 && aa != 1) || (ex != 0 && ex != 1)) {
		nn_error_node(d, n, "%s=%lld is not supported (0 or 1)",
			      aa != 0 && aa != 1 ? "antialias" :
						   "exclude_outside",
			      (long long)(aa != 0 && aa != 1 ? aa : ex));
		return false;
	}
	/* The spec gives antialias to linear and cubic only. */
	p->antialias = aa == 1 && p->mode != RZ_NEAREST;
	p->exclude_outside = ex == 1;
	p->cubic_a = ir_attr_f(n, "cubic_coeff_a");
	p->ct = pick(n, "coordinate_transformation_mode",
		     ir_attr_s(n, "coordinate_transformation_mode"), cts, 6, d);
	p->nearest = pick(n, "nearest_mode",
			  ir_attr_s(n, "nearest_mode"),
			  nrs, 4, d);
	p->extrap = ir_attr_f(n, "extrapolation_value");
	return p->ct >= 0 && p->nearest >= 0;
}

/* The axes attribute, normalized, into ax[*count]; all axes if absent. */
static bool
read_axes(const ir_node *n, int rank, int *ax, int *count, nn_diag *d)
{
	int cnt;
	const int64_t *a = ir_attr_ints(n, "axes", &cnt);
	bool seen[IR_MAX_RANK] = {false};
	*count = a ? cnt : rank;
	for (int i = 0; i < *count; i++) {
		int64_t v = a ? a[i] : i;
		v = v < 0 ? v + rank : v;
		if (v < 0 || v >= rank || seen[v]) {
			nn_error_node(d, n, "bad or repeated axis %lld for rank "
				      "%d", (long long)(a ? a[i] : i), rank);
			return false;
		}
		seen[v] = true;
		ax[i] = (int)v;
	}
	return true;
}

/* Element count of optional input i; 0 when omitted or empty. */
static int64_t
count_of(const ir_node *n, int i)
{
	if (n->nin <= i || !n->in[i])
		return 0;
	return ir_shape_numel(&n->in[i]->shape);
}

/* floor(v) as output dimension a; an error instead of an out-of-range
 * conversion (undefined behaviour) for absurd scales or sizes. */
static bool
out_dim(const ir_node *n, int a, double v, int64_t *out, nn_diag *d)
{
	if (!(fabs(v) < (double)IR_MAX_ELEMS)) {
		nn_error_node(d, n, "output dimension %d would be %g, above the "
			      "maximum of %lld", a, v, (long long)IR_MAX_ELEMS);
		return false;
	}
	*out = (int64_t)floor(v);
	return true;
}

static bool
apply_scales(const ir_node *n, rz_plan *p, const int *ax, int na,
	     const void *sc, nn_diag *d)
{
	for (int i = 0; i < na; i++) {
		int a = ax[i];
		double s = ir_load_f64(sc, n->in[2]->dtype, i);
		double crop = p->ct == CT_TF_CROP ? p->roi1[a] - p->roi0[a] : 1;
		if (!(s > 0)) {
			nn_error_node(d, n, "scale %g for axis %d must be > 0", s,
				      a);
			return false;
		}
		p->scale[a] = s;
		p->len[a] = (double)p->in[a] * s;
		if (!out_dim(n, a, (double)p->in[a] * crop * s, &p->out[a], d))
			return false;
	}
	return true;
}

static bool
apply_sizes(const ir_node *n, rz_plan *p, const int *ax, int na,
	    const void *sz, nn_diag *d)
{
	static const char *const pols[] = {"stretch", "not_larger",
					   "not_smaller"};
	int pol = pick(n, "keep_aspect_ratio_policy",
		       ir_attr_s(n, "keep_aspect_ratio_policy"),
		       pols, 3, d);
	double common = pol == 1 ? INFINITY : 0;
	if (pol < 0)
		return false;
	for (int i = 0; i < na; i++) {
		int a = ax[i];
		int64_t s = ir_load_i64(sz, n->in[3]->dtype, i);
		double r = (double)s / (double)p->in[a];
		if (s <= 0 || p->in[a] <= 0) {
			nn_error_node(d, n, "size %lld for axis %d must be > 0 "
				      "(input size %lld)", (long long)s, a,
				      (long long)p->in[a]);
			return false;
		}
		p->out[a] = s;
		p->scale[a] = r;
		p->len[a] = (double)s;
		common = pol == 1 ? fmin(common, r) : fmax(common, r);
	}
	for (int i = 0; pol != 0 && i < na; i++) {
		int a = ax[i];
		p->scale[a] = common;
		p->len[a] = common * (double)p->in[a];
		if (!out_dim(n, a, p->len[a] + 0.5, &p->out[a], d))
			return false;
	}
	return true;
}

/* The plan from attributes and the data of roi, scales and sizes (NULL
 * where not known; required ones are reported). */
static bool
make_plan(const ir_node *n, const void *roi, const void *sc, const void *sz,
	  rz_plan *p, nn_diag *d)
{
	static const char *const names[] = {"X", "roi", "scales", "sizes"};
	const ir_shape *xs = &n->in[0]->shape;
	int ax[IR_MAX_RANK], na;
	memset(p, 0, sizeof *p);
	p->rank = xs->rank;
	if (!read_modes(n, p, d) || !read_axes(n, xs->rank, ax, &na, d))
		return false;
	for (int i = 0; i < xs->rank; i++) {
		p->in[i] = p->out[i] = xs->dim[i];
		p->scale[i] = 1;
		p->len[i] = (double)xs->dim[i];
		p->roi1[i] = 1;
	}
	int64_t nr = count_of(n, 1), ns = count_of(n, 2), nz = count_of(n, 3);
	if ((ns > 0) == (nz > 0)) {
		nn_error_node(d, n, "exactly one of 'scales' and 'sizes' must "
			      "be given");
		return false;
	}
	for (int i = 1; i < 4; i++) {
		int64_t c = count_of(n, i), want = i == 1 ? 2 * na : na;
		const void *data = i == 1 ? roi : i == 2 ? sc : sz;
		/* roi matters only to tf_crop_and_resize; generated code
		 * bakes it in, so it is needed with sizes too. */
		if (c == 0 || (i == 1 && p->ct != CT_TF_CROP))
			continue;
		if (c != want) {
			nn_error_node(d, n, "input '%s' has %lld values, "
				      "expected %lld", names[i], (long long)c,
				      (long long)want);
			return false;
		}
		if (!data) {
			nn_error_node(d, n, "input '%s' must be a constant",
				      names[i]);
			return false;
		}
	}
	for (int i = 0; roi && nr == 2 * na && i < na; i++) {
		p->roi0[ax[i]] = ir_load_f64(roi, n->in[1]->dtype, i);
		p->roi1[ax[i]] = ir_load_f64(roi, n->in[1]->dtype, na + i);
	}
	return ns > 0 ? apply_scales(n, p, ax, na, sc, d)
		      : apply_sizes(n, p, ax, na, sz, d);
}

static const void *
data_of(const ir_node *n, int i)
{
	return count_of(n, i) > 0 ? n->in[i]->data : NULL;
}

bool
ir_shape_resize(ir_graph *g, ir_node *n, nn_diag *d)
{
	rz_plan p;
	(void)g;
	ir_dtype t = n->in[0]->dtype;
	if (!ir_dtype_is_float(t) && !ir_dtype_is_int(t)) {
		nn_error_node(d, n, "dtype %s not supported", ir_dtype_name(t));
		return false;
	}
	if (!make_plan(n, data_of(n, 1), data_of(n, 2), data_of(n, 3), &p, d))
		return false;
	for (int i = 0; i < p.rank; i++)
		if (p.out[i] <= 0) {
			nn_error_node(d, n, "output size along axis %d is %lld",
				      i, (long long)p.out[i]);
			return false;
		}
	n->out[0]->dtype = t;
	n->out[0]->shape.rank = p.rank;
	memcpy(n->out[0]->shape.dim, p.out, sizeof p.out);
	return true;
}

/* Source coordinate of output coordinate x along axis a. */
static double
source_coord(const rz_plan *p, int a, int64_t x)
{
	double s = p->scale[a], len = p->len[a], in = (double)p->in[a];
	switch (p->ct) {
	case CT_PYTORCH:
		return len > 1 ? ((double)x + 0.5) / s - 0.5 : 0.0;
	case CT_ALIGN:
		return len == 1 ? 0.0 : (double)x * (in - 1) / (len - 1);
	case CT_ASYM:
		return (double)x / s;
	case CT_TF_NN:
		return ((double)x + 0.5) / s;
	case CT_TF_CROP:
		if (len == 1)
			return 0.5 * (p->roi0[a] + p->roi1[a]) * (in - 1);
		return p->roi0[a] * (in - 1) +
		       (double)x * (p->roi1[a] - p->roi0[a]) * (in - 1) /
			       (len - 1);
	default:
		return ((double)x + 0.5) / s - 0.5;
	}
}

/* Per axis and output coordinate: `taps` source offsets (already times the
 * axis stride) and their weights, or `outside` (extrapolate). */
typedef struct rz_axis {
	int taps;
	int64_t *off;
	double *w;
	bool *outside;
} rz_axis;

static int64_t
clamp(int64_t v, int64_t n)
{
	return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/* The interpolation filter at distance t: the triangle, or the cubic
 * convolution kernel with parameter cubic_coeff_a. */
static double
kernel(const rz_plan *p, double t)
{
	double a = p->cubic_a;
	t = fabs(t);
	if (p->mode == RZ_LINEAR)
		return t < 1 ? 1 - t : 0;
	if (t <= 1)
		return ((a + 2) * t - (a + 3)) * t * t + 1;
	if (t < 2)
		return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
	return 0;
}

/* Taps of output coordinate x, as the ONNX reference places them: r in
 * (0, 1] is the distance from the source coordinate back to tap 0's
 * neighbour, taps run from `start` and edges are replicated. Antialias
 * stretches the filter by 1/scale when downsampling and renormalizes. */
static void
interp_taps(const rz_plan *p, int a, int64_t x, int64_t start, double s,
	    int64_t stride, rz_axis *m)
{
	double c = source_coord(p, a, x), f = floor(c), sum = 0;
	double r = c == f ? 1 : c - f;
	int64_t base = c == f ? (int64_t)f - 1 : (int64_t)f, in = p->in[a];
	double *w = m->w + x * m->taps;
	int64_t *off = m->off + x * m->taps;
	m->outside[x] = p->ct == CT_TF_CROP && (c < 0 || c > (double)(in - 1));
	for (int k = 0; k < m->taps; k++) {
		int64_t i = start + k, idx = base + i;
		w[k] = kernel(p, s * ((double)i - r));
		if (p->exclude_outside && (idx < 0 || idx >= in))
			w[k] = 0;
		off[k] = clamp(idx, in) * stride;
		sum += w[k];
	}
	for (int k = 0; (p->antialias || p->exclude_outside) && sum != 0 &&
			k < m->taps; k++)
		w[k] /= sum;
}

static void
nearest_tap(const rz_plan *p, int a, int64_t x, int64_t stride, rz_axis *m)
{
	double c = source_coord(p, a, x), f = floor(c), r = c - f;
	int64_t i0 = (int64_t)f;
	m->outside[x] = p->ct == CT_TF_CROP &&
			(c < 0 || c > (double)(p->in[a] - 1));
	if (r != 0 && (p->nearest == NR_CEIL ||
		       (p->nearest == NR_PREFER_FLOOR && r > 0.5) ||
		       (p->nearest == NR_PREFER_CEIL && r >= 0.5)))
		i0++;
	m->off[x] = clamp(i0, p->in[a]) * stride;
	m->w[x] = 1;
}

static void
axis_map(const rz_plan *p, int a, int64_t stride, rz_axis *m)
{
	int64_t n = p->out[a], start = 0;
	double s = p->antialias && p->scale[a] < 1 ? p->scale[a] : 1;
	m->taps = 1;
	if (p->mode != RZ_NEAREST) {
		start = (int64_t)floor((p->mode == RZ_CUBIC ? -2 : -1) / s) + 1;
		m->taps = (int)(2 - 2 * start);
	}
	m->off = nn_xmalloc((size_t)(n * m->taps) * sizeof *m->off);
	m->w = nn_xmalloc((size_t)(n * m->taps) * sizeof *m->w);
	m->outside = nn_xmalloc((size_t)n * sizeof *m->outside);
	for (int64_t x = 0; x < n; x++) {
		if (p->mode == RZ_NEAREST)
			nearest_tap(p, a, x, stride, m);
		else
			interp_taps(p, a, x, start, s, stride, m);
	}
}

typedef struct rz_ctx {
	const rz_plan *p;
	rz_axis m[IR_MAX_RANK];
	const double *x;
} rz_ctx;

/* Separable interpolation: axis a onward, at output index o. */
static double
interp(const rz_ctx *c, int a, const int64_t *o, int64_t base)
{
	if (a == c->p->rank)
		return c->x[base];
	const rz_axis *m = &c->m[a];
	int64_t x = o[a];
	if (m->outside[x])
		return c->p->extrap;
	const double *w = m->w + x * m->taps;
	const int64_t *off = m->off + x * m->taps;
	double v = 0;
	/* Skipping zero weights keeps unresized axes to one tap. */
	for (int k = 0; k < m->taps; k++)
		if (w[k] != 0)
			v += w[k] * interp(c, a + 1, o, base + off[k]);
	return v;
}

static void
run_resize(rz_ctx *c, const ir_value *yv, void *y)
{
	const rz_plan *p = c->p;
	int64_t stride = 1, o[IR_MAX_RANK] = {0};
	for (int a = p->rank - 1; a >= 0; a--) {
		axis_map(p, a, stride, &c->m[a]);
		stride *= p->in[a];
	}
	int64_t ny = ir_shape_numel(&yv->shape);
	for (int64_t i = 0; i < ny; i++) {
		ir_store_f64(y, yv->dtype, i, interp(c, 0, o, 0));
		for (int a = p->rank - 1; a >= 0; a--) {
			if (++o[a] < p->out[a])
				break;
			o[a] = 0;
		}
	}
	for (int a = 0; a < p->rank; a++) {
		free(c->m[a].off);
		free(c->m[a].w);
		free(c->m[a].outside);
	}
}

bool
ir_eval_resize(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	rz_plan p;
	rz_ctx c;
	const void *arg[4] = {NULL, NULL, NULL, NULL};
	for (int i = 1; i < 4; i++)
		arg[i] = count_of(n, i) > 0 ? in[i] : NULL;
	if (!make_plan(n, arg[1], arg[2], arg[3], &p, d))
		return false;
	const ir_value *xv = n->in[0];
	int64_t nx = ir_shape_numel(&xv->shape);
	double *x = nn_xmalloc((size_t)(nx > 0 ? nx : 1) * sizeof *x);
	for (int64_t i = 0; i < nx; i++)
		x[i] = ir_load_f64(in[0], xv->dtype, i);
	memset(&c, 0, sizeof c);
	c.p = &p;
	c.x = x;
	run_resize(&c, n->out[0], out[0]);
	free(x);
	return true;
}
