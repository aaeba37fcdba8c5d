/* nncc.FusedConv and nncc.FusedGemm (made by passes/fuse.c): the Conv or
 * Gemm hooks run on a view of the node, then the residual add and the
 * activation run with the same arithmetic as the Add and unary hooks, so
 * a fused node computes exactly what the unfused chain computed. */

#include "ir.h"

/* The activation op, IR_NOPS when there is none; false for a name
 * that is not an activation fuse.c may attach (ACT in ops.def). */
static bool
activation_op(const ir_node *n, ir_op *op)
{
	const char *s = ir_attr_str(n, "activation", NULL);
	*op = IR_NOPS;
	if (!s)
		return true;
	ir_op a = ir_op_lookup(s);
	if (a == IR_NOPS || !ir_op_has(a, IR_OPF_ACT))
		return false;
	*op = a;
	return true;
}

/* The node seen as its base Conv or Gemm: same values and attributes
 * (the base hooks ignore the activation ones), at most three inputs. */
static ir_node
base_view(const ir_node *n)
{
	ir_node b = *n;
	b.op = ir_fused_base(n->op);
	b.nin = n->nin > 3 ? 3 : n->nin;
	return b;
}

bool
ir_shape_fused(ir_graph *g, ir_node *n, nn_diag *d)
{
	ir_node b = base_view(n);
	ir_op act;
	if (!activation_op(n, &act)) {
		nn_error_node(d, n, "activation '%s' cannot be fused",
			      ir_attr_str(n, "activation", ""));
		return false;
	}
	if (!ir_kinds[ir_ops[b.op].kind].shape(g, &b, d))
		return false;
	const ir_value *r = n->nin > 3 ? n->in[3] : NULL, *y = n->out[0];
	if (r && (r->dtype != y->dtype || !ir_shape_eq(&r->shape, &y->shape))) {
		char rs[96], ys[96];
		ir_shape_str(&r->shape, rs, sizeof rs);
		ir_shape_str(&y->shape, ys, sizeof ys);
		nn_error_node(d, n, "residual is %s%s, the output is %s%s",
			      ir_dtype_name(r->dtype), rs,
			      ir_dtype_name(y->dtype), ys);
		return false;
	}
	if (act != IR_NOPS && !ir_dtype_is_float(y->dtype)) {
		nn_error_node(d, n, "an activation needs a float type, not %s",
			      ir_dtype_name(y->dtype));
		return false;
	}
	return true;
}

/* y += r, rounding like the Add hook: f32 in float, others via double. */
static void
add_residual(const ir_value *y, void *yb, const void *rb)
{
	int64_t cnt = ir_shape_numel(&y->shape);
	if (y->dtype == IR_F32) {
		float *p = yb;
		const float *q = rb;
		for (int64_t i = 0; i < cnt; i++)
			p[i] = p[i] + q[i];
		return;
	}
	for (int64_t i = 0; i < cnt; i++)
		ir_store_f64(yb, y->dtype, i, ir_load_f64(yb, y->dtype, i) +
					      ir_load_f64(rb, y->dtype, i));
}

/* Runs the unary hook in place on y, on a node built from the activation
 * attributes: Clip gets its bounds as f64 scalar inputs, HardSigmoid and
 * LeakyRelu get alpha/beta; absent ones keep ONNX's defaults. */
static bool
activate(const ir_node *n, ir_op act, ir_value *y, void *yb, nn_diag *d)
{
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	double lo = al ? ir_attr_float(n, "activation_alpha", 0) : 0;
	double hi = be ? ir_attr_float(n, "activation_beta", 0) : 0;
	ir_value vlo = {.dtype = IR_F64}, vhi = {.dtype = IR_F64};
	ir_value *in[3] = {y, NULL, NULL};
	ir_attr attrs[2];
	ir_node u = {.op = act, .name = n->name, .nin = 1, .nout = 1,
		     .in = in, .out = &y, .attrs = attrs};
	const void *ib[3] = {yb, &lo, &hi};
	if (act == OP_Clip) {
		u.nin = 3;
		in[1] = al ? &vlo : NULL;
		in[2] = be ? &vhi : NULL;
	} else {
		if (al)
			attrs[u.nattrs++] = (ir_attr){.name = "alpha",
				.kind = IR_ATTR_FLOAT, .f = lo};
		if (be)
			attrs[u.nattrs++] = (ir_attr){.name = "beta",
				.kind = IR_ATTR_FLOAT, .f = hi};
	}
	void *ob[1] = {yb};
	return ir_eval_unary(&u, ib, ob, d);
}

bool
ir_eval_fused(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	ir_node b = base_view(n);
	ir_op act;
	if (!activation_op(n, &act)) {
		nn_error_node(d, n, "activation '%s' cannot be fused",
			      ir_attr_str(n, "activation", ""));
		return false;
	}
	if (!ir_kinds[ir_ops[b.op].kind].eval(&b, in, out, d))
		return false;
	if (n->nin > 3 && n->in[3])
		add_residual(n->out[0], out[0], in[3]);
	if (act == IR_NOPS)
		return true;
	return activate(n, act, n->out[0], out[0], d);
}
