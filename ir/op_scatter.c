/* Index-driven data movement with runtime indices: ScatterND and
 * ScatterElements (reduction none/add/mul), GatherElements and GatherND
 * (batch_dims). Negative indices count from the end; indices out of range
 * are data errors. */
#include <string.h>

#include "elem.h"
#include "ir.h"

static bool
fix_index(const ir_node *n, int64_t *i, int64_t dim, nn_diag *d)
{
	if (*i < -dim || *i >= dim) {
		nn_error_node(d, n, "index %lld out of range [%lld, %lld)",
			      (long long)*i, (long long)-dim, (long long)dim);
		return false;
	}
	if (*i < 0)
		*i += dim;
	return true;
}

/* Indices known at compile time (or into an axis of size 0, where none
 * can be valid) are checked now, as the interpreter would at run time.
 * Element i of the indices addresses axis ax + i % k of the data for
 * ScatterND and GatherND (k: the length of an index tuple; ax: GatherND's
 * batch_dims), axis ax for GatherElements and ScatterElements (k 0). */
static bool
check_indices(const ir_node *n, int k, int ax, nn_diag *d)
{
	const ir_value *ix = n->in[1];
	const ir_shape *x = &n->in[0]->shape;
	int64_t cnt = ir_shape_numel(&ix->shape);

	/* without data, one index tuple sees every axis */
	if (!ix->data && cnt > (k ? k : 1))
		cnt = k ? k : 1;
	for (int64_t i = 0; i < cnt; i++) {
		int a = k ? ax + (int)(i % k) : ax;
		int64_t v = ix->data ? ir_load_i64(ix->data, ix->dtype, i) : 0;
		if (x->dim[a] == 0) {
			nn_error_node(d, n, "indices into axis %d of size 0", a);
			return false;
		}
		if (!fix_index(n, &v, x->dim[a], d))
			return false;
	}
	return true;
}


static bool
reduction_ok(ir_node *n, nn_diag *d)
{
	const char *red = ir_attr_s(n, "reduction");
	if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul")) {
		nn_error_node(d, n, "reduction '%s' is not supported", red);
		return false;
	}
	return true;
}

static bool
shape_scatternd(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	const ir_shape *u = &n->in[2]->shape;
	if (!reduction_ok(n, d))
		return false;
	if (n->in[2]->dtype != n->in[0]->dtype) {
		nn_error_node(d, n, "updates are %s, data is %s",
			      ir_dtype_name(n->in[2]->dtype),
			      ir_dtype_name(n->in[0]->dtype));
		return false;
	}
	int64_t k = ix->rank ? ix->dim[ix->rank - 1] : -1;
	bool ok = ix->rank >= 1 && k >= 1 && k <= x->rank &&
		  u->rank == ix->rank - 1 + x->rank - (int)k;
	for (int i = 0; ok && i < ix->rank - 1; i++)
		ok = u->dim[i] == ix->dim[i];
	for (int i = (int)k; ok && i < x->rank; i++)
		ok = u->dim[ix->rank - 1 + i - k] == x->dim[i];
	if (!ok) {
		nn_error_node(d, n, "indices and updates shapes do not match "
			      "the data");
		return false;
	}
	n->out[0]->shape = *x;
	return check_indices(n, (int)k, 0, d);
}

static bool
shape_gather_elements(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	int64_t ax = ir_attr_i(n, "axis");
	if (ax < -x->rank || ax >= x->rank || ix->rank != x->rank) {
		nn_error_node(d, n, "bad axis or indices rank");
		return false;
	}
	if (ax < 0)
		ax += x->rank;
	/* off the axis, the indices' positions are the data's */
	for (int k = 0; k < x->rank; k++)
		if (k != ax && ix->dim[k] > x->dim[k]) {
			nn_error_node(d, n, "indices dim %d is %lld, larger than "
				      "the data's %lld", k, (long long)ix->dim[k],
				      (long long)x->dim[k]);
			return false;
		}
	if (n->op == OP_ScatterElements) {
		if (!ir_shape_eq(&n->in[2]->shape, ix) ||
		    n->in[2]->dtype != n->in[0]->dtype) {
			nn_error_node(d, n, "updates must have the indices' "
				      "shape and the data's type");
			return false;
		}
		n->out[0]->shape = *x;
	} else {
		n->out[0]->shape = *ix;
	}
	return check_indices(n, 0, (int)ax, d);
}

/* GatherND: the output is indices.shape[:-1] + data.shape[b + k:] for
 * batch_dims b and index tuples of length k. */
static bool
shape_gather_nd(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	int64_t b = ir_attr_i(n, "batch_dims");
	int64_t k = ix->rank ? ix->dim[ix->rank - 1] : -1;
	bool ok = ix->rank >= 1 && b >= 0 && b < ix->rank && b < x->rank &&
		  k >= 1 && b + k <= x->rank;
	for (int i = 0; ok && i < b; i++)
		ok = ix->dim[i] == x->dim[i];
	if (!ok) {
		nn_error_node(d, n, "indices of shape rank %d (tuples of %lld) "
			      "and batch_dims %lld do not fit data of rank %d",
			      ix->rank, (long long)k, (long long)b, x->rank);
		return false;
	}
	ir_shape o = {.rank = ix->rank - 1 + x->rank - (int)(b + k)};
	if (o.rank > IR_MAX_RANK) {
		nn_error_node(d, n, "output rank %d is over %d", o.rank,
			      IR_MAX_RANK);
		return false;
	}
	for (int i = 0; i < ix->rank - 1; i++)
		o.dim[i] = ix->dim[i];
	for (int i = (int)(b + k); i < x->rank; i++)
		o.dim[ix->rank - 1 + i - (b + k)] = x->dim[i];
	n->out[0]->shape = o;
	return check_indices(n, (int)k, (int)b, d);
}

bool
ir_shape_scatter(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	ir_dtype it = n->in[1]->dtype;
	if (it != IR_I64 && it != IR_I32) {
		nn_error_node(d, n, "indices must be i32 or i64, not %s",
			      ir_dtype_name(it));
		return false;
	}
	n->out[0]->dtype = n->in[0]->dtype;
	switch (n->op) {
	case OP_ScatterND: return shape_scatternd(n, d);
	case OP_GatherND: return shape_gather_nd(n, d);
	case OP_ScatterElements:
		if (!reduction_ok(n, d))
			return false;
		return shape_gather_elements(n, d);
	default: return shape_gather_elements(n, d);
	}
}

/* dst[i] op= src[j] for the reduction r ('n'one, 'a'dd, 'm'ul). */
static void
combine(void *dst, int64_t i, const void *src, int64_t j, ir_dtype t, char r)
{
	if (r == 'n') {
		size_t es = ir_dtype_size(t);
		memcpy((char *)dst + i * (int64_t)es,
		       (const char *)src + j * (int64_t)es, es);
	} else if (ir_dtype_is_float(t)) {
		double a = ir_load_f64(dst, t, i), b = ir_load_f64(src, t, j);
		ir_store_f64(dst, t, i, r == 'a' ? a + b : a * b);
	} else {
		uint64_t a = elem_load_bits(dst, t, i);
		uint64_t b = elem_load_bits(src, t, j);
		elem_store_bits(dst, t, i, r == 'a' ? a + b : a * b);
	}
}

static bool
eval_scatternd(const ir_node *n, const void *const *in, void *out,
	       nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype t = n->in[0]->dtype, it = n->in[1]->dtype;
	int k = (int)ix->dim[ix->rank - 1];
	int64_t inner = 1, nidx = ir_shape_numel(ix) / k;
	char r = ir_attr_s(n, "reduction")[0];
	for (int i = k; i < x->rank; i++)
		inner *= x->dim[i];
	memcpy(out, in[0], (size_t)ir_shape_numel(x) * ir_dtype_size(t));
	for (int64_t q = 0; q < nidx; q++) {
		int64_t off = 0;
		for (int j = 0; j < k; j++) {
			int64_t v = ir_load_i64(in[1], it, q * k + j);
			if (!fix_index(n, &v, x->dim[j], d))
				return false;
			off = off * x->dim[j] + v;
		}
		for (int64_t e = 0; e < inner; e++)
			combine(out, off * inner + e, in[2], q * inner + e, t, r);
	}
	return true;
}

/* GatherElements, or ScatterElements (scatter): element q of the indices
 * addresses data element off (its position, the axis coordinate read). */
static bool
eval_elements(const ir_node *n, const void *const *in, void *out,
	      nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype t = n->in[0]->dtype;
	int ax = (int)ir_attr_i(n, "axis");
	int64_t idx[IR_MAX_RANK] = {0}, total = ir_shape_numel(ix);
	bool scatter = n->op == OP_ScatterElements;
	char r = scatter ? ir_attr_s(n, "reduction")[0] : 'n';
	ax = ax < 0 ? ax + x->rank : ax;
	if (scatter)
		memcpy(out, in[0],
		       (size_t)ir_shape_numel(x) * ir_dtype_size(t));
	for (int64_t q = 0; q < total; q++) {
		int64_t off = 0;
		for (int k = 0; k < x->rank; k++) {
			int64_t v = idx[k];
			if (k == ax) {
				v = ir_load_i64(in[1], n->in[1]->dtype, q);
				if (!fix_index(n, &v, x->dim[k], d))
					return false;
			}
			off = off * x->dim[k] + v;
		}
		if (scatter)
			combine(out, off, in[2], q, t, r);
		else
			combine(out, q, in[0], off, t, 'n');
		for (int k = ix->rank - 1; k >= 0; k--) {
			if (++idx[k] < ix->dim[k])
				break;
			idx[k] = 0;
		}
	}
	return true;
}

static bool
eval_gather_nd(const ir_node *n, const void *const *in, void *out,
	       nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	ir_dtype t = n->in[0]->dtype, it = n->in[1]->dtype;
	int b = (int)ir_attr_i(n, "batch_dims");
	int k = (int)ix->dim[ix->rank - 1];
	int64_t inner = 1, per = 1, bsz = 1, nidx = ir_shape_numel(ix) / k;
	for (int i = b + k; i < x->rank; i++)
		inner *= x->dim[i];
	for (int i = b; i < ix->rank - 1; i++)
		per *= ix->dim[i];
	for (int i = b; i < x->rank; i++)
		bsz *= x->dim[i];
	for (int64_t q = 0; q < nidx; q++) {
		int64_t off = 0;
		for (int j = 0; j < k; j++) {
			int64_t v = ir_load_i64(in[1], it, q * k + j);
			if (!fix_index(n, &v, x->dim[b + j], d))
				return false;
			off = off * x->dim[b + j] + v;
		}
		off = (q / per) * bsz + off * inner;
		for (int64_t e = 0; e < inner; e++)
			combine(out, q * inner + e, in[0], off + e, t, 'n');
	}
	return true;
}

bool
ir_eval_scatter(const ir_node *n, const void *const *in, void *const *out,
		nn_diag *d)
{
	switch (n->op) {
	case OP_ScatterND: return eval_scatternd(n, in, out[0], d);
	case OP_GatherND: return eval_gather_nd(n, in, out[0], d);
	default: return eval_elements(n, in, out[0], d);
	}
}
