/* The op table expanded from ops.def, and the per-kind hook table. */
#include <string.h>

#include "ir.h"

/* The FLAGS column's names, only while ops.def expands. */
#define INT IR_OPF_INT
#define ACT IR_OPF_ACT
#define VACT IR_OPF_VACT
#define NOOP IR_OPF_NOOP
#define CHECKS IR_OPF_CHECKS
const ir_op_info ir_ops[IR_NOPS] = {
#define OP(id, nm, mi, ma, mo, mx, k, fl, w, os) \
	[OP_##id] = {.name = nm, .min_in = mi, .max_in = ma, .min_out = mo, \
		     .max_out = mx, .kind = IR_KIND_##k, .flags = (fl), \
		     .weight = IR_W_##w, .opset = os},
#include "ops.def"
#undef OP
};
#undef INT
#undef ACT
#undef VACT
#undef NOOP
#undef CHECKS

const ir_kind_hooks ir_kinds[IR_NKINDS] = {
	[IR_KIND_UNARY] = {ir_shape_unary, ir_eval_unary, "unary"},
	[IR_KIND_BINARY] = {ir_shape_binary, ir_eval_binary, "binary"},
	[IR_KIND_CONV] = {ir_shape_conv, ir_eval_conv, "conv"},
	[IR_KIND_GEMM] = {ir_shape_gemm, ir_eval_gemm, "gemm"},
	[IR_KIND_POOL] = {ir_shape_pool, ir_eval_pool, "pool"},
	[IR_KIND_NORM] = {ir_shape_norm, ir_eval_norm, "norm"},
	[IR_KIND_SOFTMAX] = {ir_shape_softmax, ir_eval_softmax, "softmax"},
	[IR_KIND_REDUCE] = {ir_shape_reduce, ir_eval_reduce, "reduce"},
	[IR_KIND_RESHAPE] = {ir_shape_reshape, ir_eval_reshape, "reshape"},
	[IR_KIND_TRANSPOSE] = {ir_shape_transpose, ir_eval_transpose, "transpose"},
	[IR_KIND_CONCAT] = {ir_shape_concat, ir_eval_concat, "concat"},
	[IR_KIND_SPLIT] = {ir_shape_split, ir_eval_split, "split"},
	[IR_KIND_SLICE] = {ir_shape_slice, ir_eval_slice, "slice"},
	[IR_KIND_GATHER] = {ir_shape_gather, ir_eval_gather, "gather"},
	[IR_KIND_PAD] = {ir_shape_pad, ir_eval_pad, "pad"},
	[IR_KIND_SHAPE] = {ir_shape_shape, ir_eval_shape, "shape"},
	[IR_KIND_CONSTANT] = {ir_shape_constant, ir_eval_constant, "constant"},
	[IR_KIND_CAST] = {ir_shape_cast, ir_eval_cast, "cast"},
	[IR_KIND_RESIZE] = {ir_shape_resize, ir_eval_resize, "resize"},
	[IR_KIND_FUSED] = {ir_shape_fused, ir_eval_fused, "fused"},
	[IR_KIND_NARY] = {ir_shape_nary, ir_eval_nary, "nary"},
	[IR_KIND_EXPAND] = {ir_shape_expand, ir_eval_expand, "expand"},
	[IR_KIND_SCATTER] = {ir_shape_scatter, ir_eval_scatter, "scatter"},
	[IR_KIND_RNN] = {ir_shape_rnn, ir_eval_rnn, "rnn"},
	[IR_KIND_SIGNAL] = {ir_shape_signal, ir_eval_signal, "signal"},
	[IR_KIND_LOSS] = {ir_shape_loss, ir_eval_loss, "loss"},
	[IR_KIND_INDEX] = {ir_shape_index, ir_eval_index, "index"},
	[IR_KIND_LINALG] = {ir_shape_linalg, ir_eval_linalg, "linalg"},
	[IR_KIND_SAMPLE] = {ir_shape_sample, ir_eval_sample, "sample"},
	[IR_KIND_CONTROL] = {ir_shape_control, ir_eval_control, "control"},
};

ir_op
ir_op_lookup(const char *name)
{
	for (int i = 0; i < IR_NOPS; i++)
		if (strcmp(ir_ops[i].name, name) == 0)
			return (ir_op)i;
	return IR_NOPS;
}

const char *
ir_opf_name(unsigned f)
{
	switch (f) {
	case IR_OPF_INT: return "int";
	case IR_OPF_ACT: return "act";
	case IR_OPF_VACT: return "vact";
	case IR_OPF_NOOP: return "noop";
	case IR_OPF_CHECKS: return "checks";
	default: return NULL;
	}
}

bool
ir_op_has(ir_op op, unsigned f)
{
	NN_ASSERT(op >= 0 && op < IR_NOPS);
	return (ir_ops[op].flags & f) == f;
}

/* nncc's fused ops and the base op each runs (the base hooks on a view
 * of the node, ir/op_fused.c): the one place the pairing is stated. */
static const struct {
	ir_op fused, base;
} fused_pairs[] = {
	{OP_FusedConv, OP_Conv},
	{OP_FusedGemm, OP_Gemm},
};

ir_op
ir_fused_base(ir_op op)
{
	for (size_t i = 0; i < sizeof fused_pairs / sizeof fused_pairs[0]; i++)
		if (fused_pairs[i].fused == op)
			return fused_pairs[i].base;
	return IR_NOPS;
}

ir_op
ir_fused_of(ir_op base)
{
	for (size_t i = 0; i < sizeof fused_pairs / sizeof fused_pairs[0]; i++)
		if (fused_pairs[i].base == base)
			return fused_pairs[i].fused;
	return IR_NOPS;
}

bool
ir_weight_axes(const ir_node *n, int *oax, int *iax)
{
	int r = n->nin > 1 && n->in[1] ? n->in[1]->shape.rank : 0;

	switch (ir_ops[n->op].weight) {
	case IR_W_OIHW:
		*oax = 0;
		*iax = 1;
		return true;
	case IR_W_IOHW:
		*oax = 1;
		*iax = 0;
		return true;
	case IR_W_KN: /* MatMul's [..., K, N] too */
		*oax = ir_attr_i_or(n, "transB", 0) ? r - 2 : r - 1;
		*iax = ir_attr_i_or(n, "transB", 0) ? r - 1 : r - 2;
		return r >= 2;
	default: /* GATES: the outputs span two axes (dirs, gates*hidden) */
		return false;
	}
}

unsigned
ir_weight_inputs(ir_op op)
{
	switch (ir_ops[op].weight) {
	case IR_W_NONE: return 0;
	case IR_W_GATES: return 1u << 1 | 1u << 2;
	default: return 1u << 1;
	}
}

const char *
ir_weight_input_name(ir_op op, int k)
{
	if (ir_ops[op].weight != IR_W_GATES)
		return NULL;
	return k == 1 ? "W" : k == 2 ? "R" : NULL;
}
