/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 13):
 * x [N, C, d...], target [N, d...] with values in [0, C) or ignore_index,
 * optional weight [C]. Element loss -x[n, t, d] * w[t] (0 where t is
 * ignore_index); reduction none, sum, or mean: the sum over the sum of
 * the weights of the elements not ignored. SCE first takes the log
 * softmax over axis 1 (its optional second output). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

void
ir_loss_get(const ir_node *n, ir_loss *l)
{
	const ir_shape *x = &n->in[0]->shape;
	const ir_attr *a = ir_get_attr(n, "ignore_index");
	l->n = x->dim[0];
	l->c = x->dim[1];
	l->d = 1;
	for (int k = 2; k < x->rank; k++)
		l->d *= x->dim[k];
	l->has_ii = a != NULL;
	l->ii = a ? a->i : 0;
	l->reduction = ir_attr_s(n, "reduction")[0];
}

bool
ir_shape_loss(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	const ir_value *x = n->in[0], *t = n->in[1];
	const ir_value *w = n->nin > 2 ? n->in[2] : NULL;
	const char *red = ir_attr_s(n, "reduction");
	if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean")) {
		nn_error_node(d, n, "reduction '%s' is not none, sum or mean",
			      red);
		return false;
	}
	if (!ir_dtype_is_float(x->dtype) ||
	    (t->dtype != IR_I32 && t->dtype != IR_I64) ||
	    (w && w->dtype != x->dtype)) {
		nn_error_node(d, n, "needs float scores (and weights of their "
			      "type) and i32 or i64 targets");
		return false;
	}
	bool ok = x->shape.rank >= 2 && x->shape.dim[1] >= 1 &&
		  t->shape.rank == x->shape.rank - 1;
	for (int k = 0; ok && k < t->shape.rank; k++)
		ok = t->shape.dim[k] == x->shape.dim[k ? k + 1 : 0];
	if (!ok || (w && (w->shape.rank != 1 ||
			  w->shape.dim[0] != x->shape.dim[1]))) {
		nn_error_node(d, n, "scores must be [N, C, d...] with C >= 1, "
			      "target [N, d...] and weight [C]");
		return false;
	}
	/* constant targets are checked now, as the interpreter would */
	ir_loss l;
	ir_loss_get(n, &l);
	for (int64_t i = 0; t->data && i < ir_shape_numel(&t->shape); i++) {
		int64_t c = ir_load_i64(t->data, t->dtype, i);
		if ((!l.has_ii || c != l.ii) && (c < 0 || c >= l.c)) {
			nn_error_node(d, n, "target %lld is out of range "
				      "[0, %lld)", (long long)c,
				      (long long)l.c);
			return false;
		}
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = red[0] == 'n' ? t->shape : (ir_shape){0};
	if (n->nout > 1 && n->out[1]) {
		n->out[1]->dtype = x->dtype;
		n->out[1]->shape = x->shape;
	}
	return true;
}

/* Log softmax of x over axis 1 into lp (doubles, x's layout). */
static void
log_softmax(const ir_loss *l, const void *x, ir_dtype t, double *lp)
{
	for (int64_t a = 0; a < l->n; a++)
		for (int64_t e = 0; e < l->d; e++) {
			int64_t base = a * l->c * l->d + e;
			double mx = -INFINITY, sum = 0;
			for (int64_t c = 0; c < l->c; c++) {
				double v = ir_load_f64(x, t, base + c * l->d);
				if (v > mx || isnan(v))
					mx = v;
			}
			for (int64_t c = 0; c < l->c; c++)
				sum += exp(ir_load_f64(x, t, base + c * l->d) -
					   mx);
			for (int64_t c = 0; c < l->c; c++) {
				int64_t i = base + c * l->d;
				lp[i] = ir_load_f64(x, t, i) - mx - log(sum);
			}
		}
}

bool
ir_eval_loss(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	ir_loss l;
	ir_dtype t = n->in[0]->dtype, tt = n->in[1]->dtype;
	const void *w = n->nin > 2 ? in[2] : NULL;
	int64_t cnt = ir_shape_numel(&n->in[0]->shape);
	double *lp = NULL, sum = 0, wsum = 0;
	bool ok = true;
	ir_loss_get(n, &l);
	if (n->op == OP_SoftmaxCrossEntropyLoss) {
		lp = nn_xmalloc((size_t)cnt * sizeof *lp + 1);
		log_softmax(&l, in[0], t, lp);
		if (n->nout > 1 && out[1])
			for (int64_t i = 0; i < cnt; i++)
				ir_store_f64(out[1], t, i, lp[i]);
	}
	for (int64_t a = 0; ok && a < l.n; a++)
		for (int64_t e = 0; e < l.d; e++) {
			int64_t q = a * l.d + e, c = ir_load_i64(in[1], tt, q);
			double v = 0, wt = 0;
			if (!l.has_ii || c != l.ii) {
				if (c < 0 || c >= l.c) {
					nn_error_node(d, n, "target %lld is "
						      "out of range [0, %lld)",
						      (long long)c,
						      (long long)l.c);
					ok = false;
					break;
				}
				int64_t i = (a * l.c + c) * l.d + e;
				wt = w ? ir_load_f64(w, t, c) : 1;
				v = lp ? lp[i] : ir_load_f64(in[0], t, i);
				v = -v * wt;
			}
			if (l.reduction == 'n')
				ir_store_f64(out[0], t, q, v);
			sum += v;
			wsum += wt;
		}
	if (ok && l.reduction != 'n')
		ir_store_f64(out[0], t, 0,
			     l.reduction == 's' ? sum : sum / wsum);
	free(lp);
	return ok;
}
