/* One generator per op of ir/ops.def, grouped by kind: each reads pool
 * values, makes the constants and attributes the op needs (mostly valid,
 * sometimes at the edges), and lets the op's shape hook refuse the rest
 * (gen_finish). */
#include <string.h>

#include "gen.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof *(a)))

static int64_t
axis(gen *z, int rank)
{
	return rank ? gen_int(z->s, -rank, rank - 1) : 0;
}

static bool
one(gen *z, ir_op op, ir_value *x)
{
	return x && gen_finish(z, gen_node(z, op, 1, &x, 1));
}

static bool
gen_unary(gen *z, ir_op op)
{
	gen_want w = op == OP_Abs || op == OP_Neg || op == OP_Relu ||
		     op == OP_Sign || op == OP_Clip ? GEN_NUM : GEN_FLOAT;
	if (op == OP_Floor || op == OP_Ceil || op == OP_Round ||
	    op == OP_Sign || op == OP_ThresholdedRelu || op == OP_Shrink ||
	    op == OP_Log ||
	    op == OP_Sqrt || op == OP_Reciprocal)
		w |= GEN_EXACT;
	ir_value *x = gen_pick(z, w, 0, 4);
	if (!x)
		return false;
	if (op == OP_Clip) {
		ir_value *in[3] = {x, NULL, NULL};
		double lo = gen_float(z->s), hi = gen_float(z->s);
		if (!ir_dtype_is_float(x->dtype))
			lo *= 3, hi *= 3;
		if (gen_chance(z->s, 70))
			in[1] = gen_scalar(z, x->dtype, lo < hi ? lo : hi);
		if (gen_chance(z->s, 70))
			in[2] = gen_scalar(z, x->dtype, lo < hi ? hi : lo);
		return gen_finish(z, gen_node(z, op, 3, in, 1));
	}
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if ((op == OP_HardSigmoid || op == OP_LeakyRelu || op == OP_Celu ||
	     op == OP_Elu || op == OP_Selu || op == OP_ThresholdedRelu) &&
	    gen_chance(z->s, 60))
		gen_attr_float(z, n, "alpha", gen_float(z->s) + (op == OP_Celu
			       ? 1.5 : 0));
	if ((op == OP_HardSigmoid || op == OP_Selu) && gen_chance(z->s, 50))
		gen_attr_float(z, n, op == OP_Selu ? "gamma" : "beta",
			       gen_float(z->s));
	return gen_finish(z, n);
}

static bool
gen_binary(gen *z, ir_op op)
{
	bool pole = op == OP_Div || op == OP_Pow;
	ir_value *x = gen_pick(z, (op == OP_Pow || op == OP_PRelu ? GEN_FLOAT
			       : GEN_NUM) | (pole ? GEN_EXACT : 0), 0, 4);
	if (!x || (op == OP_Div && !ir_dtype_is_float(x->dtype)))
		return false;
	ir_value *in[2] = {x, gen_partner(z, x)};
	if (pole && !gen_exact(in[1]))
		return false;
	if (gen_chance(z->s, 30) && op != OP_PRelu) {
		ir_value *t = in[0];
		in[0] = in[1];
		in[1] = t;
	}
	return gen_finish(z, gen_node(z, op, 2, in, 1));
}

/* The spatial attributes Conv, ConvTranspose and the pools share. */
static void
window_attrs(gen *z, ir_node *n, int nd, const int64_t *k, bool dil)
{
	int64_t st[IR_MAX_RANK], pads[2 * IR_MAX_RANK], di[IR_MAX_RANK];

	for (int i = 0; i < nd; i++) {
		st[i] = gen_int(z->s, 1, 2);
		di[i] = gen_int(z->s, 1, 2);
		pads[i] = gen_int(z->s, 0, (int)k[i] - 1);
		pads[nd + i] = gen_int(z->s, 0, (int)k[i] - 1);
	}
	if (gen_chance(z->s, 40))
		gen_attr_ints(z, n, "strides", nd, st);
	if (dil && gen_chance(z->s, 25))
		gen_attr_ints(z, n, "dilations", nd, di);
	if (gen_chance(z->s, 15))
		gen_attr_str(z, n, "auto_pad", gen_chance(z->s, 50)
			     ? "SAME_UPPER" : gen_chance(z->s, 50)
			     ? "SAME_LOWER" : "VALID");
	else if (gen_chance(z->s, 50))
		gen_attr_ints(z, n, "pads", 2 * nd, pads);
}

static bool gen_gemm(gen *z, ir_op op);

static bool
gen_conv(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_F32, 3, 4);
	if (!x)
		return false;
	int nd = x->shape.rank - 2;
	int64_t c = x->shape.dim[1], grp = 1;
	int64_t m = gen_int(z->s, 1, 6), k[2];
	if (gen_chance(z->s, 30) && c > 1)
		grp = gen_chance(z->s, 50) ? c : c % 2 == 0 ? 2 : 1;
	if (grp > 1 && op == OP_Conv)
		m = grp * gen_int(z->s, 1, 2);
	ir_shape ws = {nd + 2, {op == OP_Conv ? m : c, op == OP_Conv
				? c / grp : m}};
	for (int i = 0; i < nd; i++)
		ws.dim[2 + i] = k[i] = gen_int(z->s, 1, 3);
	int64_t mo = op == OP_Conv ? m : m * grp;
	ir_shape bs = {1, {mo}};
	ir_value *in[4] = {x, gen_const(z, IR_F32, &ws),
			   gen_chance(z->s, 60) ? gen_const(z, IR_F32, &bs)
						: NULL, NULL};
	ir_op base = ir_fused_base(op);
	ir_node *n = gen_node(z, base != IR_NOPS ? base : op, 3, in, 1);
	window_attrs(z, n, nd, k, true);
	if (grp > 1)
		gen_attr_int(z, n, "group", grp);
	if (gen_chance(z->s, 30))
		gen_attr_ints(z, n, "kernel_shape", nd, k);
	if (op == OP_ConvTranspose && gen_chance(z->s, 20)) {
		int64_t op_[2] = {gen_int(z->s, 0, 1), gen_int(z->s, 0, 1)};
		gen_attr_ints(z, n, "output_padding", nd, op_);
	}
	return gen_finish(z, n);
}

/* An activation the fuse pass may put into a fused op's epilogue. */
static const char *const acts[] = {"Relu", "Sigmoid", "Tanh", "LeakyRelu",
				   "Clip", "HardSigmoid", "Elu", "Softplus"};

/* nncc.FusedConv / nncc.FusedGemm straight from the generator: the
 * fused forms the fuse pass makes, with a residual and an activation. */
static bool
gen_fused(gen *z, ir_op op)
{
	int before = z->npool;
	ir_op base = ir_fused_base(op);
	if (!(base == OP_Conv ? gen_conv(z, base) : gen_gemm(z, base)) ||
	    z->npool != before + 1)
		return false;
	ir_node *n = z->g->last;
	ir_value *y = n->out[0];
	ir_value *in[4] = {n->in[0], n->in[1], n->nin > 2 ? n->in[2] : NULL,
			   gen_chance(z->s, 40) ? gen_const(z, IR_F32,
							    &y->shape) : NULL};
	z->npool--;
	z->nnodes--;
	ir_remove_node(z->g, n);
	ir_node *f = gen_node(z, op, 4, in, 1);
	for (int i = 0; i < n->nattrs; i++)
		*ir_set_attr(z->g, f, n->attrs[i].name, n->attrs[i].kind) =
			n->attrs[i];
	const char *a = acts[gen_byte(z->s) % NELEM(acts)];
	if (gen_chance(z->s, 80))
		gen_attr_str(z, f, "activation", a);
	if (gen_chance(z->s, 50))
		gen_attr_float(z, f, "activation_alpha", gen_float(z->s));
	if (gen_chance(z->s, 30))
		gen_attr_float(z, f, "activation_beta", gen_float(z->s) + 1);
	return gen_finish(z, f);
}

static bool
gen_gemm(gen *z, ir_op op)
{
	if (op == OP_FusedGemm || op == OP_FusedConv)
		return gen_fused(z, op);
	ir_value *x = gen_pick(z, GEN_F32, op == OP_Gemm ? 2 : 1,
			       op == OP_Gemm ? 2 : 4);
	if (!x)
		return false;
	int r = x->shape.rank;
	bool ta = op == OP_Gemm && gen_chance(z->s, 20);
	bool tb = op == OP_Gemm && gen_chance(z->s, 40);
	int64_t k = x->shape.dim[ta ? 0 : r - 1], nn = gen_int(z->s, 1, 12);
	ir_shape ws = {2, {tb ? nn : k, tb ? k : nn}};
	ir_value *w = gen_chance(z->s, 85) ? gen_const(z, IR_F32, &ws) : NULL;
	for (int i = 0; !w && i < z->npool; i++)
		if (z->pool[i]->dtype == IR_F32 && z->pool[i]->shape.rank == 2
		    && z->pool[i]->shape.dim[tb ? 1 : 0] == k)
			w = z->pool[i];
	if (!w)
		w = gen_const(z, IR_F32, &ws);
	nn = w->shape.dim[tb ? 0 : 1];
	if (op == OP_MatMul) {
		ir_value *in[2] = {x, w};
		return gen_finish(z, gen_node(z, op, 2, in, 1));
	}
	ir_shape bs = {gen_int(z->s, 1, 2), {1, nn}};
	if (bs.rank == 1)
		bs.dim[0] = nn;
	else if (gen_chance(z->s, 30))
		bs.dim[0] = x->shape.dim[ta ? 1 : 0];
	ir_value *in[3] = {x, w, gen_chance(z->s, 70) ? gen_const(z, IR_F32,
								  &bs) : NULL};
	ir_node *n = gen_node(z, op, 3, in, 1);
	if (ta)
		gen_attr_int(z, n, "transA", 1);
	if (tb)
		gen_attr_int(z, n, "transB", 1);
	if (gen_chance(z->s, 20))
		gen_attr_float(z, n, "alpha", gen_float(z->s) * 2);
	if (gen_chance(z->s, 20))
		gen_attr_float(z, n, "beta", gen_float(z->s) * 2);
	return gen_finish(z, n);
}

static bool
gen_pool(gen *z, ir_op op)
{
	/* MaxPool's indices jump between near-equal values */
	bool idx = op == OP_MaxPool && gen_chance(z->s, 20);
	ir_value *x = gen_pick(z, GEN_F32 | (idx ? GEN_EXACT : 0), 3, 4);
	if (!x)
		return false;
	if (op == OP_GlobalAveragePool || op == OP_GlobalMaxPool)
		return one(z, op, x);
	int nd = x->shape.rank - 2;
	int64_t k[2];
	for (int i = 0; i < nd; i++)
		k[i] = gen_int(z->s, 1, 3);
	ir_node *n = gen_node(z, op, 1, &x, idx ? 2 : 1);
	gen_attr_ints(z, n, "kernel_shape", nd, k);
	window_attrs(z, n, nd, k, op == OP_MaxPool);
	if (gen_chance(z->s, 20))
		gen_attr_int(z, n, "ceil_mode", 1);
	if (op == OP_AveragePool && gen_chance(z->s, 30))
		gen_attr_int(z, n, "count_include_pad", 1);
	return gen_finish(z, n);
}

static bool
gen_norm(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_F32, op == OP_BatchNormalization ? 2
			       : 1, 4);
	if (!x)
		return false;
	if (op == OP_BatchNormalization) {
		ir_shape cs = {1, {x->shape.dim[1]}};
		ir_value *in[5] = {x, gen_const(z, IR_F32, &cs),
				   gen_const(z, IR_F32, &cs),
				   gen_const(z, IR_F32, &cs),
				   gen_const(z, IR_F32, &cs)};
		float *var = in[4]->data; /* a variance is positive */
		for (int64_t i = 0; i < cs.dim[0]; i++)
			var[i] = var[i] * var[i] + 0.1f;
		ir_const_facts(in[4]);
		ir_node *n = gen_node(z, op, 5, in, 1);
		if (gen_chance(z->s, 30))
			gen_attr_float(z, n, "epsilon", 1e-3);
		return gen_finish(z, n);
	}
	int64_t a = axis(z, x->shape.rank);
	int64_t a0 = a < 0 ? a + x->shape.rank : a;
	ir_shape ss = {x->shape.rank - (int)a0, {0}};
	memcpy(ss.dim, x->shape.dim + a0, sizeof(int64_t) * (size_t)ss.rank);
	ir_value *in[3] = {x, gen_const(z, IR_F32, &ss), gen_chance(z->s, 60)
			   ? gen_const(z, IR_F32, &ss) : NULL};
	ir_node *n = gen_node(z, op, 3, in, 1);
	gen_attr_int(z, n, "axis", a);
	return gen_finish(z, n);
}

/* InstanceNormalization, MeanVarianceNormalization (a random subset of
 * axes, or the default) and LRN. */
static bool
gen_norm2(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_F32, op == OP_MeanVarianceNormalization
			       ? 1 : 2, 4);
	if (!x)
		return false;
	if (op == OP_InstanceNormalization) {
		ir_shape cs = {1, {x->shape.dim[1]}};
		ir_value *in[3] = {x, gen_const(z, IR_F32, &cs),
				   gen_const(z, IR_F32, &cs)};
		ir_node *n = gen_node(z, op, 3, in, 1);
		if (gen_chance(z->s, 30))
			gen_attr_float(z, n, "epsilon", 1e-2);
		return gen_finish(z, n);
	}
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if (op == OP_LRN) {
		gen_attr_int(z, n, "size", gen_int(z->s, 1, 5));
		if (gen_chance(z->s, 50)) {
			gen_attr_float(z, n, "alpha",
				       0.5 * (1 + gen_float(z->s)));
			gen_attr_float(z, n, "beta",
				       0.75 + 0.25 * gen_float(z->s));
			gen_attr_float(z, n, "bias", 1.5 + gen_float(z->s));
		}
		return gen_finish(z, n);
	}
	if (gen_chance(z->s, 80)) {
		int64_t ax[IR_MAX_RANK];
		int k = 0;
		for (int a = 0; a < x->shape.rank; a++)
			if (gen_chance(z->s, 50))
				ax[k++] = gen_chance(z->s, 30)
						  ? a - x->shape.rank : a;
		gen_attr_ints(z, n, "axes", k, ax);
	}
	return gen_finish(z, n);
}

/* GridSample over a constant grid (coordinates decide taps: no rounding
 * may move them) reaching past [-1, 1]; RoiAlign over constant rois and
 * batch indices in range. */
static bool
gen_sample(gen *z, ir_op op)
{
	static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
	static const char *const pads[] = {"zeros", "border", "reflection"};
	ir_value *x = gen_pick(z, GEN_F32, 4, 4);
	if (!x)
		return false;
	int64_t nb = x->shape.dim[0];
	if (op == OP_GridSample) {
		ir_shape gs = {4, {nb, gen_int(z->s, 1, 4), gen_int(z->s, 1, 4),
				   2}};
		ir_value *in[2] = {x, gen_const(z, IR_F32, &gs)};
		float *g = in[1]->data;
		for (int64_t i = 0; i < ir_shape_numel(&gs); i++)
			g[i] *= 1.5f;
		ir_const_facts(in[1]);
		ir_node *n = gen_node(z, op, 2, in, 1);
		gen_attr_str(z, n, "mode", modes[gen_int(z->s, 0, 2)]);
		gen_attr_str(z, n, "padding_mode", pads[gen_int(z->s, 0, 2)]);
		gen_attr_int(z, n, "align_corners", gen_int(z->s, 0, 1));
		return gen_finish(z, n);
	}
	int nr = gen_int(z->s, 1, 3);
	ir_shape rs = {2, {nr, 4}};
	int64_t bi[3];
	ir_value *in[3] = {x, gen_const(z, IR_F32, &rs), NULL};
	float *r = in[1]->data;
	for (int i = 0; i < nr; i++) {
		r[4 * i] = (r[4 * i] + 1) * (float)x->shape.dim[3] / 2;
		r[4 * i + 1] = (r[4 * i + 1] + 1) * (float)x->shape.dim[2] / 2;
		r[4 * i + 2] = r[4 * i] + 2 * (r[4 * i + 2] + 1);
		r[4 * i + 3] = r[4 * i + 1] + 2 * (r[4 * i + 3] + 1);
		bi[i] = gen_int(z->s, 0, (int)nb - 1);
	}
	ir_const_facts(in[1]);
	in[2] = gen_ints(z, nr, bi);
	ir_node *n = gen_node(z, op, 3, in, 1);
	gen_attr_int(z, n, "output_height", gen_int(z->s, 1, 3));
	gen_attr_int(z, n, "output_width", gen_int(z->s, 1, 3));
	gen_attr_int(z, n, "sampling_ratio", gen_int(z->s, 0, 2));
	if (gen_chance(z->s, 50))
		gen_attr_str(z, n, "mode", "max");
	if (gen_chance(z->s, 50))
		gen_attr_str(z, n, "coordinate_transformation_mode",
			     "output_half_pixel");
	if (gen_chance(z->s, 30))
		gen_attr_float(z, n, "spatial_scale", 0.5);
	return gen_finish(z, n);
}

static bool
gen_softmax(gen *z, ir_op op)
{
	/* Hardmax jumps where two elements tie, as ArgMax */
	ir_value *x = gen_pick(z, GEN_FLOAT | (op == OP_Hardmax ? GEN_EXACT
					       : 0), 1, 4);
	if (!x)
		return false;
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if (gen_chance(z->s, 70))
		gen_attr_int(z, n, "axis", axis(z, x->shape.rank));
	return gen_finish(z, n);
}

static bool
gen_reduce(gen *z, ir_op op)
{
	bool arg = op == OP_ArgMax || op == OP_ArgMin;
	ir_value *x = gen_pick(z, (op == OP_ReduceMax || op == OP_ReduceMin ||
			       op == OP_ReduceSum || arg ? GEN_NUM : GEN_FLOAT)
			       | (arg ? GEN_EXACT : 0), 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank, na = gen_int(z->s, 0, r);
	int64_t ax[IR_MAX_RANK];
	for (int i = 0; i < na; i++) /* distinct axes, some negative */
		ax[i] = ((i + gen_int(z->s, 0, 1)) % r) - (gen_chance(z->s, 30)
							    ? r : 0);
	if (na == 2 && (ax[0] - ax[1]) % r == 0)
		na = 1;
	ir_value *in[2] = {x, !arg && na ? gen_ints(z, na, ax) : NULL};
	ir_node *n = gen_node(z, op, in[1] ? 2 : 1, in, 1);
	if (arg)
		gen_attr_int(z, n, "axis", axis(z, r));
	if (arg && gen_chance(z->s, 30))
		gen_attr_int(z, n, "select_last_index", 1);
	if (gen_chance(z->s, 40))
		gen_attr_int(z, n, "keepdims", 0);
	if (!arg && !na && gen_chance(z->s, 20))
		gen_attr_int(z, n, "noop_with_empty_axes", 1);
	return gen_finish(z, n);
}

/* A reshape target for x: its dims regrouped, with a 0 or -1 at times. */
static ir_value *
reshape_target(gen *z, const ir_value *x)
{
	int64_t n = ir_shape_numel(&x->shape), t[IR_MAX_RANK];
	int r = 0;
	while (n > 1 && r < 5) {
		int64_t f = gen_int(z->s, 1, 6);
		while (n % f)
			f--;
		t[r++] = f;
		n /= f;
	}
	if (n > 1 || r == 0)
		t[r++] = n;
	if (gen_chance(z->s, 30))
		t[gen_int(z->s, 0, r - 1)] = -1;
	else if (gen_chance(z->s, 20) && r <= x->shape.rank &&
		 t[0] == x->shape.dim[0])
		t[0] = 0;
	return gen_ints(z, r, t);
}

static bool
gen_reshape(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 0, 5);
	if (!x)
		return false;
	int r = x->shape.rank;
	int64_t ax[IR_MAX_RANK];
	int na = 0;
	ir_value *in[2] = {x, NULL};
	switch (op) {
	case OP_Reshape:
		in[1] = reshape_target(z, x);
		break;
	case OP_Squeeze:
		for (int i = 0; i < r; i++)
			if (x->shape.dim[i] == 1 && gen_chance(z->s, 60))
				ax[na++] = gen_chance(z->s, 30) ? i - r : i;
		in[1] = na ? gen_ints(z, na, ax) : NULL;
		break;
	case OP_Unsqueeze:
		ax[na++] = gen_int(z->s, -(r + 1), r);
		in[1] = gen_ints(z, na, ax);
		break;
	default:
		break;
	}
	ir_node *n = gen_node(z, op, in[1] ? 2 : 1, in, 1);
	if (op == OP_Flatten)
		gen_attr_int(z, n, "axis", gen_int(z->s, -r, r));
	if (op == OP_Dropout && gen_chance(z->s, 50))
		gen_attr_float(z, n, "ratio", 0.25);
	return gen_finish(z, n);
}

static bool
gen_transpose(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 1, 5);
	if (!x)
		return false;
	int r = x->shape.rank;
	int64_t p[IR_MAX_RANK];
	for (int i = 0; i < r; i++)
		p[i] = i;
	for (int i = r - 1; i > 0; i--) {
		int j = gen_int(z->s, 0, i);
		int64_t t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if (gen_chance(z->s, 85))
		gen_attr_ints(z, n, "perm", r, p);
	return gen_finish(z, n);
}

static bool
gen_concat(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank, k = gen_int(z->s, 1, 3);
	int64_t a = axis(z, r), a0 = a < 0 ? a + r : a;
	ir_value *in[4] = {x};
	for (int i = 1; i <= k; i++) {
		ir_shape s = x->shape;
		s.dim[a0] = gen_int(z->s, 1, 3);
		in[i] = gen_chance(z->s, 30) ? x : gen_const(z, x->dtype, &s);
		if (in[i] == x)
			continue;
		for (int j = 0; j < z->npool; j++) { /* a computed one */
			ir_value *v = z->pool[j];
			bool fits = v->dtype == x->dtype && v->shape.rank == r;
			for (int d = 0; fits && d < r; d++)
				fits = d == a0 || v->shape.dim[d] == x->shape.dim[d];
			if (fits && v->def && gen_chance(z->s, 50))
				in[i] = v;
		}
	}
	ir_node *n = gen_node(z, op, k + 1, in, 1);
	gen_attr_int(z, n, "axis", a);
	return gen_finish(z, n);
}

static bool
gen_split(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank, a = (int)axis(z, r), a0 = a < 0 ? a + r : a;
	int64_t len = x->shape.dim[a0], parts[4];
	int np = 0;
	while (len > 0 && np < 3) {
		parts[np] = gen_int(z->s, 1, (int)len);
		len -= parts[np++];
	}
	if (len > 0 || np == 0) /* an empty axis: one empty piece */
		parts[np++] = len;
	ir_value *in[2] = {x, gen_chance(z->s, 70) ? gen_ints(z, np, parts)
						   : NULL};
	if (!in[1])
		np = gen_int(z->s, 1, 3);
	ir_node *n = gen_node(z, op, in[1] ? 2 : 1, in, np);
	gen_attr_int(z, n, "axis", a);
	if (!in[1])
		gen_attr_int(z, n, "num_outputs", np);
	return gen_finish(z, n);
}

/* A slice bound: in range mostly, past either end (clamped) at times. */
static int64_t
bound(gen *z, int64_t dim)
{
	if (gen_chance(z->s, 8))
		return gen_chance(z->s, 50) ? INT64_MAX : INT64_MIN;
	return gen_int(z->s, -(int)dim - 1, (int)dim + 1);
}

static bool
gen_slice(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank, na = gen_int(z->s, 1, r);
	int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK],
		sp[IR_MAX_RANK];
	for (int i = 0; i < na; i++) {
		ax[i] = (i + gen_int(z->s, 0, r - 1)) % r;
		for (int j = 0; j < i; j++)
			if (ax[j] == ax[i])
				ax[i] = -1;
		if (ax[i] < 0) {
			na = i;
			break;
		}
		int64_t d = x->shape.dim[ax[i]];
		st[i] = bound(z, d);
		en[i] = bound(z, d);
		sp[i] = gen_chance(z->s, 25) ? -gen_int(z->s, 1, 2)
					     : gen_int(z->s, 1, 2);
	}
	if (!na)
		return false;
	ir_value *in[5] = {x, gen_ints(z, na, st), gen_ints(z, na, en),
			   gen_chance(z->s, 70) ? gen_ints(z, na, ax) : NULL,
			   gen_chance(z->s, 60) ? gen_ints(z, na, sp) : NULL};
	return gen_finish(z, gen_node(z, op, 5, in, 1));
}

static bool
gen_gather(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank, a = (int)axis(z, r), a0 = a < 0 ? a + r : a;
	ir_shape is;
	gen_shape(z, gen_int(z->s, 0, 2), &is);
	ir_value *ix = ir_add_const(z->g, NULL, IR_I64, &is, NULL);
	int64_t dim = x->shape.dim[a0];
	for (int64_t i = 0; i < ir_shape_numel(&is); i++)
		((int64_t *)ix->data)[i] = gen_int(z->s, -(int)dim,
						   (int)dim - 1);
	ir_const_facts(ix);
	ir_value *in[2] = {x, ix};
	ir_node *n = gen_node(z, op, 2, in, 1);
	gen_attr_int(z, n, "axis", a);
	return gen_finish(z, n);
}

static bool
gen_pad(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_NUM, 1, 4);
	if (!x)
		return false;
	int r = x->shape.rank;
	static const char *const modes[] = {"constant", "reflect", "edge"};
	const char *m = modes[gen_byte(z->s) % 3];
	int64_t p[2 * IR_MAX_RANK];
	for (int i = 0; i < 2 * r; i++) {
		int64_t d = x->shape.dim[i % r];
		p[i] = m[0] == 'r' ? gen_int(z->s, 0, (int)d - 1)
				   : gen_int(z->s, -1, 2);
	}
	ir_value *in[3] = {x, gen_ints(z, 2 * r, p), m[0] == 'c' &&
			   gen_chance(z->s, 50) ? gen_scalar(z, x->dtype, 1)
						: NULL};
	ir_node *n = gen_node(z, op, 3, in, 1);
	gen_attr_str(z, n, "mode", m);
	return gen_finish(z, n);
}

static bool
gen_shape_op(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_ANY, 0, 4);
	if (!x)
		return false;
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if (gen_chance(z->s, 30))
		gen_attr_int(z, n, "start", axis(z, x->shape.rank));
	return gen_finish(z, n);
}

static bool
gen_constant(gen *z, ir_op op)
{
	ir_shape s;
	gen_shape(z, gen_int(z->s, 0, 3), &s);
	ir_value *c = gen_const(z, IR_F32, &s);
	ir_node *n;
	if (op == OP_ConstantOfShape) {
		ir_value *dims = gen_ints(z, s.rank, s.dim);
		n = gen_node(z, op, 1, &dims, 1);
		c->shape = (ir_shape){1, {1}};
	} else {
		n = gen_node(z, op, 0, NULL, 1);
	}
	ir_attr *a = ir_set_attr(z->g, n, "value", IR_ATTR_TENSOR);
	a->t = nn_alloc(z->g->arena, sizeof *a->t);
	*a->t = (ir_tensor){IR_F32, c->shape, c->data};
	return gen_finish(z, n);
}

static bool
gen_cast(gen *z, ir_op op)
{
	static const ir_dtype to[] = {IR_F32, IR_F64, IR_F16, IR_BF16, IR_I32,
				      IR_I64, IR_I8, IR_U8, IR_BOOL, IR_I16,
				      IR_U16, IR_U32, IR_U64};
	ir_dtype t = to[gen_byte(z->s) % NELEM(to)];
	ir_value *x = gen_pick(z, GEN_ANY | (t == IR_F32 || t == IR_F64 ? 0
			       : GEN_EXACT), 0, 4);
	if (!x)
		return false;
	ir_node *n = gen_node(z, op, 1, &x, 1);
	gen_attr_int(z, n, "to", t);
	return gen_finish(z, n);
}

static bool
gen_resize(gen *z, ir_op op)
{
	static const char *const modes[] = {"nearest", "linear", "cubic"};
	static const char *const ctm[] = {"half_pixel", "asymmetric",
		"align_corners", "pytorch_half_pixel", "tf_crop_and_resize"};
	static const char *const nm[] = {"round_prefer_floor",
		"round_prefer_ceil", "floor", "ceil"};
	ir_value *x = gen_pick(z, GEN_F32, 3, 4);
	if (!x)
		return false;
	int r = x->shape.rank;
	ir_shape ss = {1, {r}};
	ir_value *sc = ir_add_const(z->g, NULL, IR_F32, &ss, NULL);
	for (int i = 0; i < r; i++)
		((float *)sc->data)[i] = i < 2 ? 1.0f : (float)gen_int(z->s, 1,
			6) * 0.5f;
	ir_const_facts(sc);
	ir_value *in[3] = {x, NULL, sc};
	ir_node *n = gen_node(z, op, 3, in, 1);
	gen_attr_str(z, n, "mode", modes[gen_byte(z->s) % 3]);
	const char *c = ctm[gen_byte(z->s) % 4];
	gen_attr_str(z, n, "coordinate_transformation_mode", c);
	gen_attr_str(z, n, "nearest_mode", nm[gen_byte(z->s) % 4]);
	return gen_finish(z, n);
}

static bool
gen_nary(gen *z, ir_op op)
{
	bool logic = op == OP_And || op == OP_Or || op == OP_Xor ||
		     op == OP_Not;
	bool jump = !logic && op != OP_Max && op != OP_Min && op != OP_Sum &&
		    op != OP_Mean && op != OP_Where;
	ir_value *x = gen_pick(z, (logic ? GEN_BOOL : op == OP_Mean ? GEN_FLOAT
			       : GEN_NUM) | (jump ? GEN_EXACT : 0), 0, 4);
	if (!x)
		return false;
	if (op == OP_Not)
		return one(z, op, x);
	if (op == OP_Where) {
		ir_value *c = gen_pick(z, GEN_BOOL, 0, 4);
		ir_value *in[3] = {c, x, gen_partner(z, x)};
		return c && gen_finish(z, gen_node(z, op, 3, in, 1));
	}
	bool var = op == OP_Max || op == OP_Min || op == OP_Sum ||
		   op == OP_Mean;
	int k = var ? gen_int(z->s, 1, 3) : 2;
	ir_value *in[3] = {x, NULL, NULL};
	for (int i = 1; i < k; i++)
		in[i] = gen_partner(z, x);
	if (jump && !gen_exact(in[1]))
		return false;
	if (op == OP_Mod) { /* a divisor without zeros */
		ir_shape s = in[1]->shape;
		in[1] = gen_const(z, x->dtype, &s);
		for (int64_t i = 0; i < ir_shape_numel(&s); i++)
			if (ir_load_f64(in[1]->data, x->dtype, i) == 0)
				ir_store_f64(in[1]->data, x->dtype, i, 2);
		ir_const_facts(in[1]);
	}
	ir_node *n = gen_node(z, op, k, in, 1);
	if (op == OP_Mod && (ir_dtype_is_float(x->dtype) ||
			     gen_chance(z->s, 50)))
		gen_attr_int(z, n, "fmod", 1);
	return gen_finish(z, n);
}

static bool
gen_expand(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, op == OP_Range ? GEN_NUM : GEN_ANY,
			       op == OP_DepthToSpace || op == OP_SpaceToDepth
			       ? 4 : op == OP_Trilu ? 2 : 0, 4);
	if (!x)
		return false;
	int r = x->shape.rank;
	int64_t v[IR_MAX_RANK];
	ir_value *in[3] = {x, NULL, NULL};
	int nin = 1;
	switch (op) {
	case OP_Expand:
		for (int i = 0; i < r; i++)
			v[i] = x->shape.dim[i] == 1 ? gen_int(z->s, 1, 3) : 1;
		in[1] = gen_ints(z, r, v);
		nin = 2;
		break;
	case OP_Tile:
		for (int i = 0; i < r; i++)
			v[i] = gen_int(z->s, 1, 2);
		in[1] = gen_ints(z, r, v);
		nin = 2;
		break;
	case OP_Range: {
		ir_dtype t = gen_chance(z->s, 50) ? IR_F32 : IR_I64;
		double d = gen_int(z->s, 1, 3) * (gen_chance(z->s, 30) ? -1 : 1);
		in[0] = gen_scalar(z, t, gen_int(z->s, -4, 4));
		in[1] = gen_scalar(z, t, gen_int(z->s, -8, 8));
		in[2] = gen_scalar(z, t, d);
		nin = 3;
		break;
	}
	case OP_Trilu:
		if (gen_chance(z->s, 50)) {
			in[1] = gen_scalar(z, IR_I64, gen_int(z->s, -2, 2));
			nin = 2;
		}
		break;
	default:
		break;
	}
	ir_node *n = gen_node(z, op, nin, in, 1);
	if (op == OP_DepthToSpace || op == OP_SpaceToDepth)
		gen_attr_int(z, n, "blocksize", gen_int(z->s, 1, 2));
	if (op == OP_DepthToSpace && gen_chance(z->s, 50))
		gen_attr_str(z, n, "mode", "CRD");
	if (op == OP_Trilu && gen_chance(z->s, 50))
		gen_attr_int(z, n, "upper", 0);
	return gen_finish(z, n);
}

/* ScatterElements: distinct positions along the axis, one index per
 * slot, some of them negative. */
static bool
gen_scatter_elements(gen *z, ir_value *x)
{
	int r = x->shape.rank;
	int a = (int)axis(z, r), a0 = a < 0 ? a + r : a;
	ir_shape is = x->shape;
	int64_t dax = x->shape.dim[a0], st = 1;
	int64_t first = gen_int(z->s, 0, (int)dax - 1);
	is.dim[a0] = gen_int(z->s, 1, (int)dax);
	for (int k = a0 + 1; k < r; k++)
		st *= is.dim[k];
	ir_value *ix = ir_add_const(z->g, NULL, IR_I64, &is, NULL);
	for (int64_t i = 0; i < ir_shape_numel(&is); i++)
		((int64_t *)ix->data)[i] = (first + i / st % is.dim[a0]) %
			dax - (gen_chance(z->s, 30) ? dax : 0);
	ir_const_facts(ix);
	ir_value *in[3] = {x, ix, gen_const(z, x->dtype, &is)};
	ir_node *n = gen_node(z, OP_ScatterElements, 3, in, 1);
	static const char *const red[] = {"none", "add", "mul"};
	gen_attr_int(z, n, "axis", a);
	if (gen_chance(z->s, 40))
		gen_attr_str(z, n, "reduction", red[gen_byte(z->s) % 3]);
	return gen_finish(z, n);
}

/* GatherND: b batch dims, tuples of k over the next axes. */
static bool
gen_gather_nd(gen *z, ir_value *x)
{
	int r = x->shape.rank;
	int b = gen_int(z->s, 0, r - 1), k = gen_int(z->s, 1, r - b);
	ir_shape is = {b + 2, {0}};
	for (int i = 0; i < b; i++)
		is.dim[i] = x->shape.dim[i];
	is.dim[b] = gen_int(z->s, 1, 3);
	is.dim[b + 1] = k;
	ir_value *ix = ir_add_const(z->g, NULL, IR_I64, &is, NULL);
	for (int64_t i = 0; i < ir_shape_numel(&is); i++) {
		int dk = (int)x->shape.dim[b + i % k];
		((int64_t *)ix->data)[i] = gen_int(z->s, -dk, dk - 1);
	}
	ir_const_facts(ix);
	ir_value *in[2] = {x, ix};
	ir_node *n = gen_node(z, OP_GatherND, 2, in, 1);
	if (b)
		gen_attr_int(z, n, "batch_dims", b);
	return gen_finish(z, n);
}

static bool
gen_scatter(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_NUM, 1, 3);
	if (!x || ir_shape_numel(&x->shape) == 0)
		return false;
	int r = x->shape.rank;
	if (op == OP_GatherElements) {
		int a = (int)axis(z, r), a0 = a < 0 ? a + r : a;
		ir_shape is = x->shape;
		is.dim[a0] = gen_int(z->s, 1, 4);
		ir_value *ix = ir_add_const(z->g, NULL, IR_I64, &is, NULL);
		for (int64_t i = 0; i < ir_shape_numel(&is); i++)
			((int64_t *)ix->data)[i] = gen_int(z->s,
				-(int)x->shape.dim[a0], (int)x->shape.dim[a0] - 1);
		ir_const_facts(ix);
		ir_value *in[2] = {x, ix};
		ir_node *n = gen_node(z, op, 2, in, 1);
		gen_attr_int(z, n, "axis", a);
		return gen_finish(z, n);
	}
	if (op == OP_ScatterElements)
		return gen_scatter_elements(z, x);
	if (op == OP_GatherND)
		return gen_gather_nd(z, x);
	/* ScatterND: distinct rows of the first dim (k = 1) */
	int64_t d0 = x->shape.dim[0], q = gen_int(z->s, 1, (int)d0);
	ir_shape is = {2, {q, 1}}, us = x->shape;
	us.dim[0] = q;
	ir_value *ix = ir_add_const(z->g, NULL, IR_I64, &is, NULL);
	int64_t first = gen_int(z->s, 0, (int)d0 - 1);
	for (int64_t i = 0; i < q; i++)
		((int64_t *)ix->data)[i] = (first + i) % d0;
	ir_const_facts(ix);
	ir_value *in[3] = {x, ix, gen_const(z, x->dtype, &us)};
	ir_node *n = gen_node(z, op, 3, in, 1);
	static const char *const red[] = {"none", "add", "mul", "max", "min"};
	if (gen_chance(z->s, 40))
		gen_attr_str(z, n, "reduction", red[gen_byte(z->s) % 5]);
	return gen_finish(z, n);
}

/* LSTM, GRU, RNN over a [seq, batch, input] value (layout 0) or
 * [batch, seq, input] (layout 1): every direction, optional bias,
 * sequence lengths, initial states and peepholes, clip, GRU's
 * linear_before_reset, LSTM's input_forget, and activations from the
 * spec's list. */
static bool
gen_rnn(gen *z, ir_op op)
{
	static const char *const dirs[] = {"forward", "reverse",
					   "bidirectional"};
	static const char *const fns[] = {"Sigmoid", "Tanh", "Relu",
		"HardSigmoid", "LeakyRelu", "Softsign", "Softplus", "Elu",
		"ThresholdedRelu", "ScaledTanh", "Affine"};
	ir_value *x = gen_pick(z, GEN_F32, 3, 3);
	if (!x)
		return false;
	int layout = gen_chance(z->s, 25), dir = gen_int(z->s, 0, 2);
	int64_t g = op == OP_LSTM ? 4 : op == OP_GRU ? 3 : 1;
	int64_t d = dir == 2 ? 2 : 1, h = gen_int(z->s, 1, 4);
	int64_t seq = x->shape.dim[layout], b = x->shape.dim[1 - layout];
	int64_t in = x->shape.dim[2];
	ir_shape ws = {3, {d, g * h, in}}, rs = {3, {d, g * h, h}};
	ir_shape bs = {2, {d, 2 * g * h}}, ls = {1, {b}}, ps = {2, {d, 3 * h}};
	ir_shape hs = {3, {layout ? b : d, layout ? d : b, h}};
	ir_value *v[8] = {x, gen_const(z, IR_F32, &ws),
			  gen_const(z, IR_F32, &rs)};
	if (gen_chance(z->s, 60))
		v[3] = gen_const(z, IR_F32, &bs);
	if (gen_chance(z->s, 30) && seq > 0) {
		v[4] = ir_add_const(z->g, NULL, IR_I32, &ls, NULL);
		for (int64_t i = 0; i < b; i++)
			((int32_t *)v[4]->data)[i] = gen_int(z->s, 0,
							     (int)seq);
		ir_const_facts(v[4]);
	}
	if (gen_chance(z->s, 30))
		v[5] = gen_const(z, IR_F32, &hs);
	if (op == OP_LSTM && gen_chance(z->s, 30))
		v[6] = gen_const(z, IR_F32, &hs);
	if (op == OP_LSTM && gen_chance(z->s, 30))
		v[7] = gen_const(z, IR_F32, &ps);
	int nin = op == OP_LSTM ? 8 : 6;
	while (nin > 3 && !v[nin - 1])
		nin--;
	ir_node *n = gen_node(z, op, nin, v, op == OP_LSTM ? 3 : 2);
	gen_attr_int(z, n, "hidden_size", h);
	if (dir || gen_chance(z->s, 30))
		gen_attr_str(z, n, "direction", dirs[dir]);
	if (layout)
		gen_attr_int(z, n, "layout", 1);
	if (gen_chance(z->s, 20))
		gen_attr_float(z, n, "clip", 0.25 + 2 * (gen_float(z->s) + 1));
	if (op == OP_GRU && gen_chance(z->s, 50))
		gen_attr_int(z, n, "linear_before_reset", 1);
	if (op == OP_LSTM && gen_chance(z->s, 20))
		gen_attr_int(z, n, "input_forget", 1);
	if (gen_chance(z->s, 25)) {
		int k = (int)(d * (op == OP_LSTM ? 3 : op == OP_GRU ? 2 : 1));
		const char *a[6];
		for (int i = 0; i < k; i++)
			a[i] = fns[gen_byte(z->s) % NELEM(fns)];
		gen_attr_strs(z, n, "activations", k, a);
	}
	return gen_finish(z, n);
}

/* MaxUnpool: kernel = stride = 2, one index per window. */
static bool
gen_maxunpool(gen *z, ir_value *x)
{
	int r = x->shape.rank, sp = r - 2;
	ir_value *in[2] = {x, NULL};
	int64_t k[4] = {2, 2, 2, 2}, w[IR_MAX_RANK];
	ir_shape os = x->shape;
	for (int i = 0; i < sp; i++)
		os.dim[2 + i] = 2 * x->shape.dim[2 + i];
	in[1] = ir_add_const(z->g, NULL, IR_I64, &x->shape, NULL);
	for (int64_t q = 0; q < ir_shape_numel(&x->shape); q++) {
		int64_t rem = q, off = 0, st = 1;
		for (int i = r - 1; i >= 0; i--) {
			w[i] = rem % x->shape.dim[i];
			rem /= x->shape.dim[i];
		}
		for (int i = r - 1; i >= 0; i--) {
			int64_t c = i >= 2 ? 2 * w[i] + gen_int(z->s, 0, 1)
				    : w[i];
			off += c * st;
			st *= os.dim[i];
		}
		((int64_t *)in[1]->data)[q] = off;
	}
	ir_const_facts(in[1]);
	ir_node *n = gen_node(z, OP_MaxUnpool, 2, in, 1);
	gen_attr_ints(z, n, "kernel_shape", sp, k);
	gen_attr_ints(z, n, "strides", sp, k);
	return gen_finish(z, n);
}

/* The index kind: constant parameters (axis, depth, K, lengths,
 * condition, unpooling indices) made valid here. */
static bool
gen_index(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, op == OP_TopK ? GEN_NUM | GEN_EXACT
			       : op == OP_OneHot ? GEN_INT : op == OP_MaxUnpool
			       ? GEN_F32 : GEN_NUM, op == OP_ReverseSequence
			       ? 2 : op == OP_MaxUnpool ? 3 : 1,
			       op == OP_MaxUnpool ? 4 : 3);
	if (!x || ir_shape_numel(&x->shape) == 0)
		return false;
	int r = x->shape.rank, a = (int)axis(z, r), a0 = a < 0 ? a + r : a;
	ir_value *in[3] = {x, NULL, NULL};
	int nin = 2, nout = 1;
	switch (op) {
	case OP_CumSum:
		in[1] = gen_scalar(z, IR_I64, a);
		break;
	case OP_OneHot: {
		ir_shape vs = {1, {2}};
		in[1] = gen_scalar(z, IR_I64, gen_int(z->s, 1, 5));
		in[2] = gen_const(z, gen_chance(z->s, 50) ? IR_F32 : IR_I32,
				  &vs);
		nin = 3;
		break;
	}
	case OP_TopK: {
		/* K >= 1: an empty result feeds ReduceMax of nothing, where
		 * the interpreter and the object disagree (not this op) */
		int64_t k = gen_int(z->s, 1, (int)x->shape.dim[a0]);
		in[1] = gen_ints(z, 1, &k);
		nout = 2;
		break;
	}
	case OP_ReverseSequence: {
		a0 = gen_int(z->s, 0, 1);
		int64_t nb = x->shape.dim[a0], tn = x->shape.dim[1 - a0];
		ir_shape ls = {1, {nb}};
		in[1] = ir_add_const(z->g, NULL, IR_I64, &ls, NULL);
		for (int64_t i = 0; i < nb; i++)
			((int64_t *)in[1]->data)[i] = gen_int(z->s, 0, (int)tn);
		ir_const_facts(in[1]);
		break;
	}
	case OP_Compress: {
		int64_t len = gen_chance(z->s, 30) ? ir_shape_numel(&x->shape)
			      : x->shape.dim[a0];
		ir_shape cs = {1, {gen_int(z->s, 0, (int)len)}};
		in[1] = gen_const(z, IR_BOOL, &cs);
		break;
	}
	default:
		return gen_maxunpool(z, x);
	}
	ir_node *n = gen_node(z, op, nin, in, nout);
	if (op == OP_CumSum && gen_chance(z->s, 50))
		gen_attr_int(z, n, "exclusive", 1);
	if (op == OP_CumSum && gen_chance(z->s, 50))
		gen_attr_int(z, n, "reverse", 1);
	if (op == OP_OneHot && gen_chance(z->s, 60))
		gen_attr_int(z, n, "axis", gen_int(z->s, -r - 1, r));
	if (op == OP_TopK) {
		gen_attr_int(z, n, "axis", a);
		if (gen_chance(z->s, 50))
			gen_attr_int(z, n, "largest", 0);
	}
	if (op == OP_ReverseSequence) {
		gen_attr_int(z, n, "batch_axis", a0);
		gen_attr_int(z, n, "time_axis", 1 - a0);
	}
	if (op == OP_Compress && in[1]->shape.dim[0] <= x->shape.dim[a0] &&
	    gen_chance(z->s, 70))
		gen_attr_int(z, n, "axis", a);
	return gen_finish(z, n);
}

/* BitShift of an unsigned cast of a value by constant amounts up to past
 * the width: an integer one cast to u8/u32/u64 (bits kept), else a float
 * one cast to u8. */
static bool
gen_bitshift(gen *z, ir_op op)
{
	static const ir_dtype ut[] = {IR_U8, IR_U32, IR_U64};
	ir_dtype t = ut[gen_byte(z->s) % NELEM(ut)];
	ir_value *x = gen_pick(z, GEN_INT, 0, 4);
	if (!x) {
		x = gen_pick(z, GEN_NUM | GEN_EXACT, 0, 4);
		t = IR_U8;
	}
	if (!x)
		return false;
	ir_node *c = gen_node(z, OP_Cast, 1, &x, 1);
	gen_attr_int(z, c, "to", t);
	if (!gen_finish(z, c))
		return false;
	ir_shape s = c->out[0]->shape;
	ir_value *in[2] = {c->out[0], gen_const(z, t, &s)};
	int bits = (int)ir_dtype_size(t) * 8;
	for (int64_t i = 0; i < ir_shape_numel(&s); i++)
		ir_store_f64(in[1]->data, t, i, gen_int(z->s, 0, bits + 1));
	ir_const_facts(in[1]);
	ir_node *n = gen_node(z, op, 2, in, 1);
	gen_attr_str(z, n, "direction", gen_chance(z->s, 50) ? "LEFT"
							      : "RIGHT");
	return gen_finish(z, n);
}

/* IsInf, IsNaN, Size, EyeLike and CastLike. */
static bool
gen_math(gen *z, ir_op op)
{
	static const ir_dtype to[] = {IR_F32, IR_F64, IR_F16, IR_I32, IR_I64,
				      IR_U8, IR_BOOL};
	bool fl = op == OP_IsInf || op == OP_IsNaN;
	ir_value *x = gen_pick(z, fl ? GEN_FLOAT | GEN_EXACT : op ==
			       OP_CastLike ? GEN_F32 : GEN_ANY,
			       op == OP_EyeLike ? 2 : 0, op == OP_EyeLike ? 2
			       : 4);
	ir_dtype t = to[gen_byte(z->s) % NELEM(to)];
	if (!x)
		return false;
	if (op == OP_CastLike) {
		ir_shape s1 = {1, {1}};
		ir_value *in[2] = {x, gen_const(z, t, &s1)};
		return gen_finish(z, gen_node(z, op, 2, in, 1));
	}
	ir_node *n = gen_node(z, op, 1, &x, 1);
	if (op == OP_IsInf && gen_chance(z->s, 40))
		gen_attr_int(z, n, gen_chance(z->s, 50) ? "detect_negative"
			     : "detect_positive", 0);
	if (op == OP_EyeLike) {
		gen_attr_int(z, n, "k", gen_int(z->s, -3, 3));
		if (gen_chance(z->s, 50))
			gen_attr_int(z, n, "dtype", t);
	}
	return gen_finish(z, n);
}

/* Det of a value whose last two dims are equal (exact inputs: the
 * determinant amplifies rounding differences). */
static bool
gen_det(gen *z, ir_op op)
{
	ir_value *x = gen_pick(z, GEN_FLOAT | GEN_EXACT, 2, 4);
	int r = x ? x->shape.rank : 0;
	if (!x || x->shape.dim[r - 1] != x->shape.dim[r - 2])
		return false;
	return one(z, op, x);
}

/* ------------------------------------------------------------------ */
/* Control flow: small subgraphs over one captured pool value. */

/* A subgraph of z->g whose own inputs are types t[0..nown-1] and whose
 * one captured input has x's type; *cap is that input. */
static ir_graph *
sub_new(gen *z, const char *name, int nown, const ir_dtype *t,
	const ir_shape *s, const ir_value *x, ir_value **cap)
{
	ir_graph *g = ir_subgraph_new(z->g, name);
	for (int i = 0; i < nown; i++)
		ir_add_input(g, NULL, t[i], &s[i]);
	*cap = ir_add_input(g, NULL, x->dtype, &x->shape);
	g->ncaptured = 1;
	return g;
}

static ir_value *
sub_node(ir_graph *g, ir_op op, ir_value *a, ir_value *b)
{
	ir_value *in[2] = {a, b};
	return ir_add_node(g, op, NULL, b ? 2 : 1, in, 1)->out[0];
}

static ir_value *
sub_scalar(ir_graph *g, ir_dtype t, double v)
{
	ir_shape s = {0};
	ir_value *c = ir_add_const(g, NULL, t, &s, NULL);
	ir_store_f64(c->data, t, 0, v);
	ir_const_facts(c);
	return c;
}

static void
set_graph(gen *z, ir_node *n, const char *name, ir_graph *g)
{
	ir_set_attr(z->g, n, name, IR_ATTR_GRAPH)->g = g;
}

/* The sum of x's elements compared with 0: a run-time condition. */
static ir_value *
gen_cond(gen *z, ir_value *x)
{
	ir_node *r = gen_node(z, OP_ReduceSum, 1, &x, 1);
	gen_attr_int(z, r, "keepdims", 0);
	if (!gen_finish(z, r))
		return NULL;
	ir_value *in[2] = {r->out[0], gen_scalar(z, x->dtype, 0)};
	ir_node *c = gen_node(z, OP_Greater, 2, in, 1);
	return gen_finish(z, c) ? c->out[0] : NULL;
}

/* If: a condition known (inlined) or computed; branches of one unary op
 * each on the captured value. Loop: v = v * 0.5 + x for a constant count,
 * stopping early (a run-time loop) when asked, with a scan output when
 * the count is static. Scan: a running sum over x's slices along an
 * axis, either direction. */
static bool
gen_control(gen *z, ir_op op)
{
	static const ir_op un[] = {OP_Neg, OP_Tanh, OP_Abs, OP_Sigmoid,
				   OP_Relu, OP_Exp};
	ir_value *x = gen_pick(z, GEN_F32, 0, 3);
	if (!x)
		return false;
	ir_value *cap;
	if (op == OP_If) {
		ir_value *c = gen_chance(z->s, 25)
			? gen_scalar(z, IR_BOOL, gen_chance(z->s, 50))
			: gen_cond(z, x);
		if (!c)
			return false;
		ir_graph *t = sub_new(z, "then", 0, NULL, NULL, x, &cap);
		ir_add_output(t, sub_node(t, un[gen_byte(z->s) % NELEM(un)],
					  cap, NULL));
		ir_graph *e = sub_new(z, "else", 0, NULL, NULL, x, &cap);
		ir_add_output(e, sub_node(e, un[gen_byte(z->s) % NELEM(un)],
					  cap, NULL));
		ir_value *in[2] = {c, x};
		ir_node *n = gen_node(z, OP_If, 2, in, 1);
		set_graph(z, n, "then_branch", t);
		set_graph(z, n, "else_branch", e);
		return gen_finish(z, n);
	}
	if (op == OP_Loop) {
		bool early = gen_chance(z->s, 50), scan = !early &&
						       gen_chance(z->s, 60);
		ir_dtype t[3] = {IR_I64, IR_BOOL, IR_F32};
		ir_shape s[3] = {{0}, {0}, x->shape};
		ir_graph *b = sub_new(z, "body", 3, t, s, x, &cap);
		ir_value *v = sub_node(b, OP_Mul, b->inputs[2],
				       sub_scalar(b, IR_F32, 0.5));
		v = sub_node(b, OP_Add, v, cap);
		ir_value *c = b->inputs[1];
		if (early) {
			ir_value *r = sub_node(b, OP_ReduceSum, v, NULL);
			ir_set_attr(z->g, r->def, "keepdims", IR_ATTR_INT)->i = 0;
			c = sub_node(b, OP_Less, r, sub_scalar(b, IR_F32,
				4 * gen_float(z->s)));
		}
		ir_add_output(b, sub_node(b, OP_Identity, c, NULL));
		ir_add_output(b, v);
		if (scan)
			ir_add_output(b, v);
		ir_value *in[4] = {gen_scalar(z, IR_I64, gen_int(z->s, 0, 6)),
				   gen_scalar(z, IR_BOOL, 1), x, x};
		ir_node *n = gen_node(z, OP_Loop, 4, in, scan ? 2 : 1);
		set_graph(z, n, "body", b);
		return gen_finish(z, n);
	}
	if (x->shape.rank < 1)
		return false;
	int ax = gen_int(z->s, 0, x->shape.rank - 1);
	ir_dtype t[2] = {IR_F32, IR_F32};
	ir_shape sl = x->shape;
	sl.rank--;
	memmove(sl.dim + ax, sl.dim + ax + 1,
		sizeof(int64_t) * (size_t)(sl.rank - ax));
	ir_shape s[2] = {sl, sl};
	ir_graph *b = sub_new(z, "body", 2, t, s, x, &cap);
	ir_value *h = sub_node(b, OP_Add, b->inputs[0], b->inputs[1]);
	ir_add_output(b, h);
	ir_add_output(b, sub_node(b, OP_Tanh, h, NULL));
	ir_value *in[3] = {gen_const(z, IR_F32, &sl), x, x};
	ir_node *n = gen_node(z, OP_Scan, 3, in, 2);
	set_graph(z, n, "body", b);
	gen_attr_int(z, n, "num_scan_inputs", 1);
	int64_t axes[1] = {ax}, dir[1] = {gen_chance(z->s, 50)};
	gen_attr_ints(z, n, "scan_input_axes", 1, axes);
	gen_attr_ints(z, n, "scan_input_directions", 1, dir);
	axes[0] = gen_int(z->s, 0, sl.rank);
	dir[0] = gen_chance(z->s, 50);
	gen_attr_ints(z, n, "scan_output_axes", 1, axes);
	gen_attr_ints(z, n, "scan_output_directions", 1, dir);
	return gen_finish(z, n);
}

#define UN(op) [OP_##op] = gen_unary
#define BIN(op) [OP_##op] = gen_binary
#define NA(op) [OP_##op] = gen_nary
const gen_op_fn gen_ops[IR_NOPS] = {
	UN(Abs), UN(Clip), UN(Erf), UN(Exp), UN(HardSigmoid), UN(HardSwish),
	UN(LeakyRelu), UN(Log), UN(Neg), UN(Reciprocal), UN(Relu),
	UN(Sigmoid), UN(Sqrt), UN(Tanh), UN(Ceil), UN(Celu), UN(Cos),
	UN(Elu), UN(Floor), UN(Round), UN(Selu), UN(Sign), UN(Sin),
	UN(Softplus), UN(Softsign), UN(ThresholdedRelu),
	UN(Acos), UN(Acosh), UN(Asin), UN(Asinh), UN(Atan), UN(Atanh),
	UN(Cosh), UN(Sinh), UN(Tan), UN(Shrink), UN(Silu), UN(Gelu),
	UN(GeluTanh),
	[OP_BitShift] = gen_bitshift, [OP_IsInf] = gen_math,
	[OP_IsNaN] = gen_math, [OP_Size] = gen_math, [OP_EyeLike] = gen_math,
	[OP_CastLike] = gen_math, [OP_Det] = gen_det,
	BIN(Add), BIN(Div), BIN(Mul), BIN(Pow), BIN(PRelu), BIN(Sub),
	[OP_Conv] = gen_conv, [OP_ConvTranspose] = gen_conv,
	[OP_Gemm] = gen_gemm, [OP_MatMul] = gen_gemm,
	[OP_AveragePool] = gen_pool, [OP_GlobalAveragePool] = gen_pool,
	[OP_GlobalMaxPool] = gen_pool, [OP_MaxPool] = gen_pool,
	[OP_BatchNormalization] = gen_norm,
	[OP_LayerNormalization] = gen_norm,
	[OP_LogSoftmax] = gen_softmax, [OP_Softmax] = gen_softmax,
	[OP_Hardmax] = gen_softmax, [OP_ReduceLogSum] = gen_reduce,
	[OP_ArgMax] = gen_reduce, [OP_ReduceMax] = gen_reduce,
	[OP_ReduceMean] = gen_reduce, [OP_ReduceSum] = gen_reduce,
	[OP_ArgMin] = gen_reduce, [OP_ReduceL1] = gen_reduce,
	[OP_ReduceL2] = gen_reduce, [OP_ReduceLogSumExp] = gen_reduce,
	[OP_ReduceMin] = gen_reduce, [OP_ReduceProd] = gen_reduce,
	[OP_ReduceSumSquare] = gen_reduce,
	[OP_Dropout] = gen_reshape, [OP_Flatten] = gen_reshape,
	[OP_Identity] = gen_reshape, [OP_Reshape] = gen_reshape,
	[OP_Squeeze] = gen_reshape, [OP_Unsqueeze] = gen_reshape,
	[OP_Transpose] = gen_transpose, [OP_Concat] = gen_concat,
	[OP_Split] = gen_split, [OP_Slice] = gen_slice,
	[OP_Gather] = gen_gather, [OP_Pad] = gen_pad,
	[OP_Shape] = gen_shape_op, [OP_Constant] = gen_constant,
	[OP_ConstantOfShape] = gen_constant, [OP_Cast] = gen_cast,
	[OP_Resize] = gen_resize,
	NA(And), NA(Equal), NA(Greater), NA(GreaterOrEqual), NA(Less),
	NA(LessOrEqual), NA(Max), NA(Mean), NA(Min), NA(Mod), NA(Not),
	NA(Or), NA(Sum), NA(Where), NA(Xor),
	[OP_DepthToSpace] = gen_expand, [OP_Expand] = gen_expand,
	[OP_Range] = gen_expand, [OP_SpaceToDepth] = gen_expand,
	[OP_Tile] = gen_expand, [OP_Trilu] = gen_expand,
	[OP_GatherElements] = gen_scatter, [OP_ScatterND] = gen_scatter,
	[OP_GatherND] = gen_scatter, [OP_ScatterElements] = gen_scatter,
	[OP_CumSum] = gen_index, [OP_OneHot] = gen_index,
	[OP_TopK] = gen_index, [OP_ReverseSequence] = gen_index,
	[OP_Compress] = gen_index, [OP_MaxUnpool] = gen_index,
	[OP_FusedConv] = gen_gemm, [OP_FusedGemm] = gen_gemm,
	[OP_GRU] = gen_rnn, [OP_LSTM] = gen_rnn, [OP_RNN] = gen_rnn,
	/* issue 11 section 4 (gen_signal.c) */
	[OP_BlackmanWindow] = gen_signal, [OP_HammingWindow] = gen_signal,
	[OP_HannWindow] = gen_signal, [OP_MelWeightMatrix] = gen_signal,
	[OP_DFT] = gen_signal, [OP_STFT] = gen_signal,
	[OP_NegativeLogLikelihoodLoss] = gen_loss,
	[OP_SoftmaxCrossEntropyLoss] = gen_loss,
	[OP_InstanceNormalization] = gen_norm2, [OP_LRN] = gen_norm2,
	[OP_MeanVarianceNormalization] = gen_norm2,
	[OP_GridSample] = gen_sample, [OP_RoiAlign] = gen_sample,
	[OP_If] = gen_control, [OP_Loop] = gen_control,
	[OP_Scan] = gen_control,
};

const gen_skip gen_skipped[] = {
	{IR_NOPS, NULL}, /* ends the table */
};
const int gen_nskipped = NELEM(gen_skipped) - 1;
