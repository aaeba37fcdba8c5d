/* BatchNormalization (inference and training_mode=1 forms) and
 * LayerNormalization: shape inference and reference kernels, computed in
 * double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static bool
float_input(const ir_node *n, int i, nn_diag *d)
{
	if (ir_dtype_is_float(n->in[i]->dtype))
		return true;
	nn_error_node(d, n, "input %d ('%s'): dtype %s not supported", i,
		      ir_value_label(n->in[i]), ir_dtype_name(n->in[i]->dtype));
	return false;
}

static bool
shape_bn(ir_node *n, nn_diag *d)
{
	static const char *const names[] = {"X", "scale", "B", "mean", "var"};
	const ir_shape *xs = &n->in[0]->shape;
	int64_t tm = ir_attr_int(n, "training_mode", 0);
	if (tm != 0 && tm != 1) {
		nn_error_node(d, n, "training_mode=%lld is not supported (0 or "
			      "1)", (long long)tm);
		return false;
	}
	if (xs->rank < 2) {
		nn_error_node(d, n, "input has rank %d, expected N x C x ...",
			      xs->rank);
		return false;
	}
	for (int i = 0; i < 5; i++) {
		const ir_shape *s = &n->in[i]->shape;
		if (!float_input(n, i, d))
			return false;
		if (i > 0 && (s->rank != 1 || s->dim[0] != xs->dim[1])) {
			nn_error_node(d, n, "input '%s' must have shape [%lld] "
				      "(the channel count)", names[i],
				      (long long)xs->dim[1]);
			return false;
		}
	}
	for (int i = 1; i < n->nout; i++)
		if (n->out[i]) {
			n->out[i]->dtype = n->in[2 + i]->dtype;
			n->out[i]->shape = n->in[2 + i]->shape;
		}
	return true;
}

/* LayerNormalization's axis in [0, rank). */
static bool
ln_axis(const ir_node *n, int *axis, nn_diag *d)
{
	int r = n->in[0]->shape.rank;
	int64_t a = ir_attr_int(n, "axis", -1);
	if (a < -r || a >= r) {
		nn_error_node(d, n, "axis %lld out of range for rank %d",
			      (long long)a, r);
		return false;
	}
	*axis = (int)(a < 0 ? a + r : a);
	return true;
}

/* in[i] must broadcast to the normalized dims xs[axis..]. */
static bool
ln_param(const ir_node *n, int i, int axis, nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape, *s = &n->in[i]->shape;
	int nr = xs->rank - axis;
	bool ok = s->rank <= nr;
	for (int k = 0; ok && k < s->rank; k++) {
		int64_t want = xs->dim[xs->rank - s->rank + k];
		ok = s->dim[k] == want || s->dim[k] == 1;
	}
	if (!ok) {
		char a[64], b[64];
		ir_shape_str(s, a, sizeof a);
		ir_shape_str(xs, b, sizeof b);
		nn_error_node(d, n, "%s of shape %s does not broadcast to the "
			      "normalized dims %d.. of %s",
			      i == 1 ? "scale" : "bias", a, axis, b);
	}
	return ok && float_input(n, i, d);
}

static bool
shape_ln(ir_node *n, nn_diag *d)
{
	int axis;
	if (!float_input(n, 0, d) || !ln_axis(n, &axis, d) ||
	    !ln_param(n, 1, axis, d) ||
	    (n->nin > 2 && n->in[2] && !ln_param(n, 2, axis, d)))
		return false;
	ir_shape rs = n->in[0]->shape;
	for (int k = axis; k < rs.rank; k++)
		rs.dim[k] = 1;
	ir_dtype st = ir_attr_int(n, "stash_type", 1) == 1 ? IR_F32 :
							     n->in[0]->dtype;
	for (int i = 1; i < n->nout; i++)
		if (n->out[i]) {
			n->out[i]->dtype = st;
			n->out[i]->shape = rs;
		}
	return true;
}

bool
ir_shape_norm(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	bool ok = n->op == OP_BatchNormalization ? shape_bn(n, d)
						 : shape_ln(n, d);
	if (ok) {
		n->out[0]->dtype = n->in[0]->dtype;
		n->out[0]->shape = n->in[0]->shape;
	}
	return ok;
}

/* Training mode: the batch mean and population variance of each channel
 * (over N and the spatial dims) into mu and var; the running statistics
 * outputs blend them into the inputs' with momentum. */
static void
batch_stats(const ir_node *n, const void *const *in, void *const *out,
	    int64_t sz, double *mu, double *var)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	int64_t c = xs->dim[1], cnt = xs->dim[0] * sz;
	double mom = ir_attr_float(n, "momentum", 0.9);
	for (int64_t ch = 0; ch < c; ch++) {
		double sum = 0, sq = 0;
		for (int64_t b = 0; b < xs->dim[0]; b++)
			for (int64_t i = 0; i < sz; i++)
				sum += ir_load_f64(in[0], t, (b * c + ch) * sz + i);
		mu[ch] = cnt ? sum / (double)cnt : 0;
		for (int64_t b = 0; b < xs->dim[0]; b++)
			for (int64_t i = 0; i < sz; i++) {
				double v = ir_load_f64(in[0], t,
						       (b * c + ch) * sz + i) -
					   mu[ch];
				sq += v * v;
			}
		var[ch] = cnt ? sq / (double)cnt : 0;
		for (int i = 1; i < n->nout; i++) {
			if (!n->out[i])
				continue;
			double run = ir_load_f64(in[2 + i], n->in[2 + i]->dtype,
						 ch);
			double cur = i == 1 ? mu[ch] : var[ch];
			ir_store_f64(out[i], n->out[i]->dtype, ch,
				     run * mom + cur * (1 - mom));
		}
	}
}

static void
eval_bn(const ir_node *n, const void *const *in, void *const *out)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	double eps = ir_attr_float(n, "epsilon", 1e-5);
	int64_t c = xs->dim[1], sz = 1;
	double *mu = nn_xmalloc((size_t)(c > 0 ? c : 1) * 2 * sizeof *mu);
	double *var = mu + (c > 0 ? c : 1);
	bool train = ir_attr_int(n, "training_mode", 0) == 1;
	for (int k = 2; k < xs->rank; k++)
		sz *= xs->dim[k];
	for (int64_t ch = 0; !train && ch < c; ch++) {
		mu[ch] = ir_load_f64(in[3], n->in[3]->dtype, ch);
		var[ch] = ir_load_f64(in[4], n->in[4]->dtype, ch);
	}
	if (train)
		batch_stats(n, in, out, sz, mu, var);
	for (int64_t pl = 0; pl < xs->dim[0] * c; pl++) {
		int64_t ch = pl % c;
		double sc = ir_load_f64(in[1], n->in[1]->dtype, ch);
		double b = ir_load_f64(in[2], n->in[2]->dtype, ch);
		double a = sc / sqrt(var[ch] + eps);
		for (int64_t i = pl * sz; i < (pl + 1) * sz; i++)
			ir_store_f64(out[0], t, i,
				     (ir_load_f64(in[0], t, i) - mu[ch]) * a +
					     b);
	}
	free(mu);
	/* Inference mode passes the running statistics through. */
	for (int i = 1; !train && i < n->nout; i++)
		if (n->out[i])
			memcpy(out[i], in[2 + i],
			       (size_t)c * ir_dtype_size(n->out[i]->dtype));
}

/* Index into a parameter of shape ps (broadcast over the trailing dims of
 * xs from axis) for each element of the normalized block. */
static int64_t *
param_index(const ir_shape *xs, int axis, const ir_shape *ps, int64_t cols)
{
	int64_t *ix = nn_xmalloc((size_t)cols * sizeof *ix);
	for (int64_t j = 0; j < cols; j++) {
		int64_t rem = j, off = 0, stride = 1;
		for (int k = xs->rank - 1; k >= axis; k--) {
			int64_t c = rem % xs->dim[k];
			int pk = k - (xs->rank - ps->rank);
			rem /= xs->dim[k];
			if (pk < 0)
				continue;
			off += (ps->dim[pk] == 1 ? 0 : c) * stride;
			stride *= ps->dim[pk];
		}
		ix[j] = off;
	}
	return ix;
}

static void
eval_ln(const ir_node *n, const void *const *in, void *const *out,
	int axis)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	bool has_b = n->nin > 2 && n->in[2];
	double eps = ir_attr_float(n, "epsilon", 1e-5);
	int64_t cols = 1, rows = ir_shape_numel(xs);
	for (int k = axis; k < xs->rank; k++)
		cols *= xs->dim[k];
	rows = cols ? rows / cols : 0;
	int64_t *si = param_index(xs, axis, &n->in[1]->shape, cols);
	int64_t *bi = has_b ? param_index(xs, axis, &n->in[2]->shape, cols)
			    : NULL;
	for (int64_t r = 0; r < rows; r++) {
		double sum = 0, sq = 0;
		for (int64_t j = 0; j < cols; j++)
			sum += ir_load_f64(in[0], t, r * cols + j);
		double mu = sum / (double)cols;
		for (int64_t j = 0; j < cols; j++) {
			double v = ir_load_f64(in[0], t, r * cols + j) - mu;
			sq += v * v;
		}
		double inv = 1.0 / sqrt(sq / (double)cols + eps);
		for (int64_t j = 0; j < cols; j++) {
			double v = (ir_load_f64(in[0], t, r * cols + j) - mu) *
				   inv * ir_load_f64(in[1], n->in[1]->dtype,
						     si[j]);
			if (has_b)
				v += ir_load_f64(in[2], n->in[2]->dtype, bi[j]);
			ir_store_f64(out[0], t, r * cols + j, v);
		}
		if (n->nout > 1 && n->out[1])
			ir_store_f64(out[1], n->out[1]->dtype, r, mu);
		if (n->nout > 2 && n->out[2])
			ir_store_f64(out[2], n->out[2]->dtype, r, inv);
	}
	free(si);
	free(bi);
}

bool
ir_eval_norm(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	int axis;
	if (n->op == OP_BatchNormalization) {
		eval_bn(n, in, out);
		return true;
	}
	if (!ln_axis(n, &axis, d))
		return false;
	eval_ln(n, in, out, axis);
	return true;
}
