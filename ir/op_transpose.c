/* Transpose: permutes the axes (default: reversed). The kernel walks the
 * output in order and reads the input through permuted strides, moving
 * elements by size so that every dtype works. */
#include <string.h>

#include "elem.h"
#include "ir.h"

/* The permutation, checked; perm[i] is the input axis of output axis i. */
static bool
get_perm(const ir_node *n, int rank, int *perm, nn_diag *d)
{
	int k;
	const int64_t *p = ir_attr_ints(n, "perm", &k);
	if (!p) {
		for (int i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return true;
	}
	bool seen[IR_MAX_RANK] = {false};
	if (k != rank) {
		nn_error_node(d, n, "perm has %d entries for a rank-%d input",
			      k, rank);
		return false;
	}
	for (int i = 0; i < k; i++) {
		if (p[i] < 0 || p[i] >= rank || seen[p[i]]) {
			nn_error_node(d, n, "perm is not a permutation of "
				      "0..%d", rank - 1);
			return false;
		}
		seen[p[i]] = true;
		perm[i] = (int)p[i];
	}
	return true;
}

bool
ir_shape_transpose(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0];
	int perm[IR_MAX_RANK];
	if (!get_perm(n, x->shape.rank, perm, d))
		return false;
	ir_value *y = n->out[0];
	y->dtype = x->dtype;
	y->shape.rank = x->shape.rank;
	for (int i = 0; i < x->shape.rank; i++)
		y->shape.dim[i] = x->shape.dim[perm[i]];
	return true;
}

bool
ir_eval_transpose(const ir_node *n, const void *const *in, void *const *out,
		  nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape, *ys = &n->out[0]->shape;
	int rank = xs->rank, perm[IR_MAX_RANK];
	if (!get_perm(n, rank, perm, d))
		return false;
	size_t esz = ir_dtype_size(n->in[0]->dtype);
	int64_t xstride[IR_MAX_RANK], st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	int64_t s = 1;
	for (int i = rank - 1; i >= 0; i--) {
		xstride[i] = s;
		s *= xs->dim[i];
	}
	for (int i = 0; i < rank; i++)
		st[i] = xstride[perm[i]];
	int64_t numel = ir_shape_numel(ys), off = 0;
	const char *src = in[0];
	char *dst = out[0];
	for (int64_t e = 0; e < numel; e++) {
		elem_copy(dst + (size_t)e * esz, src + (size_t)off * esz, esz);
		/* Odometer over output indices, keeping the input offset. */
		for (int i = rank - 1; i >= 0; i--) {
			off += st[i];
			if (++idx[i] < ys->dim[i])
				break;
			off -= st[i] * ys->dim[i];
			idx[i] = 0;
		}
	}
	return true;
}
