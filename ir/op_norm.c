/* BatchNormalization (inference and training_mode=1 forms),
 * LayerNormalization, InstanceNormalization, MeanVarianceNormalization
 * and LRN: shape inference and reference kernels, computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static bool
shape_bn(ir_node *n, nn_diag *d)
{
	static const char *const names[] = {"X", "scale", "B", "mean", "var"};
	const ir_shape *xs = &n->in[0]->shape;
	int64_t tm = ir_attr_i(n, "training_mode");
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
		if (!ir_check_float_input(n, i, d))
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
	int64_t a = ir_attr_i(n, "axis");
	if (!ir_norm_axis(n, &a, n->in[0]->shape.rank, d))
		return false;
	*axis = (int)a;
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
	return ok && ir_check_float_input(n, i, d);
}

static bool
shape_ln(ir_node *n, nn_diag *d)
{
	int axis;
	if (!ir_check_float_input(n, 0, d) || !ln_axis(n, &axis, d) ||
	    !ln_param(n, 1, axis, d) ||
	    (n->nin > 2 && n->in[2] && !ln_param(n, 2, axis, d)))
		return false;
	ir_shape rs = n->in[0]->shape;
	for (int k = axis; k < rs.rank; k++)
		rs.dim[k] = 1;
	ir_dtype st = ir_attr_i(n, "stash_type") == 1 ? IR_F32 :
							     n->in[0]->dtype;
	for (int i = 1; i < n->nout; i++)
		if (n->out[i]) {
			n->out[i]->dtype = st;
			n->out[i]->shape = rs;
		}
	return true;
}

bool
ir_norm_axes(const ir_node *n, bool *mask, nn_diag *d)
{
	static const int64_t dflt[] = {0, 2, 3};
	int r = n->in[0]->shape.rank, na = 3;
	const int64_t *ax = dflt;
	for (int k = 0; k < r; k++)
		mask[k] = n->op == OP_InstanceNormalization && k >= 2;
	if (n->op == OP_InstanceNormalization)
		return true;
	if (ir_get_attr(n, "axes"))
		ax = ir_attr_ints(n, "axes", &na);
	for (int i = 0; i < na; i++) {
		int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
		if (a < 0 || a >= r || mask[a]) {
			nn_error_node(d, n, "axes: %lld is %s for rank %d",
				      (long long)ax[i], a >= 0 && a < r ?
				      "given twice" : "out of range", r);
			return false;
		}
		mask[a] = true;
	}
	return true;
}

/* InstanceNormalization: X is N x C x D1..., scale and B are [C]. */
static bool
shape_in(ir_node *n, nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape;
	if (xs->rank < 2) {
		nn_error_node(d, n, "input has rank %d, expected N x C x ...",
			      xs->rank);
		return false;
	}
	for (int i = 0; i < 3; i++) {
		const ir_shape *s = &n->in[i]->shape;
		if (!ir_check_float_input(n, i, d))
			return false;
		if (i > 0 && (s->rank != 1 || s->dim[0] != xs->dim[1])) {
			nn_error_node(d, n, "input '%s' must have shape [%lld] "
				      "(the channel count)", i == 1 ? "scale"
				      : "B", (long long)xs->dim[1]);
			return false;
		}
	}
	return true;
}

static bool
shape_lrn(ir_node *n, nn_diag *d)
{
	if (!ir_check_float_input(n, 0, d))
		return false;
	if (n->in[0]->shape.rank < 2) {
		nn_error_node(d, n, "input has rank %d, expected N x C x ...",
			      n->in[0]->shape.rank);
		return false;
	}
	if (!ir_get_attr(n, "size") || ir_get_attr(n, "size")->i < 1) {
		nn_error_node(d, n, "attribute 'size' (>= 1) is required");
		return false;
	}
	return true;
}

bool
ir_shape_norm(ir_graph *g, ir_node *n, nn_diag *d)
{
	bool mask[IR_MAX_RANK], ok;
	(void)g;
	switch (n->op) {
	case OP_BatchNormalization: ok = shape_bn(n, d); break;
	case OP_LayerNormalization: ok = shape_ln(n, d); break;
	case OP_InstanceNormalization: ok = shape_in(n, d); break;
	case OP_LRN: ok = shape_lrn(n, d); break;
	default:
		ok = ir_check_float_input(n, 0, d) && ir_norm_axes(n, mask, d);
	}
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
	double mom = ir_attr_f(n, "momentum");
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
	double eps = ir_attr_f(n, "epsilon");
	int64_t c = xs->dim[1], sz = 1;
	double *mu = nn_xmalloc((size_t)(c > 0 ? c : 1) * 2 * sizeof *mu);
	double *var = mu + (c > 0 ? c : 1);
	bool train = ir_attr_i(n, "training_mode") == 1;
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
	double eps = ir_attr_f(n, "epsilon");
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

/* InstanceNormalization and MeanVarianceNormalization: the mean and
 * population variance of each group (the elements that agree on the
 * axes mask does not mark), then (x - mean) / sqrt(var + epsilon) * scale
 * + B per channel, or (x - mean) / (sqrt(var) + 1e-9) (MVN's function
 * body). */
static void
eval_group(const ir_node *n, const void *const *in, void *const *out,
	   const bool *mask)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	int64_t total = ir_shape_numel(xs), ng = 1, cnt = 1;
	for (int k = 0; k < xs->rank; k++)
		*(mask[k] ? &cnt : &ng) *= xs->dim[k];
	double *mu = nn_xmalloc((size_t)(ng > 0 ? ng : 1) * 2 * sizeof *mu);
	double *var = mu + (ng > 0 ? ng : 1);
	int64_t *grp = nn_xmalloc((size_t)(total > 0 ? total : 1) *
				  sizeof *grp);
	for (int64_t i = 0; i < total; i++) {
		int64_t rem = i, g = 0, gs = 1;
		for (int k = xs->rank - 1; k >= 0; k--) {
			int64_t c = rem % xs->dim[k];
			rem /= xs->dim[k];
			if (!mask[k]) {
				g += c * gs;
				gs *= xs->dim[k];
			}
		}
		grp[i] = g;
	}
	memset(mu, 0, (size_t)(ng > 0 ? ng : 1) * 2 * sizeof *mu);
	for (int64_t i = 0; i < total; i++)
		mu[grp[i]] += ir_load_f64(in[0], t, i);
	for (int64_t g = 0; g < ng; g++)
		mu[g] /= (double)cnt;
	for (int64_t i = 0; i < total; i++) {
		double v = ir_load_f64(in[0], t, i) - mu[grp[i]];
		var[grp[i]] += v * v;
	}
	bool inst = n->op == OP_InstanceNormalization;
	double eps = inst ? ir_attr_f(n, "epsilon") : 0;
	int64_t c = xs->rank > 1 ? xs->dim[1] : 1;
	for (int64_t i = 0; i < total; i++) {
		int64_t g = grp[i];
		double v = ir_load_f64(in[0], t, i) - mu[g];
		if (inst)
			v = v / sqrt(var[g] / (double)cnt + eps) *
				    ir_load_f64(in[1], n->in[1]->dtype, g % c) +
			    ir_load_f64(in[2], n->in[2]->dtype, g % c);
		else
			v /= sqrt(var[g] / (double)cnt) + 1e-9;
		ir_store_f64(out[0], t, i, v);
	}
	free(grp);
	free(mu);
}

/* LRN: x / (bias + alpha / size * sum of x^2 over the channel window
 * [c - (size - 1) / 2, c + size / 2]) ^ beta. */
static void
eval_lrn(const ir_node *n, const void *const *in, void *const *out)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_dtype t = n->in[0]->dtype;
	int64_t c = xs->dim[1], sz = 1, size = ir_attr_req_i(n, "size");
	double alpha = ir_attr_f(n, "alpha"), beta = ir_attr_f(n, "beta");
	double bias = ir_attr_f(n, "bias");
	for (int k = 2; k < xs->rank; k++)
		sz *= xs->dim[k];
	for (int64_t b = 0; b < xs->dim[0]; b++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t i = 0; i < sz; i++) {
				double sq = 0;
				for (int64_t k = ch - (size - 1) / 2;
				     k <= ch + size / 2; k++) {
					if (k < 0 || k >= c)
						continue;
					double v = ir_load_f64(in[0], t,
						(b * c + k) * sz + i);
					sq += v * v;
				}
				int64_t o = (b * c + ch) * sz + i;
				ir_store_f64(out[0], t, o,
					     ir_load_f64(in[0], t, o) /
						     pow(bias + alpha /
							 (double)size * sq,
							 beta));
			}
}

bool
ir_eval_norm(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	bool mask[IR_MAX_RANK];
	int axis;
	switch (n->op) {
	case OP_BatchNormalization:
		eval_bn(n, in, out);
		return true;
	case OP_LRN:
		eval_lrn(n, in, out);
		return true;
	case OP_InstanceNormalization:
	case OP_MeanVarianceNormalization:
		if (!ir_norm_axes(n, mask, d))
			return false;
		eval_group(n, in, out, mask);
		return true;
	default:
		break;
	}
	if (!ln_axis(n, &axis, d))
		return false;
	eval_ln(n, in, out, axis);
	return true;
}
