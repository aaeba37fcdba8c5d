/* IR nodes as ONNX nodes for the writer in export.c: fused ops expanded
 * back into standard ones, forms that depend on the opset (reduce axes,
 * pre-13 Softmax), and the opset each node's form needs. */
#include <ctype.h>
#include <string.h>

#include "export.h"

/* Attributes that stay out of the file: nncc's private ones ("nncc."),
 * the fused ops' activation (written as its own node), the reduce axes
 * (placed by emit_reduce) and Cast's saturate, which only float8 types
 * (that nncc does not have) read and opsets before 19 do not know. */
static bool
skip_attr(const ir_node *n, const char *name)
{
	if (strncmp(name, "nncc.", 5) == 0)
		return true;
	if (ir_ops[n->op].kind == IR_KIND_FUSED)
		return strncmp(name, "activation", 10) == 0;
	if (ir_ops[n->op].kind == IR_KIND_REDUCE)
		return strcmp(name, "axes") == 0 ||
		       strcmp(name, "noop_with_empty_axes") == 0;
	return n->op == OP_Cast && strcmp(name, "saturate") == 0;
}

/* A node whose attributes are n's (but the skipped ones), with `extra`
 * more slots. */
static Onnx__NodeProto *
add_like(ex_ctx *x, const ir_node *n, const char *op, const char *name, int nin,
         const char **in, int nout, const char **out, int extra)
{
	Onnx__NodeProto *np = fe_ex_add_node(x, op, name, nin, in, nout, out,
	                                     n->nattrs + extra);
	for (int i = 0; i < n->nattrs; i++)
		if (!skip_attr(n, n->attrs[i].name))
			fe_ex_copy_attr(x, np, &n->attrs[i]);
	return np;
}

/* The inputs' names of n (NULL after an error). */
static const char **
in_names(ex_ctx *x, const ir_node *n, int extra)
{
	const char **in = nn_alloc_array(
	        x->fc.tmp, (size_t)(n->nin + extra) + 1, sizeof *in);
	for (int i = 0; i < n->nin; i++)
		if (!(in[i] = fe_ex_ref(x, n->in[i])))
			return NULL;
	for (int i = n->nin; i < n->nin + extra; i++)
		in[i] = "";
	return in;
}

static const char **
out_names(ex_ctx *x, const ir_node *n)
{
	const char **out =
	        nn_alloc_array(x->fc.tmp, (size_t)n->nout + 1, sizeof *out);
	for (int i = 0; i < n->nout; i++)
		out[i] = fe_ex_out_name(x, n->out[i]);
	return out;
}

/* A readable base for generated names: the node's, else its output's. */
static const char *
node_base(ex_ctx *x, const ir_node *n)
{
	if (n->name && *n->name)
		return n->name;
	return fe_ex_out_name(x, n->out[0]);
}

/* ------------------------------------------------------------------ */
/* Ops whose IR form needs rewriting. */

static bool
is_reduce_with_axes(ir_op op)
{
	return ir_ops[op].kind == IR_KIND_REDUCE && op != OP_ArgMax &&
	       op != OP_ArgMin;
}

/* Before opset 18 only ReduceSum takes its axes as an input. */
static bool
axes_as_input(const ex_ctx *x, ir_op op)
{
	return op == OP_ReduceSum || x->opset >= 18;
}

/* The axes as an input (in[1]) or as the "axes" attribute, whichever the
 * target opset wants; the IR may hold either. */
static bool
emit_reduce(ex_ctx *x, const ir_node *n)
{
	const char **in = in_names(x, n, n->nin < 2 ? 2 - n->nin : 0);
	int cnt;
	const int64_t *axes = ir_attr_ints(n, "axes", &cnt);
	int64_t noop = ir_attr_i(n, "noop_with_empty_axes");
	if (!in)
		return false;
	if (axes_as_input(x, n->op) && axes && !*in[1]) {
		ir_shape s = {.rank = 1, .dim = {cnt}};
		in[1] = fe_ex_add_init(x, node_base(x, n), "_axes", IR_I64, &s,
		                       axes);
	} else if (!axes_as_input(x, n->op) && *in[1]) {
		const ir_value *v = n->in[1];
		int64_t k = ir_shape_numel(&v->shape);
		int64_t *buf =
		        nn_alloc_array(x->fc.tmp, (size_t)k + 1, sizeof *buf);
		for (int64_t i = 0; i < k; i++)
			buf[i] = ir_load_i64(v->data, v->dtype, i);
		axes = buf;
		cnt = (int)k;
		in[1] = "";
	}
	Onnx__NodeProto *np = add_like(x, n, ir_ops[n->op].name, n->name, 2, in,
	                               n->nout, out_names(x, n), 2);
	if (!axes_as_input(x, n->op) && axes && cnt > 0)
		fe_ex_attr_ints(x, np, "axes", axes, cnt);
	if (noop)
		fe_ex_attr_int(x, np, "noop_with_empty_axes", noop);
	return true;
}

/* Softmax of a model imported at opset < 13 (marked nncc.legacy): the
 * input seen as 2-D at `axis`. Unless that is the last axis anyway, it is
 * Flatten, Softmax over axis 1 and Reshape back. */
static bool
emit_legacy_softmax(ex_ctx *x, const ir_node *n)
{
	const ir_value *xv = n->in[0], *y = n->out[0];
	int r = xv->shape.rank;
	int64_t axis = ir_softmax_axis(n);
	const char **in = in_names(x, n, 0), **out = out_names(x, n);
	if (!in)
		return false;
	axis = axis < 0 ? axis + r : axis;
	if (r == 0 || axis == r - 1) {
		Onnx__NodeProto *np = fe_ex_add_node(x, ir_ops[n->op].name,
		                                     n->name, 1, in, 1, out, 1);
		fe_ex_attr_int(x, np, "axis", r == 0 ? 0 : axis);
		return true;
	}
	const char *base = node_base(x, n);
	const char *flat = fe_ex_derived_name(x, out[0], "_flat");
	const char *sm = fe_ex_derived_name(x, out[0], "_2d");
	ir_shape s2 = {.rank = 2, .dim = {1, 1}};
	for (int i = 0; i < r; i++)
		s2.dim[i >= axis] *= xv->shape.dim[i];
	Onnx__NodeProto *np = fe_ex_add_node(
	        x, "Flatten", fe_ex_derived_name(x, base, "_flatten"), 1, in, 1,
	        &flat, 1);
	fe_ex_attr_int(x, np, "axis", axis);
	np = fe_ex_add_node(x, ir_ops[n->op].name, n->name, 1, &flat, 1, &sm,
	                    1);
	fe_ex_attr_int(x, np, "axis", 1);
	ir_shape s1 = {.rank = 1, .dim = {r}};
	const char *rin[2] = {sm, fe_ex_add_init(x, base, "_shape", IR_I64, &s1,
	                                         y->shape.dim)};
	fe_ex_add_node(x, "Reshape", fe_ex_derived_name(x, base, "_reshape"), 2,
	               rin, 1, out, 0);
	fe_ex_push(x, &x->vinfo, fe_ex_value_info(x, flat, y->dtype, &s2));
	fe_ex_push(x, &x->vinfo, fe_ex_value_info(x, sm, y->dtype, &s2));
	return true;
}

/* A chain being written (emit_chain): the node and where it ends. */
typedef struct chain {
	ex_ctx *x;
	const ir_node *n;
	const char *out;
} chain;

/* op(a, b) (b NULL: unary) into a fresh value, or into the chain's end
 * when last; returns the value's name. */
static const char *
chain_node(const chain *c, const char *op, const char *a, const char *b,
           bool last)
{
	const ir_value *y = c->n->out[0];
	const char *base = node_base(c->x, c->n);
	const char *to = last ? c->out : fe_ex_derived_name(c->x, base, "_act");
	const char *in[2] = {a, b};
	fe_ex_add_node(c->x, op, fe_ex_derived_name(c->x, base, "_act"),
	               b ? 2 : 1, in, 1, &to, 0);
	if (!last)
		fe_ex_push(c->x, &c->x->vinfo,
		           fe_ex_value_info(c->x, to, y->dtype, &y->shape));
	return to;
}

/* A scalar initializer of the chain's type holding v. */
static const char *
chain_const(const chain *c, double v)
{
	ir_dtype t = c->n->out[0]->dtype;
	ir_shape sc = {.rank = 0};
	double buf[1];
	ir_store_f64(buf, t, 0, v);
	return fe_ex_add_init(c->x, node_base(c->x, c->n), "_k", t, &sc, buf);
}

/* nncc.Silu / nncc.Gelu / nncc.GeluTanh (ops.def) of n's type (n itself,
 * or a fused node with that activation) from `in` to `out` as the chain
 * PyTorch exports and passes/fuse.c absorbs. */
static void
emit_chain(ex_ctx *x, const ir_node *n, ir_op act, const char *in,
           const char *out)
{
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	double alpha = act == OP_Silu ? 0 : n->op == act ? ir_attr_f(n, "alpha")
	               : al ? al->f : 0.5;
	chain c = {x, n, out};
	const char *t;
	switch (act) {
	case OP_Silu:
		t = chain_node(&c, "Sigmoid", in, NULL, false);
		chain_node(&c, "Mul", in, t, true);
		return;
	case OP_Gelu:
		t = chain_node(&c, "Div", in, chain_const(&c, 1.41421354f),
		               false);
		t = chain_node(&c, "Erf", t, NULL, false);
		t = chain_node(&c, "Add", t, chain_const(&c, 1), false);
		break;
	case OP_GeluTanh:
		t = chain_node(&c, "Mul", in, in, false);
		t = chain_node(&c, "Mul", in, t, false);
		t = chain_node(&c, "Mul", chain_const(&c, 0.044715f), t, false);
		t = chain_node(&c, "Add", in, t, false);
		t = chain_node(&c, "Mul", chain_const(&c, 0.7978846f), t, false);
		t = chain_node(&c, "Tanh", t, NULL, false);
		t = chain_node(&c, "Add", chain_const(&c, 1), t, false);
		break;
	default: nn_unreachable();
	}
	t = chain_node(&c, "Mul", in, t, false);
	chain_node(&c, "Mul", t, chain_const(&c, alpha), true);
}

/* The activation of a fused node as its own node from `in` to `out`. */
static void
emit_activation(ex_ctx *x, const ir_node *n, const char *in, const char *out)
{
	ir_op act = ir_op_lookup(ir_attr_str(n, "activation", ""));
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	const char *base = node_base(x, n);
	const char *name = fe_ex_derived_name(x, base, "_act");
	const char *cin[3] = {in, "", ""};
	NN_ASSERT(act != IR_NOPS);
	if (act == OP_Silu || act == OP_Gelu || act == OP_GeluTanh) {
		emit_chain(x, n, act, in, out);
		return;
	}
	if (act == OP_Clip) {
		ir_dtype t = n->out[0]->dtype;
		ir_shape s = {.rank = 0};
		double buf[1];
		for (int i = 0; i < 2; i++) {
			const ir_attr *a = i ? be : al;
			if (!a)
				continue;
			ir_store_f64(buf, t, 0, a->f);
			cin[1 + i] = fe_ex_add_init(
			        x, base, i ? "_max" : "_min", t, &s, buf);
		}
		fe_ex_add_node(x, "Clip", name, 3, cin, 1, &out, 0);
		return;
	}
	Onnx__NodeProto *np =
	        fe_ex_add_node(x, ir_ops[act].name, name, 1, cin, 1, &out, 2);
	/* as passes/fuse.c made them: the activation's alpha and beta,
	 * where the op has them (the hooks ignore them elsewhere, and the
	 * importer refuses an attribute the op does not know) */
	if (al && ir_attr_schema(act, "alpha") == IR_ATTR_FLOAT)
		fe_ex_attr_float(x, np, "alpha", al->f);
	if (be && ir_attr_schema(act, "beta") == IR_ATTR_FLOAT)
		fe_ex_attr_float(x, np, "beta", be->f);
}

/* nncc.FusedConv/FusedGemm (X, W, B, R) as Conv/Gemm, then Add of the
 * residual R, then the activation: the meaning ir/op_fused.c gives. */
static bool
emit_fused(ex_ctx *x, const ir_node *n)
{
	const ir_value *y = n->out[0];
	const char **in = in_names(x, n, 0), *out = fe_ex_out_name(x, y);
	bool res = n->nin > 3 && n->in[3];
	bool act = ir_get_attr(n, "activation") != NULL;
	const char *base_op = ir_ops[ir_fused_base(n->op)].name;
	char sfx[32]; /* "_conv", "_gemm": the base op's name, lower case */
	size_t i = 0;
	sfx[i++] = '_';
	for (const char *c = base_op; *c && i + 1 < sizeof sfx; c++)
		sfx[i++] = (char)tolower((unsigned char)*c);
	sfx[i] = '\0';
	if (!in)
		return false;
	const char *cur = res || act ? fe_ex_derived_name(x, out, sfx) : out;
	add_like(x, n, base_op, n->name, n->nin > 3 ? 3 : n->nin, in, 1, &cur,
	         0);
	if (cur != out)
		fe_ex_push(x, &x->vinfo,
		           fe_ex_value_info(x, cur, y->dtype, &y->shape));
	if (res) {
		const char *ain[2] = {cur, in[3]};
		const char *sum =
		        act ? fe_ex_derived_name(x, out, "_add") : out;
		fe_ex_add_node(x, "Add",
		               fe_ex_derived_name(x, node_base(x, n), "_add"),
		               2, ain, 1, &sum, 0);
		if (sum != out)
			fe_ex_push(
			        x, &x->vinfo,
			        fe_ex_value_info(x, sum, y->dtype, &y->shape));
		cur = sum;
	}
	if (act)
		emit_activation(x, n, cur, out);
	return true;
}

/* If, Loop, Scan: the ONNX inputs (the captured ones are the subgraphs'
 * outer names) and the graph attributes built in their own scope. */
static bool
emit_control(ex_ctx *x, const ir_node *n)
{
	int nin = n->nin - ir_node_ncaptured(n);
	const char **in = in_names(x, n, 0);
	if (!in)
		return false;
	Onnx__NodeProto *np = fe_ex_add_node(x, ir_ops[n->op].name, n->name,
					     nin, in, n->nout,
					     out_names(x, n), n->nattrs);
	for (int i = 0; i < n->nattrs; i++)
		if (n->attrs[i].kind != IR_ATTR_GRAPH)
			fe_ex_copy_attr(x, np, &n->attrs[i]);
		else if (!fe_ex_graph_attr(x, np, n, &n->attrs[i]))
			return false;
	return true;
}

bool
fe_ex_emit_node(ex_ctx *x, const ir_node *n)
{
	if (ir_ops[n->op].kind == IR_KIND_CONTROL)
		return emit_control(x, n);
	if (ir_ops[n->op].kind == IR_KIND_FUSED)
		return emit_fused(x, n);
	if (is_reduce_with_axes(n->op))
		return emit_reduce(x, n);
	if (ir_ops[n->op].kind == IR_KIND_SOFTMAX && ir_softmax_legacy(n))
		return emit_legacy_softmax(x, n);
	if (n->op == OP_Silu || n->op == OP_Gelu || n->op == OP_GeluTanh) {
		const char *in = fe_ex_ref(x, n->in[0]);
		if (!in)
			return false;
		emit_chain(x, n, n->op, in, fe_ex_out_name(x, n->out[0]));
		return true;
	}
	if (strncmp(ir_ops[n->op].name, "nncc.", 5) == 0) {
		nn_error_node(x->fc.d, n, "has no ONNX form");
		return false;
	}
	const char **in = in_names(x, n, 0);
	if (!in)
		return false;
	add_like(x, n, ir_ops[n->op].name, n->name, n->nin, in, n->nout,
	         out_names(x, n), 0);
	return true;
}

/* ------------------------------------------------------------------ */
/* The opset: the newest of what each node's form needs. */

static bool
str_attr_is(const ir_node *n, const char *name, const char *v)
{
	return strcmp(ir_attr_str(n, name, ""), v) == 0;
}

static int64_t
reduce_opset(const ir_node *n)
{
	if (n->op == OP_ReduceSum)
		return EX_MIN_OPSET;
	/* axes the export cannot turn into an attribute, or the flag that
	 * came with axes as an input */
	if ((n->nin > 1 && n->in[1] && !n->in[1]->data) ||
	    ir_attr_i(n, "noop_with_empty_axes"))
		return 18;
	return EX_MIN_OPSET;
}

/* Opset 14 added the 8- and 16-bit integer types to the arithmetic. */
static int64_t
arith_opset(const ir_node *n)
{
	ir_dtype t = n->out[0] ? n->out[0]->dtype : IR_F32;
	return ir_dtype_is_int(t) && ir_dtype_size(t) < 4 ? 14 : EX_MIN_OPSET;
}

/* What the node's values and inputs need beyond the op's row and its
 * attributes' SINCE column (below). */
static int64_t
form_opset(const ir_node *n)
{
	switch (n->op) {
	case OP_Add:
	case OP_Sub:
	case OP_Mul:
	case OP_Div:
		return arith_opset(n);
	case OP_ScatterND:
		return str_attr_is(n, "reduction", "min") ||
		                       str_attr_is(n, "reduction", "max")
		               ? 18
		               : EX_MIN_OPSET;
	case OP_Pad:
		if (str_attr_is(n, "mode", "wrap"))
			return 19;
		return n->nin > 3 && n->in[3] ? 18 : EX_MIN_OPSET;
	case OP_Resize:
		return str_attr_is(n, "coordinate_transformation_mode",
		                   "half_pixel_symmetric")
		               ? 19
		               : EX_MIN_OPSET;
	default:
		return is_reduce_with_axes(n->op) ? reduce_opset(n)
		                                  : EX_MIN_OPSET;
	}
}

/* The newest of: the op's OPSET column (ops.def), a fused node's
 * activation's (written as its own node), the SINCE column (attrs.def)
 * of each attribute the export writes, and form_opset. */
int64_t
fe_ex_node_opset(const ir_node *n)
{
	int64_t v = form_opset(n);
	const char *an = ir_ops[n->op].kind == IR_KIND_FUSED
	                         ? ir_attr_str(n, "activation", NULL)
	                         : NULL;
	ir_op act = an ? ir_op_lookup(an) : IR_NOPS;
	if (ir_ops[n->op].opset > v)
		v = ir_ops[n->op].opset;
	if (act != IR_NOPS && ir_ops[act].opset > v)
		v = ir_ops[act].opset;
	for (int i = 0; i < n->nattrs; i++) {
		int s = ir_attr_since(n->op, n->attrs[i].name);
		if (s > v && !skip_attr(n, n->attrs[i].name))
			v = s;
		if (n->attrs[i].kind != IR_ATTR_GRAPH)
			continue;
		for (const ir_node *m = n->attrs[i].g->first; m; m = m->next)
			if (fe_ex_node_opset(m) > v)
				v = fe_ex_node_opset(m);
	}
	return v;
}
