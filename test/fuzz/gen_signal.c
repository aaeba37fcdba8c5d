/* Generators of the signal and loss ops (issue 11 section 4): windows and
 * MelWeightMatrix of constant scalars, DFT and STFT over real [..., 1]
 * views of pool values, and the losses with constant targets. */
#include "gen.h"

/* x with a trailing axis of 1 (an Unsqueeze node), or NULL. */
static ir_value *
real_view(gen *z, ir_value *x)
{
	int64_t ax = -1;
	ir_value *in[2] = {x, gen_ints(z, 1, &ax)};
	ir_node *n = gen_node(z, OP_Unsqueeze, 2, in, 1);
	return gen_finish(z, n) ? n->out[0] : NULL;
}

static bool
gen_dft(gen *z)
{
	ir_value *x = gen_pick(z, GEN_F32, 1, 3);
	if (!x || x->shape.rank < 1 || ir_shape_numel(&x->shape) == 0)
		return false;
	int r = x->shape.rank;
	if (!(x = real_view(z, x)))
		return false;
	int64_t ax = gen_int(z->s, r == 1 ? 0 : 1, r - 1);
	ir_value *in[2] = {x, NULL};
	if (gen_chance(z->s, 30))
		in[1] = gen_scalar(z, IR_I64, gen_int(z->s, 1, 9));
	ir_node *n = gen_node(z, OP_DFT, 2, in, 1);
	gen_attr_int(z, n, "axis", gen_chance(z->s, 30) ? ax - r - 1 : ax);
	if (gen_chance(z->s, 30))
		gen_attr_int(z, n, "inverse", 1);
	if (gen_chance(z->s, 30))
		gen_attr_int(z, n, "onesided", 1);
	return gen_finish(z, n);
}

static bool
gen_stft(gen *z)
{
	ir_value *x = gen_pick(z, GEN_F32, 2, 2);
	if (!x || ir_shape_numel(&x->shape) == 0 || !(x = real_view(z, x)))
		return false;
	int len = (int)x->shape.dim[1], fl = gen_int(z->s, 1, len);
	ir_value *in[4] = {x, gen_scalar(z, IR_I64, gen_int(z->s, 1, 3)),
			   NULL, NULL};
	if (gen_chance(z->s, 50)) {
		ir_shape ws = {1, {fl}};
		in[2] = gen_const(z, IR_F32, &ws);
	} else {
		in[3] = gen_scalar(z, IR_I64, fl);
	}
	ir_node *n = gen_node(z, OP_STFT, 4, in, 1);
	if (gen_chance(z->s, 30))
		gen_attr_int(z, n, "onesided", 0);
	return gen_finish(z, n);
}

bool
gen_signal(gen *z, ir_op op)
{
	ir_node *n;
	if (op == OP_DFT)
		return gen_dft(z);
	if (op == OP_STFT)
		return gen_stft(z);
	if (op == OP_MelWeightMatrix) {
		ir_value *in[5] = {
			gen_scalar(z, IR_I64, gen_int(z->s, 1, 8)),
			gen_scalar(z, IR_I64, gen_int(z->s, 4, 32)),
			gen_scalar(z, IR_I64, 8000),
			gen_scalar(z, IR_F32, gen_int(z->s, 0, 100)),
			gen_scalar(z, IR_F32, 4000)};
		n = gen_node(z, op, 5, in, 1);
	} else {
		ir_value *in[1] = {gen_scalar(z, IR_I64, gen_int(z->s, 1, 16))};
		n = gen_node(z, op, 1, in, 1);
		if (gen_chance(z->s, 50))
			gen_attr_int(z, n, "periodic", 0);
	}
	return gen_finish(z, n);
}

bool
gen_loss(gen *z, ir_op op)
{
	static const char *const red[] = {"none", "sum", "mean"};
	ir_value *x = gen_pick(z, GEN_F32, 2, 4);
	if (!x || ir_shape_numel(&x->shape) == 0)
		return false;
	int64_t c = x->shape.dim[1], ii = gen_int(z->s, -1, (int)c);
	ir_shape ts = x->shape, ws = {1, {c}};
	ts.rank--;
	for (int k = 1; k < ts.rank; k++)
		ts.dim[k] = x->shape.dim[k + 1];
	ir_value *t = ir_add_const(z->g, NULL, IR_I64, &ts, NULL);
	for (int64_t i = 0; i < ir_shape_numel(&ts); i++)
		((int64_t *)t->data)[i] = gen_chance(z->s, 20) ? ii
					  : gen_int(z->s, 0, (int)c - 1);
	ir_const_facts(t);
	ir_value *in[3] = {x, t, gen_chance(z->s, 50) ? gen_const(z, IR_F32,
								   &ws) : NULL};
	int nout = op == OP_SoftmaxCrossEntropyLoss && gen_chance(z->s, 50)
		   ? 2 : 1;
	ir_node *n = gen_node(z, op, 3, in, nout);
	gen_attr_str(z, n, "reduction", red[gen_byte(z->s) % 3]);
	if (gen_chance(z->s, 70))
		gen_attr_int(z, n, "ignore_index", ii);
	return gen_finish(z, n);
}
