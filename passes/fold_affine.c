/* Part of eliminate-layers: per-channel affine maps y*s + t
 * (BatchNormalization, constant Mul/Add/Sub/Div) folded into the weights
 * and bias of the Conv/Gemm/MatMul that produces y, and an inference
 * BatchNormalization or constant affine op folded into the zero-padded
 * Conv or Gemm after it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opt_util.h"

/* A float constant with data. */
static bool
float_const(const ir_value *v)
{
	return pass_has_data(v) && ir_dtype_is_float(v->dtype);
}

/* The output-channel count of a foldable layer and its channel axis in
 * the output, or 0 when n is not one: Conv (not transposed) or Gemm with
 * constant weights and bias, MatMul with a constant 2-D right operand. */
static int64_t
layer_channels(const ir_node *n, int *axis)
{
	const ir_value *w = n->nin > 1 ? n->in[1] : NULL;
	const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	if (!n->out[0] || !w || !float_const(w) || (b && !float_const(b)) ||
	    w->dtype != n->out[0]->dtype)
		return 0;
	*axis = n->out[0]->shape.rank - 1;
	switch (n->op) {
	case OP_Conv:
		*axis = 1;
		return w->shape.dim[0];
	case OP_Gemm:
		return w->shape.dim[ir_attr_i(n, "transB") ? 0 : 1];
	case OP_MatMul:
		return w->shape.rank == 2 && n->out[0]->shape.rank >= 1 ?
			       w->shape.dim[1] : 0;
	default:
		return 0;
	}
}

/* c as a per-channel vector out[M] along `axis` of a value shaped y, if
 * c broadcasts to y without growing it and varies along no other axis. */
static bool
channel_vec(const ir_value *c, const ir_shape *y, int axis, int64_t m,
	    double *out)
{
	if (!float_const(c) || c->shape.rank > y->rank)
		return false;
	int off = y->rank - c->shape.rank;
	bool per = false;
	for (int i = 0; i < c->shape.rank; i++) {
		int64_t dm = c->shape.dim[i];
		if (dm == 1)
			continue;
		if (off + i != axis || dm != m)
			return false;
		per = true;
	}
	for (int64_t k = 0; k < m; k++)
		out[k] = ir_load_f64(c->data, c->dtype, per ? k : 0);
	return true;
}

/* Gemm's bias as beta*C per channel (zeros without C), or false when C
 * varies along rows. */
static bool
gemm_bias(const ir_node *n, int64_t m, double *b)
{
	const ir_value *c = n->nin > 2 ? n->in[2] : NULL;
	double beta = ir_attr_f(n, "beta");
	ir_shape row = {2, {1, m}};
	for (int64_t k = 0; k < m; k++)
		b[k] = 0;
	if (!c)
		return true;
	if (!channel_vec(c, &row, 1, m, b))
		return false;
	for (int64_t k = 0; k < m; k++)
		b[k] *= beta;
	return true;
}

/* Sets input i of n, growing n's input array when i is past its end. */
static void
set_input(ir_graph *g, ir_node *n, int i, ir_value *v)
{
	if (i >= n->nin) {
		ir_value **in = nn_alloc_array(g->arena, (size_t)i + 1,
					       sizeof *in);
		memcpy(in, n->in, (size_t)n->nin * sizeof *in);
		n->in = in;
		n->nin = i + 1;
	}
	n->in[i] = v;
}

static void
set_float_attr(ir_graph *g, ir_node *n, const char *name, double v)
{
	ir_set_attr(g, n, name, IR_ATTR_FLOAT)->f = v;
}

/* W with output channel k scaled by s[k]: Conv's dim 0, Gemm's dim 0
 * (transB) or 1, MatMul's dim 1. */
static ir_value *
scale_out(ir_graph *g, const ir_node *n, const ir_value *w, const double *s,
	  int64_t m)
{
	double *v = pass_load_f64(w);
	int64_t cnt = ir_shape_numel(&w->shape);
	bool rows = n->op == OP_Conv ||
		    (n->op == OP_Gemm && ir_attr_i(n, "transB"));
	for (int64_t i = 0; i < cnt; i++)
		v[i] *= s[rows ? i / (cnt / m) : i % m];
	ir_value *r = pass_const_f64(g, w->dtype, &w->shape, v);
	free(v);
	return r;
}

/* Makes n compute y*s + t (s, t may be NULL) on its output channels.
 * Returns the value now holding that result (n's output, or a bias Add
 * inserted after a MatMul), or NULL when the bias cannot be expressed. */
static ir_value *
affine_into(ir_graph *g, ir_node *n, int64_t m, const double *s,
	    const double *t)
{
	double *b = nn_xcalloc((size_t)m, sizeof *b);
	ir_value *res = n->out[0], *bias = n->nin > 2 ? n->in[2] : NULL;
	ir_shape bs = {1, {m}};
	if (n->op == OP_Gemm && !gemm_bias(n, m, b))
		goto fail;
	if (n->op == OP_Conv && bias)
		for (int64_t k = 0; k < m; k++)
			b[k] = ir_load_f64(bias->data, bias->dtype, k);
	if (s)
		set_input(g, n, 1, scale_out(g, n, n->in[1], s, m));
	for (int64_t k = 0; k < m; k++)
		b[k] = b[k] * (s ? s[k] : 1) + (t ? t[k] : 0);
	if (n->op == OP_MatMul) {
		if (t) {
			ir_value *in[2] = {n->out[0],
					   pass_const_f64(g, res->dtype, &bs, b)};
			ir_node *a = ir_insert_node(g, n->next, OP_Add, NULL, 2,
						    in, 1);
			a->out[0]->dtype = res->dtype;
			a->out[0]->shape = res->shape;
			res = a->out[0];
		}
	} else if (bias || t) {
		set_input(g, n, 2, pass_const_f64(g, res->dtype, &bs, b));
		if (n->op == OP_Gemm)
			set_float_attr(g, n, "beta", 1.0);
	}
	free(b);
	return res;
fail:
	free(b);
	return NULL;
}

/* BatchNormalization n (inference form, constant parameters) as
 * per-channel s and t over c channels. With training_mode=1 it
 * normalizes by the batch's own statistics: not a fixed affine map. */
static bool
bn_affine(const ir_node *n, int64_t c, double *s, double *t)
{
	if (ir_attr_i(n, "training_mode"))
		return false;
	for (int i = 1; i < 5; i++)
		if (!float_const(n->in[i]) ||
		    ir_shape_numel(&n->in[i]->shape) != c)
			return false;
	for (int i = 1; i < n->nout; i++)
		if (n->out[i] && n->out[i]->nuses)
			return false;
	double eps = ir_attr_f(n, "epsilon");
	for (int64_t k = 0; k < c; k++) {
		double sc = ir_load_f64(n->in[1]->data, n->in[1]->dtype, k);
		double b = ir_load_f64(n->in[2]->data, n->in[2]->dtype, k);
		double mu = ir_load_f64(n->in[3]->data, n->in[3]->dtype, k);
		double var = ir_load_f64(n->in[4]->data, n->in[4]->dtype, k);
		s[k] = sc / sqrt(var + eps);
		t[k] = b - mu * s[k];
	}
	return true;
}

/* The affine map of u applied to y (u's input 0 or 1), as s and t over
 * m channels along axis; false when u is not such a map. */
static bool
op_affine(const ir_node *u, const ir_value *y, int axis, int64_t m,
	  double *s, double *t)
{
	if (u->op == OP_BatchNormalization)
		return u->in[0] == y && axis == 1 && bn_affine(u, m, s, t);
	if (ir_ops[u->op].kind != IR_KIND_BINARY || u->op == OP_Pow ||
	    u->op == OP_PRelu || u->in[0] == u->in[1])
		return false;
	int yi = u->in[0] == y ? 0 : 1;
	const ir_value *c = u->in[1 - yi];
	if (!ir_shape_eq(&u->out[0]->shape, &y->shape) ||
	    !channel_vec(c, &y->shape, axis, m, yi ? s : t))
		return false;
	double *cv = yi ? s : t;
	for (int64_t k = 0; k < m; k++) {
		double v = cv[k];
		s[k] = 1;
		t[k] = 0;
		switch (u->op) {
		case OP_Mul: s[k] = v; break;
		case OP_Add: t[k] = v; break;
		case OP_Sub: if (yi) s[k] = -1; t[k] = yi ? v : -v; break;
		case OP_Div:
			if (yi || v == 0)
				return false;
			s[k] = 1 / v;
			break;
		default: return false;
		}
	}
	return true;
}

/* affine_into with identity parts left out. A pure shift after a
 * MatMul is left alone: it would only come back as a new Add (fuse turns
 * MatMul + Add into a FusedGemm). */
static ir_value *
fold_map(ir_graph *g, ir_node *p, int64_t m, const double *s,
	 const double *t)
{
	bool any_s = false, any_t = false;
	for (int64_t k = 0; k < m; k++) {
		any_s |= s[k] != 1;
		any_t |= t[k] != 0;
	}
	if (p->op == OP_MatMul && !any_s)
		return NULL;
	return affine_into(g, p, m, any_s ? s : NULL, any_t ? t : NULL);
}

/* u (BN or a constant binary op) after a foldable layer p whose output
 * only u reads: folds u into p. Needs uses. */
int
pass_fold_affine_into_producer(ir_graph *g, ir_node *u,
			       const pass_vset *dirty)
{
	int axis = 0;
	for (int i = 0; i < u->nin && i < 2; i++) {
		ir_value *y = u->in[i];
		ir_node *p = y ? y->def : NULL;
		if (!p || y->nuses != 1 || pass_is_output(g, y))
			continue;
		int64_t m = layer_channels(p, &axis);
		if (m <= 0 || !pass_can_replace(g, u->out[0], y))
			continue;
		double *s = nn_xmalloc((size_t)m * sizeof *s);
		double *t = nn_xmalloc((size_t)m * sizeof *t);
		ir_value *r = NULL;
		if (op_affine(u, y, axis, m, s, t))
			r = fold_map(g, p, m, s, t);
		free(s);
		free(t);
		if (!r)
			continue;
		if (u->out[0]->nuses && !pass_vset_has(dirty, u->out[0]))
			pass_replace_listed(g, u->out[0], r);
		else
			pass_replace(g, u->out[0], r);
		ir_remove_node(g, u);
		return 1;
	}
	return 0;
}

/* The layer c reading BN output y as its input 0 with explicit zero
 * padding (so the BN's shift t reaches every tap) or as Gemm's A. */
static bool
exact_consumer(const ir_node *c, const ir_value *y)
{
	int cnt, axis;
	if (c->in[0] != y || c->in[1] == y || layer_channels(c, &axis) <= 0)
		return false;
	if (c->op == OP_Gemm)
		return !ir_attr_i(c, "transA") && y->shape.rank == 2;
	if (c->op != OP_Conv)
		return false;
	const char *ap = ir_attr_s(c, "auto_pad");
	if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
		return false;
	const int64_t *p = ir_attr_ints(c, "pads", &cnt);
	for (int i = 0; p && i < cnt; i++)
		if (p[i])
			return false;
	return true;
}

/* W' = W scaled along its input channels by s, and the bias b' = b +
 * W applied to the shift t (Gemm: times alpha). */
static void
shift_into(ir_graph *g, ir_node *c, const double *s, const double *t)
{
	const ir_value *w = c->in[1];
	int axis;
	int64_t m = layer_channels(c, &axis), cnt = ir_shape_numel(&w->shape);
	double *wv = pass_load_f64(w), *b = nn_xcalloc((size_t)m, sizeof *b);
	bool conv = c->op == OP_Conv, tb = !conv && ir_attr_i(c, "transB");
	int64_t kin = conv ? w->shape.dim[1] : w->shape.dim[tb ? 1 : 0];
	int64_t kk = conv ? cnt / (m * kin) : 1;
	int64_t grp = conv ? ir_attr_i(c, "group") : 1;
	if (conv && c->nin > 2 && c->in[2])
		for (int64_t k = 0; k < m; k++)
			b[k] = ir_load_f64(c->in[2]->data, c->in[2]->dtype, k);
	if (!conv)
		gemm_bias(c, m, b);
	double alpha = conv ? 1 : ir_attr_f(c, "alpha");
	for (int64_t i = 0; i < cnt; i++) {
		int64_t o, ci;
		if (conv) {
			o = i / (kin * kk);
			ci = (o / (m / grp)) * kin + (i / kk) % kin;
		} else {
			o = tb ? i / kin : i % m;
			ci = tb ? i % kin : i / m;
		}
		b[o] += alpha * wv[i] * t[ci];
		wv[i] *= s[ci];
	}
	ir_shape bs = {1, {m}};
	bool bias = c->nin > 2 && c->in[2];
	for (int64_t k = 0; k < m && !bias; k++)
		bias = b[k] != 0;
	set_input(g, c, 1, pass_const_f64(g, w->dtype, &w->shape, wv));
	if (bias) {
		set_input(g, c, 2, pass_const_f64(g, w->dtype, &bs, b));
		if (!conv)
			set_float_attr(g, c, "beta", 1.0);
	}
	free(wv);
	free(b);
}

/* The value u maps per channel: BN's input, or the non-constant operand
 * of a binary op with a constant; NULL otherwise. */
static ir_value *
affine_source(const ir_node *u)
{
	if (u->op == OP_BatchNormalization)
		return u->in[0];
	if (ir_ops[u->op].kind != IR_KIND_BINARY || u->nin != 2)
		return NULL;
	if (pass_has_data(u->in[1]))
		return u->in[0];
	return pass_has_data(u->in[0]) ? u->in[1] : NULL;
}

/* u, an inference BatchNormalization or a Mul/Add/Sub/Div by a
 * per-channel constant, whose only reader is a zero-padded Conv or a Gemm
 * (as A), is folded into that layer's weights and bias. Needs uses. */
int
pass_fold_bn_into_consumer(ir_graph *g, ir_node *u)
{
	ir_value *y = u->out[0], *x = y ? affine_source(u) : NULL;
	ir_node *c = y ? pass_sole_user(y) : NULL; /* LSTM may omit Y */
	if (!x || x->shape.rank < 2 || !c || pass_is_output(g, y) ||
	    !exact_consumer(c, y))
		return 0;
	int64_t ch = x->shape.dim[1];
	double *s = nn_xmalloc((size_t)ch * sizeof *s);
	double *t = nn_xmalloc((size_t)ch * sizeof *t);
	int axis;
	bool ok = op_affine(u, x, 1, ch, s, t);
	if (ok && c->op == OP_Gemm) {
		int64_t m = layer_channels(c, &axis);
		double *b = nn_xmalloc((size_t)m * sizeof *b);
		ok = gemm_bias(c, m, b);
		free(b);
	}
	if (ok) {
		shift_into(g, c, s, t);
		c->in[0] = x;
		ir_remove_node(g, u);
	}
	free(s);
	free(t);
	return ok;
}
