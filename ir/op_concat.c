/* Concat and Split along one axis. Both see a tensor as [outer, axis,
 * inner] and move whole axis*inner blocks with memcpy, for any dtype. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* The axis attribute made non-negative; false (reported) if out of range. */
static bool
norm_axis(const ir_node *n, int rank, int *out, nn_diag *d)
{
	int64_t a = n->op == OP_Split ? ir_attr_i(n, "axis")
				      : ir_attr_req_i(n, "axis");
	if (!ir_norm_axis(n, &a, rank, d))
		return false;
	*out = (int)a;
	return true;
}

static int64_t
prod(const ir_shape *s, int from, int to)
{
	int64_t p = 1;
	for (int i = from; i < to; i++)
		p *= s->dim[i];
	return p;
}

bool
ir_shape_concat(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0];
	int axis;
	if (!ir_get_attr(n, "axis")) {
		nn_error_node(d, n, "missing attribute 'axis'");
		return false;
	}
	if (!norm_axis(n, x->shape.rank, &axis, d))
		return false;
	ir_shape s = x->shape;
	for (int i = 1; i < n->nin; i++) {
		const ir_value *v = n->in[i];
		bool ok = v && v->dtype == x->dtype &&
			  v->shape.rank == s.rank;
		for (int j = 0; ok && j < s.rank; j++)
			ok = j == axis || v->shape.dim[j] == s.dim[j];
		if (!ok) {
			char a[96], b[96];
			ir_shape_str(&x->shape, a, sizeof a);
			if (v)
				ir_shape_str(&v->shape, b, sizeof b);
			nn_error_node(d, n, "input %d (%s%s) does not match "
				      "input 0 (%s%s) outside axis %d", i,
				      v ? ir_dtype_name(v->dtype) : "none",
				      v ? b : "", ir_dtype_name(x->dtype), a,
				      axis);
			return false;
		}
		s.dim[axis] += v->shape.dim[axis];
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = s;
	return true;
}

bool
ir_eval_concat(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	(void)d;
	const ir_shape *ys = &n->out[0]->shape;
	int axis = (int)ir_attr_req_i(n, "axis");
	if (axis < 0)
		axis += ys->rank;
	size_t esz = ir_dtype_size(n->out[0]->dtype);
	int64_t outer = prod(ys, 0, axis), inner = prod(ys, axis + 1, ys->rank);
	char *dst = out[0];
	for (int64_t o = 0; o < outer; o++) {
		for (int i = 0; i < n->nin; i++) {
			size_t len = (size_t)(n->in[i]->shape.dim[axis] *
					      inner) * esz;
			if (len == 0)
				continue;
			memcpy(dst, (const char *)in[i] + (size_t)o * len, len);
			dst += len;
		}
	}
	return true;
}

/* Split sizes from the `split` input (data, when given), or from the
 * num_outputs attribute (the last chunk may be smaller, as of opset 18),
 * or an equal split among the outputs. */
static bool
split_sizes(const ir_node *n, const void *split, int64_t dim,
	    int64_t *sizes, nn_diag *d)
{
	const ir_value *sv = n->nin > 1 ? n->in[1] : NULL;
	int64_t total = 0;
	if (sv) {
		int64_t k = ir_shape_numel(&sv->shape);
		if (!split || (sv->dtype != IR_I64 && sv->dtype != IR_I32)) {
			nn_error_node(d, n, "input 1 (split) must be a "
				      "constant int64 list");
			return false;
		}
		if (k != n->nout) {
			nn_error_node(d, n, "split has %lld sizes for %d "
				      "outputs", (long long)k, n->nout);
			return false;
		}
		for (int i = 0; i < n->nout; i++) {
			sizes[i] = ir_load_i64(split, sv->dtype, i);
			if (sizes[i] < 0) {
				nn_error_node(d, n, "split[%d] is negative", i);
				return false;
			}
			total += sizes[i];
		}
		if (total != dim) {
			nn_error_node(d, n, "split sizes sum to %lld, but the "
				      "axis has %lld", (long long)total,
				      (long long)dim);
			return false;
		}
		return true;
	}
	int64_t parts = ir_attr_int(n, "num_outputs", n->nout);
	if (parts != n->nout) {
		nn_error_node(d, n, "num_outputs is %lld but the node has %d "
			      "outputs", (long long)parts, n->nout);
		return false;
	}
	if (!ir_get_attr(n, "num_outputs") && dim % parts != 0) {
		nn_error_node(d, n, "axis of size %lld does not split evenly "
			      "into %d outputs", (long long)dim, n->nout);
		return false;
	}
	int64_t chunk = (dim + parts - 1) / parts;
	for (int i = 0; i < n->nout; i++) {
		sizes[i] = dim - total < chunk ? dim - total : chunk;
		total += sizes[i];
	}
	return true;
}

bool
ir_shape_split(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0];
	int axis;
	if (!norm_axis(n, x->shape.rank, &axis, d))
		return false;
	const ir_value *sv = n->nin > 1 ? n->in[1] : NULL;
	int64_t *sizes = nn_xcalloc((size_t)n->nout, sizeof *sizes);
	bool ok = split_sizes(n, sv ? sv->data : NULL, x->shape.dim[axis],
			      sizes, d);
	for (int i = 0; ok && i < n->nout; i++) {
		if (!n->out[i])
			continue;
		n->out[i]->dtype = x->dtype;
		n->out[i]->shape = x->shape;
		n->out[i]->shape.dim[axis] = sizes[i];
	}
	free(sizes);
	return ok;
}

bool
ir_eval_split(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape;
	int axis = (int)ir_attr_i(n, "axis");
	if (axis < 0)
		axis += xs->rank;
	int64_t *sizes = nn_xcalloc((size_t)n->nout, sizeof *sizes);
	if (!split_sizes(n, n->nin > 1 ? in[1] : NULL, xs->dim[axis], sizes,
			 d)) {
		free(sizes);
		return false;
	}
	size_t esz = ir_dtype_size(n->in[0]->dtype);
	int64_t outer = prod(xs, 0, axis), inner = prod(xs, axis + 1, xs->rank);
	size_t row = (size_t)(xs->dim[axis] * inner) * esz;
	for (int64_t o = 0; o < outer; o++) {
		size_t at = (size_t)o * row;
		for (int i = 0; i < n->nout; i++) {
			size_t len = (size_t)(sizes[i] * inner) * esz;
			if (out[i] && len)
				memcpy((char *)out[i] + (size_t)o * len,
				       (const char *)in[0] + at, len);
			at += len;
		}
	}
	free(sizes);
	return true;
}
