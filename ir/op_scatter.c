/* Index-driven data movement with runtime indices: ScatterND (reduction
 * none/add/mul) and GatherElements. Negative indices count from the end;
 * indices out of range are data errors. */
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
 * Element i of the indices addresses axis i % k of the data for ScatterND
 * (k: the length of an index tuple), axis ax for GatherElements (k 0). */
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
		int a = k ? (int)(i % k) : ax;
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
shape_scatternd(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	const ir_shape *u = &n->in[2]->shape;
	const char *red = ir_attr_str(n, "reduction", "none");
	if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul")) {
		nn_error_node(d, n, "reduction '%s' is not supported", red);
		return false;
	}
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
	int64_t ax = ir_attr_int(n, "axis", 0);
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
	n->out[0]->shape = *ix;
	return check_indices(n, 0, (int)ax, d);
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
	return n->op == OP_ScatterND ? shape_scatternd(n, d)
				     : shape_gather_elements(n, d);
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
	char r = ir_attr_str(n, "reduction", "none")[0];
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

static bool
eval_gather_elements(const ir_node *n, const void *const *in, void *out,
		     nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *ix = &n->in[1]->shape;
	int ax = (int)ir_attr_int(n, "axis", 0);
	int64_t idx[IR_MAX_RANK] = {0}, total = ir_shape_numel(ix);
	ax = ax < 0 ? ax + x->rank : ax;
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
		combine(out, q, in[0], off, n->in[0]->dtype, 'n');
		for (int k = ix->rank - 1; k >= 0; k--) {
			if (++idx[k] < ix->dim[k])
				break;
			idx[k] = 0;
		}
	}
	return true;
}

bool
ir_eval_scatter(const ir_node *n, const void *const *in, void *const *out,
		nn_diag *d)
{
	if (n->op == OP_ScatterND)
		return eval_scatternd(n, in, out[0], d);
	return eval_gather_elements(n, in, out[0], d);
}
