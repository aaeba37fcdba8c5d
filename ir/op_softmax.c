/* Softmax, LogSoftmax and Hardmax: shape inference and reference kernels,
 * with the opset-13 semantics (one axis, default -1) and the older one
 * (coerce to 2-D at axis, default 1) for models imported at opset < 13. */
#include <math.h>

#include "ir.h"

/* The shape hook marks nodes of models imported at opset < 13 with the
 * private int attribute "nncc.legacy" = 1, because the eval hook does not
 * see the graph's opset; it also keeps the old semantics when a graph is
 * printed and parsed back (the text form has no opset). */
#define LEGACY_ATTR "nncc.legacy"

bool
ir_softmax_legacy(const ir_node *n)
{
	return ir_attr_i(n, LEGACY_ATTR) != 0;
}

/* ONNX's default axis depends on the opset (1 before 13, -1 from 13):
 * attrs.def says NONE and the mark picks it. */
int64_t
ir_softmax_axis(const ir_node *n)
{
	return ir_attr_int(n, "axis", ir_softmax_legacy(n) ? 1 : -1);
}

bool
ir_shape_softmax(ir_graph *g, ir_node *n, nn_diag *d)
{
	ir_value *x = n->in[0];
	if (!ir_dtype_is_float(x->dtype)) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(x->dtype));
		return false;
	}
	/* opset 0: a graph not imported from ONNX (text IR, tests). */
	if (g->opset > 0 && g->opset < 13)
		ir_set_attr(g, n, LEGACY_ATTR, IR_ATTR_INT)->i = 1;
	int r = x->shape.rank;
	int64_t axis = ir_softmax_axis(n);
	/* A rank-0 tensor has no axis: treat it as one element. */
	if (r > 0 && (axis < -r || axis >= r)) {
		nn_error_node(d, n, "axis %lld out of range for rank %d",
			      (long long)axis, r);
		return false;
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = x->shape;
	return true;
}

/* Softmax of len elements spaced by stride, through double. */
static void
softmax_line(const void *x, void *y, ir_dtype t, int64_t base,
	     int64_t stride, int64_t len, bool logsm)
{
	double mx = -INFINITY, sum = 0;
	for (int64_t k = 0; k < len; k++) {
		double v = ir_load_f64(x, t, base + k * stride);
		if (v > mx || isnan(v))
			mx = v;
	}
	for (int64_t k = 0; k < len; k++)
		sum += exp(ir_load_f64(x, t, base + k * stride) - mx);
	for (int64_t k = 0; k < len; k++) {
		double v = ir_load_f64(x, t, base + k * stride) - mx;
		ir_store_f64(y, t, base + k * stride,
			     logsm ? v - log(sum) : exp(v) / sum);
	}
}

/* The f32 fast path, for contiguous lines (the last axis). */
static void
softmax_f32(const float *x, float *y, int64_t len, bool logsm)
{
	float mx = -INFINITY;
	double sum = 0;
	for (int64_t k = 0; k < len; k++)
		if (x[k] > mx || isnan(x[k]))
			mx = x[k];
	for (int64_t k = 0; k < len; k++)
		sum += exp((double)(x[k] - mx));
	float ls = (float)log(sum);
	for (int64_t k = 0; k < len; k++)
		y[k] = logsm ? (x[k] - mx) - ls
			     : (float)(exp((double)(x[k] - mx)) / sum);
}

/* Hardmax of one line: 1 at the first maximum, 0 elsewhere; the first NaN
 * is the maximum (np.argmax, as ArgMax). */
static void
hardmax_line(const void *x, void *y, ir_dtype t, int64_t base,
	     int64_t stride, int64_t len)
{
	int64_t bi = 0;
	double best = ir_load_f64(x, t, base);
	for (int64_t k = 1; k < len && !isnan(best); k++) {
		double v = ir_load_f64(x, t, base + k * stride);
		if (v > best || isnan(v)) {
			best = v;
			bi = k;
		}
	}
	for (int64_t k = 0; k < len; k++)
		ir_store_f64(y, t, base + k * stride, k == bi);
}

bool
ir_eval_softmax(const ir_node *n, const void *const *in, void *const *out,
		nn_diag *d)
{
	(void)d;
	const ir_shape *s = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	bool logsm = n->op == OP_LogSoftmax;
	int64_t axis = ir_softmax_axis(n);
	if (axis < 0)
		axis += s->rank;
	int64_t outer = 1, len = 1, inner = 1;
	for (int i = 0; i < s->rank; i++) {
		if (i < axis)
			outer *= s->dim[i];
		else if (i == axis || ir_softmax_legacy(n))
			len *= s->dim[i];
		else
			inner *= s->dim[i];
	}
	if (len == 0)
		return true;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * len * inner + i;
			if (n->op == OP_Hardmax)
				hardmax_line(in[0], out[0], t, base, inner,
					     len);
			else if (t == IR_F32 && inner == 1)
				softmax_f32((const float *)in[0] + base,
					    (float *)out[0] + base, len, logsm);
			else
				softmax_line(in[0], out[0], t, base, inner,
					     len, logsm);
		}
	return true;
}
