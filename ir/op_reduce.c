/* ReduceMean, ReduceSum, ReduceMax (axes as constant input 1, the
 * opset-18 form) and ArgMax: shape inference and reference kernels.
 * Float sums accumulate in double; integer sums and maxima stay exact. */
#include <math.h>
#include <stdlib.h>

#include "elem.h"
#include "ir.h"

/* The number of axes node n reduces and, through *at, where axis k comes
 * from: ArgMax's axis, input 1's data, or an "axes" attribute (the
 * pre-opset-18 form, should a text IR still carry it). */
static int64_t
axes_count(const ir_node *n, const void *axes)
{
	int cnt = 0;
	if (n->op == OP_ArgMax || n->op == OP_ArgMin)
		return 1;
	if (n->nin > 1 && n->in[1])
		return axes ? ir_shape_numel(&n->in[1]->shape) : 0;
	ir_attr_ints(n, "axes", &cnt);
	return cnt;
}

static int64_t
axis_at(const ir_node *n, const void *axes, int64_t k)
{
	int cnt;
	if (n->op == OP_ArgMax || n->op == OP_ArgMin)
		return ir_attr_i(n, "axis");
	if (n->nin > 1 && n->in[1])
		return ir_load_i64(axes, n->in[1]->dtype, k);
	return ir_attr_ints(n, "axes", &cnt)[k];
}

/* Marks in red[] the reduced dims of node n given its axes data (NULL or
 * empty: all dims, unless noop_with_empty_axes). False on a bad axis,
 * reported to d. */
static bool
reduced_dims(const ir_node *n, const void *axes, nn_diag *d,
	     bool red[IR_MAX_RANK])
{
	int r = n->in[0]->shape.rank;
	int64_t na = axes_count(n, axes);
	bool all = na == 0 && !ir_attr_i_or(n, "noop_with_empty_axes", 0);
	for (int i = 0; i < IR_MAX_RANK; i++)
		red[i] = all;
	for (int64_t k = 0; k < na; k++) {
		int64_t a = axis_at(n, axes, k);
		if (a < -r || a >= r ||
		    (r == 0 && (n->op == OP_ArgMax || n->op == OP_ArgMin))) {
			nn_error_node(d, n, "axis %lld out of range for rank %d",
				      (long long)a, r);
			return false;
		}
		red[a < 0 ? a + r : a] = true;
	}
	return true;
}

static bool
check_input(ir_node *n, nn_diag *d)
{
	ir_dtype t = n->in[0]->dtype;
	if (!ir_dtype_is_float(t) && !ir_dtype_is_int(t)) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(t));
		return false;
	}
	ir_value *ax = n->nin > 1 ? n->in[1] : NULL;
	if (!ax)
		return true;
	if (!ir_dtype_is_int(ax->dtype) || ax->shape.rank > 1) {
		nn_error_node(d, n, "axes must be a 1-D integer tensor");
		return false;
	}
	if (!ax->data) {
		nn_error_node(d, n, "axes (input 1) must be a constant");
		return false;
	}
	return true;
}

bool
ir_shape_reduce(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	bool red[IR_MAX_RANK];
	if (!check_input(n, d))
		return false;
	if (!reduced_dims(n, n->nin > 1 && n->in[1] ? n->in[1]->data : NULL,
			  d, red))
		return false;
	const ir_shape *s = &n->in[0]->shape;
	ir_shape o = {0};
	bool keep = ir_attr_i(n, "keepdims") != 0;
	for (int i = 0; i < s->rank; i++) {
		if (!red[i])
			o.dim[o.rank++] = s->dim[i];
		else if (keep)
			o.dim[o.rank++] = 1;
	}
	bool arg = n->op == OP_ArgMax || n->op == OP_ArgMin;
	/* an index into nothing: shapes are static, so refuse it here
	 * rather than when the interpreter meets it */
	for (int i = 0; arg && i < s->rank; i++)
		if (red[i] && s->dim[i] == 0 && ir_shape_numel(&o) > 0) {
			nn_error_node(d, n, "%s over an empty axis",
				      ir_ops[n->op].name);
			return false;
		}
	n->out[0]->dtype = arg ? IR_I64 : n->in[0]->dtype;
	n->out[0]->shape = o;
	return true;
}

/* For each input element, the offset of its output element is the dot
 * product of its index with ostride (0 on reduced dims): one walk over the
 * input in row-major order accumulates every output. */
typedef struct walk {
	int rank;
	int64_t dim[IR_MAX_RANK], ostride[IR_MAX_RANK], idx[IR_MAX_RANK];
	int64_t off;
} walk;

static void
walk_init(walk *w, const ir_shape *s, const bool *red)
{
	int64_t acc = 1;
	w->rank = s->rank;
	w->off = 0;
	for (int i = s->rank - 1; i >= 0; i--) {
		w->dim[i] = s->dim[i];
		w->idx[i] = 0;
		w->ostride[i] = red[i] ? 0 : acc;
		if (!red[i])
			acc *= s->dim[i];
	}
}

static void
walk_next(walk *w)
{
	for (int i = w->rank - 1; i >= 0; i--) {
		w->off += w->ostride[i];
		if (++w->idx[i] < w->dim[i])
			return;
		w->off -= w->ostride[i] * w->dim[i];
		w->idx[i] = 0;
	}
}

/* The running value of a float reduction after element v. */
static double
reduce_step(ir_op op, double a, double v)
{
	switch (op) {
	case OP_ReduceMax:
		return isnan(a) ? a : v > a || isnan(v) ? v : a;
	case OP_ReduceMin:
		return isnan(a) ? a : v < a || isnan(v) ? v : a;
	case OP_ReduceProd: return a * v;
	case OP_ReduceL1: return a + fabs(v);
	case OP_ReduceL2:
	case OP_ReduceSumSquare: return a + v * v;
	case OP_ReduceLogSumExp: return a + exp(v);
	default: return a + v;
	}
}

static double
reduce_final(ir_op op, double a, double cnt)
{
	switch (op) {
	case OP_ReduceMean: return a / cnt;
	case OP_ReduceL2: return sqrt(a);
	case OP_ReduceLogSumExp:
	case OP_ReduceLogSum: return log(a);
	default: return a;
	}
}

static void
reduce_float(const ir_node *n, const void *x, void *y, walk *w,
	     int64_t nin, int64_t nout)
{
	ir_dtype t = n->in[0]->dtype;
	double *acc = nn_xcalloc((size_t)(nout ? nout : 1), sizeof *acc);
	double init = n->op == OP_ReduceMax ? -INFINITY
		    : n->op == OP_ReduceMin ? INFINITY
		    : n->op == OP_ReduceProd ? 1 : 0;
	for (int64_t o = 0; o < nout; o++)
		acc[o] = init;
	for (int64_t i = 0; i < nin; i++, walk_next(w))
		acc[w->off] = reduce_step(n->op, acc[w->off],
					  ir_load_f64(x, t, i));
	double cnt = nout ? (double)nin / (double)nout : 0;
	for (int64_t o = 0; o < nout; o++)
		ir_store_f64(y, t, o, reduce_final(n->op, acc[o], cnt));
	free(acc);
}

/* Integer Sum and Max wrap/compare on the raw bits; Mean truncates. */
static void
reduce_int(const ir_node *n, const void *x, void *y, walk *w, int64_t nin,
	   int64_t nout)
{
	ir_dtype t = n->in[0]->dtype;
	uint64_t *acc = nn_xcalloc((size_t)(nout ? nout : 1), sizeof *acc);
	bool *seen = nn_xcalloc((size_t)(nout ? nout : 1), sizeof *seen);
	for (int64_t o = 0; o < nout && n->op == OP_ReduceProd; o++)
		acc[o] = 1;
	for (int64_t i = 0; i < nin; i++, walk_next(w)) {
		uint64_t v = elem_load_bits(x, t, i), *a = &acc[w->off];
		bool neg = !elem_is_unsigned(t) && (int64_t)v < 0;
		if (n->op == OP_ReduceMax || n->op == OP_ReduceMin) {
			if (!seen[w->off] || (n->op == OP_ReduceMax
					      ? elem_less(*a, v, t)
					      : elem_less(v, *a, t)))
				*a = v;
		} else if (n->op == OP_ReduceProd) {
			*a *= v;
		} else if (n->op == OP_ReduceL1) {
			*a += neg ? 0 - v : v;
		} else if (n->op == OP_ReduceSumSquare) {
			*a += v * v;
		} else {
			*a += v;
		}
		seen[w->off] = true;
	}
	uint64_t cnt = nout ? (uint64_t)(nin / nout) : 1;
	/* Max/Min of nothing: the type's minimum/maximum (ONNX 18) */
	int bits = (int)ir_dtype_size(t) * 8;
	uint64_t all = bits == 64 ? ~0ull : (1ull << bits) - 1;
	uint64_t lo = elem_is_unsigned(t) ? 0 : 1ull << (bits - 1);
	uint64_t none = n->op == OP_ReduceMax ? lo : (lo - 1) & all;
	for (int64_t o = 0; o < nout; o++) {
		uint64_t v = acc[o];
		if ((n->op == OP_ReduceMax || n->op == OP_ReduceMin) &&
		    !seen[o])
			v = none;
		if (n->op == OP_ReduceMean && cnt)
			v = elem_is_unsigned(t) ? v / cnt
						: (uint64_t)((int64_t)v /
							     (int64_t)cnt);
		elem_store_bits(y, t, o, v);
	}
	free(seen);
	free(acc);
}

/* Whether v (at a later index than best) replaces best: numpy's argmax
 * takes the first NaN as the maximum. */
static bool
argmax_better(double v, double best, bool last, bool min)
{
	if (isnan(best))
		return false;
	return isnan(v) || (min ? v < best : v > best) || (last && v == best);
}

static void
argmax_line(const ir_node *n, const void *x, int64_t base, int64_t stride,
	    int64_t len, int64_t *y)
{
	ir_dtype t = n->in[0]->dtype;
	bool last = ir_attr_i(n, "select_last_index") != 0;
	bool min = n->op == OP_ArgMin;
	int64_t bi = 0;
	if (ir_dtype_is_int(t)) {
		uint64_t best = elem_load_bits(x, t, base);
		for (int64_t k = 1; k < len; k++) {
			uint64_t v = elem_load_bits(x, t, base + k * stride);
			if ((min ? elem_less(v, best, t) : elem_less(best, v, t))
			    || (last && v == best)) {
				best = v;
				bi = k;
			}
		}
	} else {
		double best = ir_load_f64(x, t, base);
		for (int64_t k = 1; k < len; k++) {
			double v = ir_load_f64(x, t, base + k * stride);
			if (argmax_better(v, best, last, min)) {
				best = v;
				bi = k;
			}
		}
	}
	*y = bi;
}

static bool
eval_argmax(const ir_node *n, const void *x, int64_t *y, nn_diag *d)
{
	const ir_shape *s = &n->in[0]->shape;
	int64_t axis = ir_attr_i(n, "axis");
	if (axis < 0)
		axis += s->rank;
	int64_t outer = 1, len = s->dim[axis], inner = 1;
	for (int i = 0; i < s->rank; i++) {
		if (i < axis)
			outer *= s->dim[i];
		else if (i > axis)
			inner *= s->dim[i];
	}
	if (len == 0 && outer * inner > 0) {
		nn_error_node(d, n, "%s over an empty axis", ir_ops[n->op].name);
		return false;
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++)
			argmax_line(n, x, o * len * inner + i, inner, len,
				    &y[o * inner + i]);
	return true;
}

bool
ir_eval_reduce(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	if (n->op == OP_ArgMax || n->op == OP_ArgMin)
		return eval_argmax(n, in[0], out[0], d);
	bool red[IR_MAX_RANK];
	if (!reduced_dims(n, n->nin > 1 && n->in[1] ? in[1] : NULL, d, red))
		return false;
	walk w;
	walk_init(&w, &n->in[0]->shape, red);
	int64_t nin = ir_shape_numel(&n->in[0]->shape);
	int64_t nout = ir_shape_numel(&n->out[0]->shape);
	/* Integer L2, LogSumExp and LogSum go through double, truncated at
	 * the end. */
	if (ir_dtype_is_int(n->in[0]->dtype) && n->op != OP_ReduceL2 &&
	    n->op != OP_ReduceLogSumExp && n->op != OP_ReduceLogSum)
		reduce_int(n, in[0], out[0], &w, nin, nout);
	else
		reduce_float(n, in[0], out[0], &w, nin, nout);
	return true;
}
