/* Det over a batch of square matrices: shape inference and the reference
 * kernel, LU decomposition with partial pivoting in double. The steps and
 * their order are those of codegen/lower_linalg.c, so that the object
 * gives the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

bool
ir_shape_linalg(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	ir_value *x = n->in[0];
	int r = x->shape.rank;
	if (!ir_dtype_is_float(x->dtype)) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(x->dtype));
		return false;
	}
	if (r < 2 || x->shape.dim[r - 1] != x->shape.dim[r - 2]) {
		char buf[128];
		ir_shape_str(&x->shape, buf, sizeof buf);
		nn_error_node(d, n, "input %s is not a batch of square "
			      "matrices [..., M, M]", buf);
		return false;
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = (ir_shape){.rank = r - 2};
	memcpy(n->out[0]->shape.dim, x->shape.dim,
	       sizeof(int64_t) * (size_t)(r - 2));
	return true;
}

/* The determinant of the m x m matrix a (row-major, overwritten). The
 * pivot is the first element of largest magnitude in its column, a NaN
 * before any number (as ArgMax), so NaN reaches the result; a zero pivot
 * makes the matrix singular: 0 (as numpy's det). */
static double
det_lu(double *a, int64_t m)
{
	double det = 1;
	for (int64_t k = 0; k < m; k++) {
		int64_t p = k;
		double best = fabs(a[k * m + k]);
		for (int64_t i = k + 1; i < m; i++) {
			double v = fabs(a[i * m + k]);
			if (!isnan(best) && (v > best || isnan(v))) {
				best = v;
				p = i;
			}
		}
		double pv = a[p * m + k];
		if (pv == 0)
			return 0;
		for (int64_t j = k; j < m; j++) {
			double t = a[k * m + j];
			a[k * m + j] = a[p * m + j];
			a[p * m + j] = t;
		}
		if (p != k)
			det = -det;
		det *= pv;
		for (int64_t i = k + 1; i < m; i++) {
			double f = a[i * m + k] / pv;
			for (int64_t j = k + 1; j < m; j++)
				a[i * m + j] -= f * a[k * m + j];
		}
	}
	return det;
}

bool
ir_eval_linalg(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	(void)d;
	const ir_shape *s = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	int64_t m = s->dim[s->rank - 1];
	int64_t nb = ir_shape_numel(&n->out[0]->shape), mm = m * m;
	double *a = nn_xmalloc((size_t)(mm > 0 ? mm : 1) * sizeof *a);
	for (int64_t b = 0; b < nb; b++) {
		for (int64_t i = 0; i < mm; i++)
			a[i] = ir_load_f64(in[0], t, b * mm + i);
		ir_store_f64(out[0], t, b, det_lu(a, m));
	}
	free(a);
	return true;
}
