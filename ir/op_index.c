/* Ops that index along axes with constant parameters: CumSum, OneHot,
 * TopK, ReverseSequence, Compress and MaxUnpool. The inputs that decide
 * the output's shape or the loops (CumSum's axis, OneHot's depth, TopK's
 * K, Compress's condition, MaxUnpool's output_shape) must be constants;
 * indices read at run time (ReverseSequence's sequence_lens, MaxUnpool's
 * indices) out of range are data errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

/* Input i's data, or an error saying why it must be constant. */
static bool
need_const(ir_node *n, int i, const char *what, const char *why,
	   nn_diag *d)
{
	const ir_value *v = i < n->nin ? n->in[i] : NULL;
	if (!v || !v->data) {
		nn_error_node(d, n, "%s (input %d) must be a constant: %s",
			      what, i, why);
		return false;
	}
	return true;
}

/* The one element of a scalar or 1-element input as an integer. */
static bool
one_int(ir_node *n, int i, const char *what, int64_t *v, nn_diag *d)
{
	const ir_value *x = n->in[i];
	if (ir_shape_numel(&x->shape) != 1 || x->shape.rank > 1 ||
	    x->dtype == IR_BOOL) {
		nn_error_node(d, n, "%s must be a scalar or one-element 1-D "
			      "tensor", what);
		return false;
	}
	if (ir_dtype_is_float(x->dtype)) {
		double f = ir_load_f64(x->data, x->dtype, 0);
		if (!(fabs(f) < 0x1p62)) {
			nn_error_node(d, n, "%s %g is not a usable integer",
				      what, f);
			return false;
		}
		*v = (int64_t)f; /* truncated, as a Cast to int64 */
	} else {
		*v = ir_load_i64(x->data, x->dtype, 0);
	}
	return true;
}

/* Sizes before, along and after axis a of s. */
static void
split3(const ir_shape *s, int a, int64_t *outer, int64_t *len,
       int64_t *inner)
{
	*outer = *inner = 1;
	for (int k = 0; k < s->rank; k++)
		if (k != a)
			*(k < a ? outer : inner) *= s->dim[k];
	*len = s->dim[a];
}

int
ir_cumsum_axis(const ir_node *n)
{
	int64_t a = ir_load_i64(n->in[1]->data, n->in[1]->dtype, 0);
	return (int)(a < 0 ? a + n->in[0]->shape.rank : a);
}

static bool
shape_cumsum(ir_node *n, nn_diag *d)
{
	int64_t a;
	if (n->in[0]->dtype == IR_BOOL) {
		nn_error_node(d, n, "CumSum of bool is not defined");
		return false;
	}
	if (!need_const(n, 1, "axis", "the loops run along one axis "
			"chosen at compile time", d) ||
	    !one_int(n, 1, "axis", &a, d))
		return false;
	if (ir_dtype_is_float(n->in[1]->dtype)) {
		nn_error_node(d, n, "axis must be an integer");
		return false;
	}
	if (!ir_norm_axis(n, &a, n->in[0]->shape.rank, d))
		return false;
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = n->in[0]->shape;
	return true;
}

/* Running sums in the element type (f32 for the 16-bit floats, as the
 * compiled code does); integers wrap. */
static void
eval_cumsum(const ir_node *n, const void *x, void *y)
{
	ir_dtype t = n->in[0]->dtype;
	int a = ir_cumsum_axis(n);
	bool ex = ir_attr_i(n, "exclusive") != 0;
	bool rev = ir_attr_i(n, "reverse") != 0;
	int64_t outer, len, inner;
	split3(&n->in[0]->shape, a, &outer, &len, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			double f = 0;
			uint64_t b = 0;
			for (int64_t s = 0; s < len; s++) {
				int64_t tt = rev ? len - 1 - s : s;
				int64_t p = (o * len + tt) * inner + i;
				if (ir_dtype_is_float(t)) {
					double v = ir_load_f64(x, t, p);
					double nf = f + v;
					if (t != IR_F64)
						nf = (float)nf;
					ir_store_f64(y, t, p, ex ? f : nf);
					f = nf;
				} else {
					uint64_t nb = b +
						elem_load_bits(x, t, p);
					elem_store_bits(y, t, p, ex ? b : nb);
					b = nb;
				}
			}
		}
}

int64_t
ir_onehot_depth(const ir_node *n)
{
	const ir_value *x = n->in[1];
	if (ir_dtype_is_float(x->dtype))
		return (int64_t)ir_load_f64(x->data, x->dtype, 0);
	return ir_load_i64(x->data, x->dtype, 0);
}

int
ir_onehot_axis(const ir_node *n)
{
	int64_t a = ir_attr_i(n, "axis");
	return (int)(a < 0 ? a + n->in[0]->shape.rank + 1 : a);
}

static bool
shape_onehot(ir_node *n, nn_diag *d)
{
	const ir_shape *ix = &n->in[0]->shape;
	int64_t depth, a = ir_attr_i(n, "axis");
	if (n->in[0]->dtype == IR_BOOL) {
		nn_error_node(d, n, "indices must be numbers, not bool");
		return false;
	}
	if (!need_const(n, 1, "depth", "it is the output's size along "
			"axis, and nncc's shapes are static", d) ||
	    !one_int(n, 1, "depth", &depth, d))
		return false;
	if (depth < 1) {
		nn_error_node(d, n, "depth %lld is not positive",
			      (long long)depth);
		return false;
	}
	if (ir_shape_numel(&n->in[2]->shape) != 2 ||
	    n->in[2]->shape.rank != 1) {
		nn_error_node(d, n, "values must be a 1-D tensor of 2 elements "
			      "(off, on)");
		return false;
	}
	if (ix->rank + 1 > IR_MAX_RANK || a < -(ix->rank + 1) || a > ix->rank) {
		nn_error_node(d, n, "axis %lld out of range for output rank "
			      "%d", (long long)a, ix->rank + 1);
		return false;
	}
	a = ir_onehot_axis(n);
	ir_shape o = {.rank = ix->rank + 1};
	for (int k = 0, j = 0; k < o.rank; k++)
		o.dim[k] = k == a ? depth : ix->dim[j++];
	n->out[0]->dtype = n->in[2]->dtype;
	n->out[0]->shape = o;
	return true;
}

/* The depth position index element p selects, or -1 for none: negative
 * indices count from the end; out of [-depth, depth) selects none (all
 * "off"), as ONNX says. Float indices are truncated as by a Cast. */
static int64_t
onehot_pos(const ir_value *ix, const void *data, int64_t p, int64_t depth)
{
	int64_t v;
	if (ir_dtype_is_float(ix->dtype)) {
		double f = ir_load_f64(data, ix->dtype, p);
		if (!(f > (double)-depth - 1 && f < (double)depth))
			return -1;
		v = (int64_t)f;
	} else if (ir_dtype_is_unsigned(ix->dtype)) {
		uint64_t u = elem_load_bits(data, ix->dtype, p);
		return u < (uint64_t)depth ? (int64_t)u : -1;
	} else {
		v = ir_load_i64(data, ix->dtype, p);
	}
	if (v < -depth || v >= depth)
		return -1;
	return v < 0 ? v + depth : v;
}

static void
eval_onehot(const ir_node *n, const void *const *in, void *y)
{
	int a = ir_onehot_axis(n);
	int64_t depth = ir_onehot_depth(n), outer, len, inner;
	size_t es = ir_dtype_size(n->out[0]->dtype);
	split3(&n->out[0]->shape, a, &outer, &len, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t pos = onehot_pos(n->in[0], in[0], o * inner + i,
						 depth);
			for (int64_t j = 0; j < len; j++)
				memcpy((char *)y + ((o * len + j) * inner + i) *
				       (int64_t)es, (const char *)in[2] +
				       (j == pos ? es : 0), es);
		}
}

int64_t
ir_topk_k(const ir_node *n)
{
	return ir_load_i64(n->in[1]->data, n->in[1]->dtype, 0);
}

static bool
shape_topk(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	int64_t k, a = ir_attr_i(n, "axis");
	if (n->in[0]->dtype == IR_BOOL) {
		nn_error_node(d, n, "TopK of bool is not defined");
		return false;
	}
	if (!need_const(n, 1, "K", "it is the outputs' size along axis, and "
			"nncc's shapes are static", d) ||
	    !one_int(n, 1, "K", &k, d))
		return false;
	if (ir_dtype_is_float(n->in[1]->dtype)) {
		nn_error_node(d, n, "K must be an integer");
		return false;
	}
	if (!ir_norm_axis(n, &a, x->rank, d))
		return false;
	if (k < 0 || k > x->dim[a]) {
		nn_error_node(d, n, "K %lld out of range [0, %lld]",
			      (long long)k, (long long)x->dim[a]);
		return false;
	}
	ir_shape o = *x;
	o.dim[a] = k;
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = o;
	if (n->nout > 1 && n->out[1]) {
		n->out[1]->dtype = IR_I64;
		n->out[1]->shape = o;
	}
	return true;
}

/* Whether element j comes before element i in TopK's order: a larger
 * (largest) or smaller value first, NaN above every number, equal values
 * by lower index. */
static bool
topk_before(const void *x, ir_dtype t, int64_t j, int64_t i, bool largest)
{
	int c;
	if (ir_dtype_is_float(t)) {
		double a = ir_load_f64(x, t, j), b = ir_load_f64(x, t, i);
		c = isnan(a) ? (isnan(b) ? 0 : 1) : isnan(b) ? -1
		    : a > b ? 1 : a < b ? -1 : 0;
	} else {
		uint64_t a = elem_load_bits(x, t, j);
		uint64_t b = elem_load_bits(x, t, i);
		c = elem_less(b, a, t) ? 1 : elem_less(a, b, t) ? -1 : 0;
	}
	if (!largest)
		c = -c;
	return c > 0 || (c == 0 && j < i);
}

/* K selection passes over each slice: pass r takes the first element,
 * in that (strict, total) order, after the one pass r - 1 took; so the
 * outputs come sorted (as ONNX allows for sorted=0 too). */
static void
eval_topk(const ir_node *n, const void *x, void *const *out)
{
	ir_dtype t = n->in[0]->dtype;
	int64_t a = ir_attr_i(n, "axis"), k = ir_topk_k(n), outer, len, inner;
	bool lg = ir_attr_i(n, "largest") != 0;
	size_t es = ir_dtype_size(t);
	a = a < 0 ? a + n->in[0]->shape.rank : a;
	split3(&n->in[0]->shape, (int)a, &outer, &len, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			int64_t base = o * len * inner + in, prev = -1;
			for (int64_t r = 0; r < k; r++) {
				int64_t best = -1, p = (o * k + r) * inner + in;
				for (int64_t j = 0; j < len; j++) {
					int64_t pj = base + j * inner;
					if (prev >= 0 && !topk_before(x, t,
					    base + prev * inner, pj, lg))
						continue;
					if (best < 0 || topk_before(x, t, pj,
					    base + best * inner, lg))
						best = j;
				}
				memcpy((char *)out[0] + p * (int64_t)es,
				       (const char *)x + (base + best * inner) *
				       (int64_t)es, es);
				if (n->nout > 1 && out[1])
					((int64_t *)out[1])[p] = best;
				prev = best;
			}
		}
}

static bool
shape_reverse_sequence(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *l = &n->in[1]->shape;
	int64_t ba = ir_attr_i(n, "batch_axis"), ta = ir_attr_i(n, "time_axis");
	ir_dtype lt = n->in[1]->dtype;
	if (x->rank < 2 || (ba != 0 && ba != 1) || (ta != 0 && ta != 1) ||
	    ba == ta) {
		nn_error_node(d, n, "batch_axis and time_axis must be 0 and 1 "
			      "(either way) of an input of rank 2 or more");
		return false;
	}
	if ((lt != IR_I64 && lt != IR_I32) || l->rank != 1 ||
	    l->dim[0] != x->dim[ba]) {
		nn_error_node(d, n, "sequence_lens must be i32 or i64 of shape "
			      "[%lld]", (long long)x->dim[ba]);
		return false;
	}
	/* lengths known now are checked now, as the interpreter would */
	for (int64_t b = 0; n->in[1]->data && b < l->dim[0]; b++) {
		int64_t len = ir_load_i64(n->in[1]->data, lt, b);
		if (len < 0 || len > x->dim[ta]) {
			nn_error_node(d, n, "sequence_lens[%lld] is %lld, "
				      "outside [0, %lld]", (long long)b,
				      (long long)len, (long long)x->dim[ta]);
			return false;
		}
	}
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = *x;
	return true;
}

/* out[b, t] = in[b, len[b] - 1 - t] for t < len[b], else in[b, t]. */
static bool
eval_reverse_sequence(const ir_node *n, const void *const *in, void *y,
		      nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	int ta = (int)ir_attr_i(n, "time_axis");
	int64_t d1 = x->dim[1], inner = 1;
	int64_t tn = x->dim[ta], nb = x->dim[1 - ta];
	size_t es = ir_dtype_size(n->in[0]->dtype);
	for (int k = 2; k < x->rank; k++)
		inner *= x->dim[k];
	for (int64_t b = 0; b < nb; b++) {
		int64_t len = ir_load_i64(in[1], n->in[1]->dtype, b);
		if (len < 0 || len > tn) {
			nn_error_node(d, n, "sequence_lens[%lld] is %lld, "
				      "outside [0, %lld]", (long long)b,
				      (long long)len, (long long)tn);
			return false;
		}
		for (int64_t t = 0; t < tn; t++) {
			int64_t s = t < len ? len - 1 - t : t;
			int64_t o = ta ? b * d1 + t : t * d1 + b;
			int64_t i = ta ? b * d1 + s : s * d1 + b;
			memcpy((char *)y + o * inner * (int64_t)es,
			       (const char *)in[0] + i * inner * (int64_t)es,
			       (size_t)inner * es);
		}
	}
	return true;
}

/* Compress: with an axis, the slices along it whose condition element is
 * true; without, the flattened input's elements. */
static int
compress_axis(const ir_node *n)
{
	int64_t a = ir_attr_int(n, "axis", INT64_MIN);
	if (a == INT64_MIN)
		return -1;
	return (int)(a < 0 ? a + n->in[0]->shape.rank : a);
}

static bool
shape_compress(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	const ir_value *c = n->in[1];
	int64_t a = ir_attr_int(n, "axis", INT64_MIN), len, cnt = 0;
	if (!need_const(n, 1, "condition", "which elements it keeps decides "
			"the output's shape, and nncc's shapes are static", d))
		return false;
	if (c->shape.rank != 1 || ir_dtype_is_float(c->dtype)) {
		nn_error_node(d, n, "condition must be a 1-D bool tensor");
		return false;
	}
	if (a != INT64_MIN && !ir_norm_axis(n, &a, x->rank, d))
		return false;
	len = a == INT64_MIN ? ir_shape_numel(x) : x->dim[a];
	if (c->shape.dim[0] > len) {
		nn_error_node(d, n, "condition has %lld elements, more than "
			      "the %lld it selects from",
			      (long long)c->shape.dim[0], (long long)len);
		return false;
	}
	for (int64_t i = 0; i < c->shape.dim[0]; i++)
		cnt += ir_load_i64(c->data, c->dtype, i) != 0;
	ir_shape o = *x;
	if (a == INT64_MIN)
		o = (ir_shape){.rank = 1, .dim = {cnt}};
	else
		o.dim[a] = cnt;
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = o;
	return true;
}

void
ir_compress_map(const ir_node *n, int64_t *map)
{
	const ir_value *c = n->in[1];
	int a = compress_axis(n);
	int64_t outer = 1, len = ir_shape_numel(&n->in[0]->shape), inner = 1;
	int64_t q = 0;
	if (a >= 0)
		split3(&n->in[0]->shape, a, &outer, &len, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t t = 0; t < c->shape.dim[0]; t++) {
			if (!ir_load_i64(c->data, c->dtype, t))
				continue;
			for (int64_t i = 0; i < inner; i++)
				map[q++] = (o * len + t) * inner + i;
		}
}

/* MaxUnpool's inferred output (ONNX: (in - 1) * stride - pads + kernel;
 * with output_shape, pads are ignored), which its indices address. */
void
ir_maxunpool_inferred(const ir_node *n, ir_shape *s)
{
	const ir_shape *x = &n->in[0]->shape;
	int nk, ns, np, sp = x->rank - 2;
	const int64_t *k = ir_attr_ints(n, "kernel_shape", &nk);
	const int64_t *st = ir_attr_ints(n, "strides", &ns);
	const int64_t *p = ir_attr_ints(n, "pads", &np);
	bool given = n->nin > 2 && n->in[2];
	*s = *x;
	for (int i = 0; i < sp && i < nk; i++) {
		int64_t pad = given || np != 2 * sp ? 0 : p[i] + p[sp + i];
		s->dim[2 + i] = (x->dim[2 + i] - 1) * (ns == sp ? st[i] : 1) -
				pad + k[i];
	}
}

static bool
shape_maxunpool(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	int nk, ns, np, sp = x->rank - 2;
	const int64_t *k = ir_attr_ints(n, "kernel_shape", &nk);
	const int64_t *st = ir_attr_ints(n, "strides", &ns);
	const int64_t *p = ir_attr_ints(n, "pads", &np);
	ir_shape inf, o;
	bool ok = sp >= 1 && k && nk == sp && (!st || ns == sp) &&
		  (!p || np == 2 * sp);
	/* bounded, so that the inferred sizes cannot overflow */
	for (int i = 0; ok && i < nk; i++)
		ok = k[i] >= 1 && k[i] <= INT32_MAX &&
		     (!st || (st[i] >= 1 && st[i] <= INT32_MAX)) &&
		     (!p || (p[i] >= 0 && p[sp + i] >= 0 &&
			     p[i] <= INT32_MAX && p[sp + i] <= INT32_MAX));
	if (!ok) {
		nn_error_node(d, n, "kernel_shape (required), strides and pads "
			      "must be positive (pads non-negative) and below "
			      "2^31, one per spatial axis of the rank-%d input",
			      x->rank);
		return false;
	}
	if (!ir_dtype_is_float(n->in[0]->dtype) || n->in[1]->dtype != IR_I64 ||
	    !ir_shape_eq(&n->in[1]->shape, x)) {
		nn_error_node(d, n, "X must be float and I i64 of X's shape");
		return false;
	}
	for (int i = 0; i < sp; i++)
		if ((double)(x->dim[2 + i] - 1) * (st ? (double)st[i] : 1) +
		    (double)k[i] > 0x1p62) {
			nn_error_node(d, n, "the inferred output dim %d is too "
				      "large", 2 + i);
			return false;
		}
	ir_maxunpool_inferred(n, &inf);
	for (int i = 2; i < x->rank; i++)
		if (inf.dim[i] < 0) {
			nn_error_node(d, n, "the inferred output dim %d is "
				      "negative", i);
			return false;
		}
	if (ir_shape_numel(x) > 0 && ir_shape_numel(&inf) == 0) {
		nn_error_node(d, n, "indices into an empty output");
		return false;
	}
	/* indices known now are checked now, as the interpreter would */
	for (int64_t q = 0; n->in[1]->data && q < ir_shape_numel(x); q++) {
		int64_t v = ((const int64_t *)n->in[1]->data)[q];
		if (v < 0 || v >= ir_shape_numel(&inf)) {
			nn_error_node(d, n, "index %lld out of range [0, %lld)",
				      (long long)v,
				      (long long)ir_shape_numel(&inf));
			return false;
		}
	}
	o = inf;
	if (n->nin > 2 && n->in[2]) {
		const ir_value *v = n->in[2];
		if (!need_const(n, 2, "output_shape", "it is the output's "
				"shape, and nncc's shapes are static", d))
			return false;
		if (!ir_dtype_is_int(v->dtype) || v->shape.rank != 1 ||
		    v->shape.dim[0] != x->rank) {
			nn_error_node(d, n, "output_shape must be a 1-D "
				      "integer tensor of %d elements", x->rank);
			return false;
		}
		for (int i = 0; i < x->rank; i++) {
			o.dim[i] = ir_load_i64(v->data, v->dtype, i);
			if (o.dim[i] < inf.dim[i]) {
				nn_error_node(d, n, "output_shape[%d] is %lld, "
					      "smaller than the inferred %lld",
					      i, (long long)o.dim[i],
					      (long long)inf.dim[i]);
				return false;
			}
		}
	}
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = o;
	return true;
}

/* Zeros, then y[I[q]] = X[q] in order (the last duplicate wins), I
 * indexing the inferred output, which sits at the start of each axis of
 * the given output_shape. */
static bool
eval_maxunpool(const ir_node *n, const void *const *in, void *y,
	       nn_diag *d)
{
	const ir_shape *os = &n->out[0]->shape;
	ir_shape inf;
	int64_t total = ir_shape_numel(&n->in[0]->shape), m, st[IR_MAX_RANK];
	size_t es = ir_dtype_size(n->in[0]->dtype);
	ir_maxunpool_inferred(n, &inf);
	m = ir_shape_numel(&inf);
	memset(y, 0, (size_t)ir_shape_numel(os) * es);
	st[os->rank - 1] = 1;
	for (int k = os->rank - 1; k > 0; k--)
		st[k - 1] = st[k] * os->dim[k];
	for (int64_t q = 0; q < total; q++) {
		int64_t v = ((const int64_t *)in[1])[q], off = 0, r;
		if (v < 0 || v >= m) {
			nn_error_node(d, n, "index %lld out of range [0, %lld)",
				      (long long)v, (long long)m);
			return false;
		}
		r = v;
		for (int k = inf.rank - 1; k >= 0; k--) {
			off += r % inf.dim[k] * st[k];
			r /= inf.dim[k];
		}
		memcpy((char *)y + off * (int64_t)es,
		       (const char *)in[0] + q * (int64_t)es, es);
	}
	return true;
}

bool
ir_shape_index(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	switch (n->op) {
	case OP_CumSum: return shape_cumsum(n, d);
	case OP_OneHot: return shape_onehot(n, d);
	case OP_TopK: return shape_topk(n, d);
	case OP_ReverseSequence: return shape_reverse_sequence(n, d);
	case OP_Compress: return shape_compress(n, d);
	case OP_MaxUnpool: return shape_maxunpool(n, d);
	default: nn_unreachable();
	}
}

bool
ir_eval_index(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	switch (n->op) {
	case OP_CumSum: eval_cumsum(n, in[0], out[0]); return true;
	case OP_OneHot: eval_onehot(n, in, out[0]); return true;
	case OP_TopK: eval_topk(n, in[0], out); return true;
	case OP_ReverseSequence:
		return eval_reverse_sequence(n, in, out[0], d);
	case OP_MaxUnpool: return eval_maxunpool(n, in, out[0], d);
	case OP_Compress: {
		int64_t cnt = ir_shape_numel(&n->out[0]->shape);
		size_t es = ir_dtype_size(n->in[0]->dtype);
		int64_t *map = nn_xmalloc((size_t)(cnt ? cnt : 1) *
					  sizeof *map);
		ir_compress_map(n, map);
		for (int64_t i = 0; i < cnt; i++)
			memcpy((char *)out[0] + i * (int64_t)es,
			       (const char *)in[0] + map[i] * (int64_t)es, es);
		free(map);
		return true;
	}
	default: nn_unreachable();
	}
}
