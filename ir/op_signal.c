/* Signal ops (opset 17): the Hann, Hamming and Blackman windows and
 * MelWeightMatrix, whose constant inputs give their shape, and DFT and
 * STFT over real ([..., 1]) or complex ([..., 2]) data, computed as direct
 * sums (ir_dft_get gives both one geometry). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define TWO_PI 6.283185307179586476925286766559
/* Longest DFT: k * s (both below it) stays within int64. */
#define MAX_LEN ((int64_t)1 << 31)

/* The value of scalar input i, which must be constant (of an integer
 * type when integral). */
static bool
known_scalar(const ir_node *n, int i, bool integral, double *v, nn_diag *d)
{
	const ir_value *x = n->in[i];
	if (!x || !x->data) {
		nn_error_node(d, n, "input %d must be a constant", i);
		return false;
	}
	if (ir_shape_numel(&x->shape) != 1 || x->shape.rank > 1 ||
	    (integral ? !ir_dtype_is_int(x->dtype)
		      : !ir_dtype_is_float(x->dtype) &&
			!ir_dtype_is_int(x->dtype))) {
		nn_error_node(d, n, "input %d must be a scalar %s", i,
			      integral ? "integer" : "number");
		return false;
	}
	*v = integral ? (double)ir_load_i64(x->data, x->dtype, 0)
		      : ir_load_f64(x->data, x->dtype, 0);
	return true;
}

/* output_datatype: a numeric element type. */
static bool
out_dtype(ir_node *n, nn_diag *d)
{
	int64_t t = ir_attr_i(n, "output_datatype");
	if (t <= 0 || t >= IR_NDTYPE ||
	    !(ir_dtype_is_float((ir_dtype)t) || ir_dtype_is_int((ir_dtype)t))) {
		nn_error_node(d, n, "output_datatype %lld is not a numeric "
			      "element type", (long long)t);
		return false;
	}
	n->out[0]->dtype = (ir_dtype)t;
	return true;
}

static bool
count_ok(const ir_node *n, double v, const char *what, nn_diag *d)
{
	if (!(v >= 0 && v < (double)IR_MAX_ELEMS)) {
		nn_error_node(d, n, "%s %g is out of range", what, v);
		return false;
	}
	return true;
}

static bool
shape_window(ir_node *n, nn_diag *d)
{
	double size;
	if (!known_scalar(n, 0, true, &size, d) ||
	    !count_ok(n, size, "size", d) || !out_dtype(n, d))
		return false;
	n->out[0]->shape = (ir_shape){.rank = 1, .dim = {(int64_t)size}};
	return true;
}

static bool
shape_mel(ir_node *n, nn_diag *d)
{
	double v[5];
	for (int i = 0; i < 5; i++)
		if (!known_scalar(n, i, i < 3, &v[i], d))
			return false;
	if (!count_ok(n, v[0], "num_mel_bins", d) ||
	    !count_ok(n, v[1], "dft_length", d) || !out_dtype(n, d))
		return false;
	if (v[2] <= 0 || !(v[3] >= 0 && v[3] <= v[4])) {
		nn_error_node(d, n, "needs sample_rate > 0 and 0 <= "
			      "lower_edge_hertz <= upper_edge_hertz");
		return false;
	}
	int64_t rows = (int64_t)v[1] / 2 + 1, cols = (int64_t)v[0];
	if (cols && rows > IR_MAX_ELEMS / cols) {
		nn_error_node(d, n, "too many elements");
		return false;
	}
	n->out[0]->shape = (ir_shape){.rank = 2, .dim = {rows, cols}};
	return true;
}

/* DFT: x [..., n, ..., 1|2] on axis; the optional dft_length (input 1)
 * pads with zeros or truncates. */
static bool
shape_dft(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	int r = x->rank;
	int64_t ax = ir_attr_i(n, "axis");
	if (r < 2 || (x->dim[r - 1] != 1 && x->dim[r - 1] != 2)) {
		nn_error_node(d, n, "input must have rank >= 2 and a last "
			      "dimension of 1 (real) or 2 (complex)");
		return false;
	}
	if (ax < 0)
		ax += r;
	if (ax < 0 || ax >= r - 1) {
		nn_error_node(d, n, "axis %lld is out of range for rank %d",
			      (long long)ir_attr_i(n, "axis"), r);
		return false;
	}
	int64_t len = x->dim[ax];
	if (n->nin > 1 && n->in[1]) {
		double v;
		if (!known_scalar(n, 1, true, &v, d) ||
		    !count_ok(n, v, "dft_length", d))
			return false;
		len = (int64_t)v;
	}
	if (len < 1 || len > MAX_LEN) {
		nn_error_node(d, n, "the DFT length must be in [1, 2^31]");
		return false;
	}
	ir_shape o = *x;
	o.dim[ax] = ir_attr_i(n, "onesided") ? len / 2 + 1 : len;
	o.dim[r - 1] = 2;
	if (ir_shape_numel(&o) < 0) {
		nn_error_node(d, n, "too many elements");
		return false;
	}
	n->out[0]->shape = o;
	return true;
}

/* STFT: signal [batch, length, 1|2], frame_step, window [frame_length]
 * and frame_length (at least one of the two). */
static bool
shape_stft(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	const ir_value *w = n->nin > 2 ? n->in[2] : NULL;
	double step, fl = -1;
	if (x->rank != 3 || (x->dim[2] != 1 && x->dim[2] != 2)) {
		nn_error_node(d, n, "signal must be [batch, length, 1 or 2]");
		return false;
	}
	if (!known_scalar(n, 1, true, &step, d))
		return false;
	if (n->nin > 3 && n->in[3] && !known_scalar(n, 3, true, &fl, d))
		return false;
	if (w && (w->shape.rank != 1 || w->dtype != n->in[0]->dtype ||
		  (fl >= 0 && w->shape.dim[0] != (int64_t)fl))) {
		nn_error_node(d, n, "window must be 1-D, of the signal's type "
			      "and frame_length long");
		return false;
	}
	if (w)
		fl = (double)w->shape.dim[0];
	if (fl < 0) {
		nn_error_node(d, n, "needs a window or a frame_length");
		return false;
	}
	if (!(step >= 1) || !(fl >= 1) || fl > (double)x->dim[1] ||
	    fl > (double)MAX_LEN) {
		nn_error_node(d, n, "needs frame_step >= 1 and 1 <= "
			      "frame_length <= the signal length");
		return false;
	}
	int64_t frames = (x->dim[1] - (int64_t)fl) / (int64_t)step + 1;
	int64_t bins = ir_attr_i(n, "onesided") ? (int64_t)fl / 2 + 1
						 : (int64_t)fl;
	n->out[0]->shape = (ir_shape){.rank = 4,
				      .dim = {x->dim[0], frames, bins, 2}};
	return true;
}

bool
ir_shape_signal(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	switch (n->op) {
	case OP_BlackmanWindow:
	case OP_HammingWindow:
	case OP_HannWindow:
		return shape_window(n, d);
	case OP_MelWeightMatrix:
		return shape_mel(n, d);
	default:
		break;
	}
	if (!ir_dtype_is_float(n->in[0]->dtype)) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(n->in[0]->dtype));
		return false;
	}
	n->out[0]->dtype = n->in[0]->dtype;
	return n->op == OP_DFT ? shape_dft(n, d) : shape_stft(n, d);
}

bool
ir_dft_get(const ir_node *n, ir_dft *g)
{
	const ir_shape *x = &n->in[0]->shape, *o = &n->out[0]->shape;
	int r = x->rank;
	memset(g, 0, sizeof *g);
	g->comp = x->dim[r - 1];
	g->window = -1;
	if (n->op == OP_STFT) {
		g->n1 = o->dim[0];
		g->n2 = o->dim[1];
		g->is1 = x->dim[1] * g->comp;
		g->is2 = ir_load_i64(n->in[1]->data, n->in[1]->dtype, 0) *
			 g->comp;
		g->len = n->nin > 2 && n->in[2] ? n->in[2]->shape.dim[0]
			 : ir_load_i64(n->in[3]->data, n->in[3]->dtype, 0);
		g->nread = g->len;
		g->iss = g->comp;
		g->inner = 1;
		g->bins = o->dim[2];
		g->window = n->nin > 2 && n->in[2] ? 2 : -1;
		return true;
	}
	int64_t ax = ir_attr_i(n, "axis");
	if (ax < 0)
		ax += r;
	if (ax < 0 || ax >= r - 1)
		return false;
	g->n1 = 1;
	g->inner = 1;
	for (int k = 0; k < r - 1; k++)
		if (k < ax)
			g->n1 *= x->dim[k];
		else if (k > ax)
			g->inner *= x->dim[k];
	g->n2 = 1;
	g->isi = g->comp;
	g->iss = g->inner * g->comp;
	g->is1 = x->dim[ax] * g->iss;
	g->len = n->nin > 1 && n->in[1]
		 ? ir_load_i64(n->in[1]->data, n->in[1]->dtype, 0)
		 : x->dim[ax];
	g->nread = g->len < x->dim[ax] ? g->len : x->dim[ax];
	g->bins = o->dim[ax];
	g->inverse = ir_attr_i(n, "inverse") != 0;
	return true;
}

/* Output bin k of the line at base: *re, *im. */
static void
dft_point(const ir_dft *g, const void *const *in, ir_dtype t, int64_t base,
	  int64_t k, double *re, double *im)
{
	double sg = g->inverse ? -1 : 1;
	*re = *im = 0;
	for (int64_t s = 0; s < g->nread; s++) {
		int64_t e = base + s * g->iss;
		double xr = ir_load_f64(in[0], t, e);
		double xi = g->comp == 2 ? ir_load_f64(in[0], t, e + 1) : 0;
		double th = TWO_PI * (double)(k * s % g->len) / (double)g->len;
		double c = cos(th), sn = sg * sin(th);
		if (g->window >= 0) {
			double w = ir_load_f64(in[g->window], t, s);
			xr *= w;
			xi *= w;
		}
		*re += xr * c + xi * sn;
		*im += xi * c - xr * sn;
	}
	if (g->inverse) {
		*re /= (double)g->len;
		*im /= (double)g->len;
	}
}

static void
eval_dft(const ir_node *n, const void *const *in, void *out)
{
	ir_dft g;
	ir_dtype t = n->in[0]->dtype;
	int64_t q = 0;
	double re, im;
	ir_dft_get(n, &g);
	for (int64_t a = 0; a < g.n1; a++)
		for (int64_t b = 0; b < g.n2; b++)
			for (int64_t k = 0; k < g.bins; k++)
				for (int64_t i = 0; i < g.inner; i++) {
					dft_point(&g, in, t, a * g.is1 +
						  b * g.is2 + i * g.isi, k,
						  &re, &im);
					ir_store_f64(out, t, q++, re);
					ir_store_f64(out, t, q++, im);
				}
}

/* The generalized cosine windows: a0 - a1 cos(x) + a2 cos(2x). */
static void
eval_window(const ir_node *n, void *out)
{
	int64_t size = n->out[0]->shape.dim[0];
	double a0 = 0.5, a1 = 0.5, a2 = 0;
	double den = (double)(ir_attr_i(n, "periodic") ? size : size - 1);
	if (n->op == OP_HammingWindow) {
		a0 = 25.0 / 46;
		a1 = 21.0 / 46;
	} else if (n->op == OP_BlackmanWindow) {
		a0 = 0.42;
		a2 = 0.08;
	}
	for (int64_t i = 0; i < size; i++) {
		double x = den > 0 ? TWO_PI * (double)i / den : 0;
		ir_store_f64(out, n->out[0]->dtype, i,
			     a0 - a1 * cos(x) + a2 * cos(2 * x));
	}
}

/* As onnx's reference: num_mel_bins + 2 points evenly spaced in mel
 * (2595 log10(1 + f / 700)) over [lower, upper] in steps of the range
 * over num_mel_bins + 2, mapped to DFT bins floor((len + 1) f / rate),
 * each filter a triangle rising from point i to i + 1 and falling to
 * i + 2. */
static void
eval_mel(const ir_node *n, const void *const *in, void *out)
{
	int64_t bins = n->out[0]->shape.dim[1];
	int64_t rows = n->out[0]->shape.dim[0];
	double len = (double)ir_load_i64(in[1], n->in[1]->dtype, 0);
	double rate = (double)ir_load_i64(in[2], n->in[2]->dtype, 0);
	double lo = ir_load_f64(in[3], n->in[3]->dtype, 0);
	double hi = ir_load_f64(in[4], n->in[4]->dtype, 0);
	ir_dtype t = n->out[0]->dtype;
	double mlo = 2595 * log10(1 + lo / 700);
	double mhi = 2595 * log10(1 + hi / 700);
	double step = (mhi - mlo) / (double)(bins + 2);
	int64_t *pt = nn_xmalloc((size_t)(bins + 2) * sizeof *pt);
	double *o = nn_xcalloc((size_t)(rows * bins) + 1, sizeof *o);
	for (int64_t i = 0; i < bins + 2; i++) {
		double f = 700 * (pow(10, ((double)i * step + mlo) / 2595) - 1);
		pt[i] = (int64_t)floor((len + 1) * f / rate);
	}
#define AT(j, i) o[(j) * bins + (i)]
#define IN(j) ((j) >= 0 && (j) < rows)
	for (int64_t i = 0; i < bins; i++) {
		int64_t l = pt[i], c = pt[i + 1], h = pt[i + 2];
		if (c == l) {
			if (IN(c))
				AT(c, i) = 1;
		} else {
			for (int64_t j = l; j <= c; j++)
				if (IN(j))
					AT(j, i) = (double)(j - l) /
						   (double)(c - l);
		}
		for (int64_t j = c; j < h; j++)
			if (IN(j))
				AT(j, i) = (double)(h - j) / (double)(h - c);
	}
#undef AT
#undef IN
	for (int64_t k = 0; k < rows * bins; k++)
		ir_store_f64(out, t, k, o[k]);
	free(pt);
	free(o);
}

bool
ir_eval_signal(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	(void)d;
	switch (n->op) {
	case OP_MelWeightMatrix:
		eval_mel(n, in, out[0]);
		break;
	case OP_DFT:
	case OP_STFT:
		eval_dft(n, in, out[0]);
		break;
	default:
		eval_window(n, out[0]);
		break;
	}
	return true;
}
