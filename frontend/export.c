/* IR to ONNX (--emit-onnx): writes a graph as a plain ModelProto at the
 * lowest default-domain opset that holds the forms the IR uses; nncc's
 * fused ops become the standard nodes they stand for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

/* Oldest opset written: the importer's current forms of Clip, Slice, Pad,
 * Split, Squeeze, Unsqueeze and ReduceSum (inputs, not attributes) and
 * Softmax's one-axis meaning are opset 13's. */
#define EX_MIN_OPSET 13

typedef struct ptrvec {
	void **p;
	size_t n, cap;
} ptrvec;

/* The ONNX name of a value, and whether its initializer is written. */
typedef struct vname {
	const ir_value *v;
	const char *name;
	bool emitted;
} vname;

typedef struct ex_ctx {
	fe_ctx fc;     /* only fc.tmp (the arena of everything) and fc.d */
	const ir_graph *g;
	int64_t opset;
	fe_map used;   /* ONNX names taken */
	vname *vn;     /* open addressing on the value pointer */
	size_t vcap;
	ptrvec nodes, inits, vinfo;
} ex_ctx;

static void
push(ex_ctx *x, ptrvec *v, void *p)
{
	if (v->n == v->cap) {
		void **grown = nn_alloc_array(x->fc.tmp, v->cap ? 2 * v->cap : 64,
					      sizeof *grown);
		if (v->n)
			memcpy(grown, v->p, v->n * sizeof *grown);
		v->p = grown;
		v->cap = v->cap ? 2 * v->cap : 64;
	}
	v->p[v->n++] = p;
}

static char *
xstrdup(ex_ctx *x, const char *s)
{
	return nn_strdup(x->fc.tmp, s);
}

/* base, or base_1, base_2, ... : the first that no value has yet. */
static const char *
unique_name(ex_ctx *x, const char *base)
{
	if (!base || !*base)
		base = "t";
	const char *s = base;
	size_t len = strlen(base) + 24;
	for (long k = 1; fe_map_get(&x->used, s); k++) {
		char *t = nn_alloc(x->fc.tmp, len);
		snprintf(t, len, "%s_%ld", base, k);
		s = t;
	}
	s = xstrdup(x, s);
	fe_map_put(&x->fc, &x->used, s, (void *)s);
	return s;
}

/* A fresh name built from an existing one and a suffix. */
static const char *
derived_name(ex_ctx *x, const char *base, const char *suffix)
{
	size_t len = strlen(base) + strlen(suffix) + 1;
	char *t = nn_alloc(x->fc.tmp, len);
	snprintf(t, len, "%s%s", base, suffix);
	return unique_name(x, t);
}

static vname *
slot(ex_ctx *x, const ir_value *v)
{
	size_t h = ((uintptr_t)v >> 4) * 0x9E3779B97F4A7C15ull;
	for (size_t i = h & (x->vcap - 1);; i = (i + 1) & (x->vcap - 1))
		if (x->vn[i].v == v || !x->vn[i].v)
			return &x->vn[i];
}

/* Names v after itself, else after `what` and k: "output_0" for graph
 * outputs, "NODE_output_0" for node outputs (exporters' habit). */
static void
name_value(ex_ctx *x, const ir_value *v, const char *what, int k)
{
	if (!v)
		return;
	vname *s = slot(x, v);
	char buf[256];
	if (s->v)
		return;
	snprintf(buf, sizeof buf, "%s%soutput_%d", what ? what : "",
		 what ? "_" : "", k);
	*s = (vname){v, unique_name(x, v->name ? v->name : buf), false};
}

/* Names every value, the graph's inputs and outputs first so that theirs
 * survive, then constants and node outputs in order. */
static void
name_values(ex_ctx *x)
{
	const ir_graph *g = x->g;
	size_t n = (size_t)g->ninputs + (size_t)g->noutputs +
		   (size_t)g->nconsts + 1;
	for (const ir_node *nd = g->first; nd; nd = nd->next)
		n += (size_t)nd->nout;
	for (x->vcap = 64; x->vcap < 2 * n;)
		x->vcap *= 2;
	x->vn = nn_alloc_array(x->fc.tmp, x->vcap, sizeof *x->vn);
	for (int i = 0; i < g->ninputs; i++)
		name_value(x, g->inputs[i], "input", i);
	for (int i = 0; i < g->noutputs; i++)
		name_value(x, g->outputs[i], NULL, i);
	for (int i = 0; i < g->nconsts; i++)
		name_value(x, g->consts[i], "const", i);
	for (const ir_node *nd = g->first; nd; nd = nd->next)
		for (int i = 0; i < nd->nout; i++)
			name_value(x, nd->out[i], nd->name ? nd->name
					  : ir_ops[nd->op].name, i);
}

static bool
little_endian(void)
{
	const uint16_t one = 1;
	return *(const uint8_t *)&one == 1;
}

/* A tensor with its data as little-endian raw_data (data borrowed: it
 * must outlive the packing, as graph weights do). */
static Onnx__TensorProto *
tensor_proto(ex_ctx *x, const char *name, ir_dtype t, const ir_shape *s,
	     const void *data)
{
	Onnx__TensorProto *tp = nn_alloc(x->fc.tmp, sizeof *tp);
	*tp = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
	tp->name = name ? xstrdup(x, name) : NULL;
	tp->has_data_type = true;
	tp->data_type = (int32_t)t;
	tp->n_dims = (size_t)s->rank;
	tp->dims = nn_alloc_array(x->fc.tmp, (size_t)s->rank + 1,
				  sizeof *tp->dims);
	memcpy(tp->dims, s->dim, (size_t)s->rank * sizeof *tp->dims);
	size_t es = ir_dtype_size(t);
	size_t len = (size_t)ir_shape_numel(s) * es;
	tp->has_raw_data = true;
	tp->raw_data.len = len;
	tp->raw_data.data = (uint8_t *)data;
	if (!little_endian() && es > 1 && len) {
		uint8_t *b = nn_alloc(x->fc.tmp, len);
		for (size_t i = 0; i < len; i++)
			b[i] = ((const uint8_t *)data)[i - i % es + es - 1 -
							i % es];
		tp->raw_data.data = b;
	}
	return tp;
}

static Onnx__ValueInfoProto *
value_info(ex_ctx *x, const char *name, ir_dtype t, const ir_shape *s)
{
	nn_arena *a = x->fc.tmp;
	Onnx__ValueInfoProto *vi = nn_alloc(a, sizeof *vi);
	Onnx__TypeProto *tp = nn_alloc(a, sizeof *tp);
	Onnx__TypeProto__Tensor *tt = nn_alloc(a, sizeof *tt);
	Onnx__TensorShapeProto *sp = nn_alloc(a, sizeof *sp);
	*vi = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
	*tp = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
	*tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
	*sp = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
	vi->name = (char *)name;
	vi->type = tp;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	tt->has_elem_type = true;
	tt->elem_type = (int32_t)t;
	tt->shape = sp;
	sp->n_dim = (size_t)s->rank;
	sp->dim = nn_alloc_array(a, (size_t)s->rank + 1, sizeof *sp->dim);
	for (int i = 0; i < s->rank; i++) {
		Onnx__TensorShapeProto__Dimension *dm = nn_alloc(a, sizeof *dm);
		*dm = (Onnx__TensorShapeProto__Dimension)
			ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
		if (s->dim[i] >= 0) {
			dm->value_case =
				ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dm->dim_value = s->dim[i];
		}
		sp->dim[i] = dm;
	}
	return vi;
}

/* The name a node input refers to; writes a constant's initializer the
 * first time it is referred to, so unused constants are left out. NULL
 * after reporting a constant without data. */
static const char *
ref_value(ex_ctx *x, const ir_value *v)
{
	if (!v)
		return "";
	vname *s = slot(x, v);
	NN_ASSERT(s->v == v);
	if (ir_is_const(v) && !s->emitted) {
		if (v->elided || !v->data) {
			nn_error(x->fc.d, "constant '%s' has no data (elided "
				 "in the IR text it was read from)",
				 ir_value_label(v));
			return NULL;
		}
		push(x, &x->inits, tensor_proto(x, s->name, v->dtype, &v->shape,
						v->data));
	}
	s->emitted = true;
	return s->name;
}

static const char *
out_name(ex_ctx *x, const ir_value *v)
{
	return v ? slot(x, v)->name : "";
}

/* A new initializer named after `base` (a scalar or 1-D tensor). */
static const char *
add_init(ex_ctx *x, const char *base, const char *suffix, ir_dtype t,
	 const ir_shape *s, const void *data)
{
	const char *name = derived_name(x, base, suffix);
	size_t len = (size_t)ir_shape_numel(s) * ir_dtype_size(t);
	void *copy = nn_alloc(x->fc.tmp, len + 1);
	memcpy(copy, data, len);
	push(x, &x->inits, tensor_proto(x, name, t, s, copy));
	return name;
}

/* A node with room for nattr attributes; names are borrowed (they live
 * in the arena or the graph). Trailing omitted inputs are dropped. */
static Onnx__NodeProto *
add_node(ex_ctx *x, const char *op, const char *name, int nin,
	 const char **in, int nout, const char **out, int nattr)
{
	nn_arena *a = x->fc.tmp;
	Onnx__NodeProto *np = nn_alloc(a, sizeof *np);
	*np = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
	np->op_type = (char *)op;
	np->name = name ? (char *)name : NULL;
	while (nin > 0 && !*in[nin - 1])
		nin--;
	while (nout > 1 && !*out[nout - 1])
		nout--;
	np->n_input = (size_t)nin;
	np->input = nn_alloc_array(a, (size_t)nin + 1, sizeof *np->input);
	for (int i = 0; i < nin; i++)
		np->input[i] = (char *)in[i];
	np->n_output = (size_t)nout;
	np->output = nn_alloc_array(a, (size_t)nout + 1, sizeof *np->output);
	for (int i = 0; i < nout; i++)
		np->output[i] = (char *)out[i];
	np->attribute = nn_alloc_array(a, (size_t)nattr + 1,
				       sizeof *np->attribute);
	push(x, &x->nodes, np);
	return np;
}

static Onnx__AttributeProto *
new_attr(ex_ctx *x, Onnx__NodeProto *np, const char *name,
	 Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *ap = nn_alloc(x->fc.tmp, sizeof *ap);
	*ap = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
	ap->name = (char *)name;
	ap->has_type = true;
	ap->type = type;
	np->attribute[np->n_attribute++] = ap;
	return ap;
}

static void
attr_int(ex_ctx *x, Onnx__NodeProto *np, const char *name, int64_t v)
{
	Onnx__AttributeProto *ap = new_attr(
		x, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	ap->has_i = true;
	ap->i = v;
}

static void
attr_float(ex_ctx *x, Onnx__NodeProto *np, const char *name, double v)
{
	Onnx__AttributeProto *ap = new_attr(
		x, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	ap->has_f = true;
	ap->f = (float)v;
}

static void
attr_ints(ex_ctx *x, Onnx__NodeProto *np, const char *name,
	  const int64_t *v, int n)
{
	Onnx__AttributeProto *ap = new_attr(
		x, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	ap->n_ints = (size_t)n;
	ap->ints = (int64_t *)v;
}

static ProtobufCBinaryData
bytes_of(const char *s)
{
	return (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
}

/* Any IR attribute, by its kind. */
static void
copy_attr(ex_ctx *x, Onnx__NodeProto *np, const ir_attr *a)
{
	Onnx__AttributeProto *ap;
	switch (a->kind) {
	case IR_ATTR_INT:
		attr_int(x, np, a->name, a->i);
		return;
	case IR_ATTR_FLOAT:
		attr_float(x, np, a->name, a->f);
		return;
	case IR_ATTR_INTS:
		attr_ints(x, np, a->name, a->ints, a->n);
		return;
	case IR_ATTR_STRING:
		ap = new_attr(x, np, a->name,
			      ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
		ap->has_s = true;
		ap->s = bytes_of(a->s);
		return;
	case IR_ATTR_FLOATS:
		ap = new_attr(x, np, a->name,
			      ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
		ap->n_floats = (size_t)a->n;
		ap->floats = nn_alloc_array(x->fc.tmp, (size_t)a->n + 1,
					    sizeof *ap->floats);
		for (int i = 0; i < a->n; i++)
			ap->floats[i] = (float)a->floats[i];
		return;
	case IR_ATTR_STRINGS:
		ap = new_attr(x, np, a->name,
			      ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
		ap->n_strings = (size_t)a->n;
		ap->strings = nn_alloc_array(x->fc.tmp, (size_t)a->n + 1,
					     sizeof *ap->strings);
		for (int i = 0; i < a->n; i++)
			ap->strings[i] = bytes_of(a->strings[i]);
		return;
	case IR_ATTR_TENSOR:
		ap = new_attr(x, np, a->name,
			      ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
		ap->t = tensor_proto(x, NULL, a->t->dtype, &a->t->shape,
				     a->t->data);
		return;
	case IR_NATTR_KINDS:
		break;
	}
	nn_unreachable();
}

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
add_like(ex_ctx *x, const ir_node *n, const char *op, const char *name,
	 int nin, const char **in, int nout, const char **out, int extra)
{
	Onnx__NodeProto *np = add_node(x, op, name, nin, in, nout, out,
				       n->nattrs + extra);
	for (int i = 0; i < n->nattrs; i++)
		if (!skip_attr(n, n->attrs[i].name))
			copy_attr(x, np, &n->attrs[i]);
	return np;
}

/* The inputs' names of n (NULL after an error). */
static const char **
in_names(ex_ctx *x, const ir_node *n, int extra)
{
	const char **in = nn_alloc_array(x->fc.tmp, (size_t)(n->nin + extra) + 1,
					 sizeof *in);
	for (int i = 0; i < n->nin; i++)
		if (!(in[i] = ref_value(x, n->in[i])))
			return NULL;
	for (int i = n->nin; i < n->nin + extra; i++)
		in[i] = "";
	return in;
}

static const char **
out_names(ex_ctx *x, const ir_node *n)
{
	const char **out = nn_alloc_array(x->fc.tmp, (size_t)n->nout + 1,
					  sizeof *out);
	for (int i = 0; i < n->nout; i++)
		out[i] = out_name(x, n->out[i]);
	return out;
}

/* A readable base for generated names: the node's, else its output's. */
static const char *
node_base(ex_ctx *x, const ir_node *n)
{
	if (n->name && *n->name)
		return n->name;
	return out_name(x, n->out[0]);
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
	int64_t noop = ir_attr_int(n, "noop_with_empty_axes", 0);
	if (!in)
		return false;
	if (axes_as_input(x, n->op) && axes && !*in[1]) {
		ir_shape s = {.rank = 1, .dim = {cnt}};
		in[1] = add_init(x, node_base(x, n), "_axes", IR_I64, &s, axes);
	} else if (!axes_as_input(x, n->op) && *in[1]) {
		const ir_value *v = n->in[1];
		int64_t k = ir_shape_numel(&v->shape);
		int64_t *buf = nn_alloc_array(x->fc.tmp, (size_t)k + 1,
					      sizeof *buf);
		for (int64_t i = 0; i < k; i++)
			buf[i] = ir_load_i64(v->data, v->dtype, i);
		axes = buf;
		cnt = (int)k;
		in[1] = "";
	}
	Onnx__NodeProto *np = add_like(x, n, ir_ops[n->op].name, n->name, 2,
				       in, n->nout, out_names(x, n), 2);
	if (!axes_as_input(x, n->op) && axes && cnt > 0)
		attr_ints(x, np, "axes", axes, cnt);
	if (noop)
		attr_int(x, np, "noop_with_empty_axes", noop);
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
	int64_t axis = ir_attr_int(n, "axis", 1);
	const char **in = in_names(x, n, 0), **out = out_names(x, n);
	if (!in)
		return false;
	axis = axis < 0 ? axis + r : axis;
	if (r == 0 || axis == r - 1) {
		Onnx__NodeProto *np = add_node(x, ir_ops[n->op].name, n->name,
					       1, in, 1, out, 1);
		attr_int(x, np, "axis", r == 0 ? 0 : axis);
		return true;
	}
	const char *base = node_base(x, n);
	const char *flat = derived_name(x, out[0], "_flat");
	const char *sm = derived_name(x, out[0], "_2d");
	ir_shape s2 = {.rank = 2, .dim = {1, 1}};
	for (int i = 0; i < r; i++)
		s2.dim[i >= axis] *= xv->shape.dim[i];
	Onnx__NodeProto *np = add_node(x, "Flatten",
				       derived_name(x, base, "_flatten"), 1,
				       in, 1, &flat, 1);
	attr_int(x, np, "axis", axis);
	np = add_node(x, ir_ops[n->op].name, n->name, 1, &flat, 1, &sm, 1);
	attr_int(x, np, "axis", 1);
	ir_shape s1 = {.rank = 1, .dim = {r}};
	const char *rin[2] = {sm, add_init(x, base, "_shape", IR_I64, &s1,
					   y->shape.dim)};
	add_node(x, "Reshape", derived_name(x, base, "_reshape"), 2, rin, 1,
		 out, 0);
	push(x, &x->vinfo, value_info(x, flat, y->dtype, &s2));
	push(x, &x->vinfo, value_info(x, sm, y->dtype, &s2));
	return true;
}

/* The activation of a fused node as its own node from `in` to `out`. */
static void
emit_activation(ex_ctx *x, const ir_node *n, const char *in,
		const char *out)
{
	ir_op act = ir_op_lookup(ir_attr_str(n, "activation", ""));
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	const char *base = node_base(x, n);
	const char *name = derived_name(x, base, "_act");
	const char *cin[3] = {in, "", ""};
	NN_ASSERT(act != IR_NOPS);
	if (act == OP_Clip) {
		ir_dtype t = n->out[0]->dtype;
		ir_shape s = {.rank = 0};
		double buf[1];
		for (int i = 0; i < 2; i++) {
			const ir_attr *a = i ? be : al;
			if (!a)
				continue;
			ir_store_f64(buf, t, 0, a->f);
			cin[1 + i] = add_init(x, base, i ? "_max" : "_min", t,
					      &s, buf);
		}
		add_node(x, "Clip", name, 3, cin, 1, &out, 0);
		return;
	}
	Onnx__NodeProto *np = add_node(x, ir_ops[act].name, name, 1, cin, 1,
				       &out, 2);
	if (al && (act == OP_LeakyRelu || act == OP_HardSigmoid))
		attr_float(x, np, "alpha", al->f);
	if (be && act == OP_HardSigmoid)
		attr_float(x, np, "beta", be->f);
}

/* nncc.FusedConv/FusedGemm (X, W, B, R) as Conv/Gemm, then Add of the
 * residual R, then the activation: the meaning ir/op_fused.c gives. */
static bool
emit_fused(ex_ctx *x, const ir_node *n)
{
	const ir_value *y = n->out[0];
	const char **in = in_names(x, n, 0), *out = out_name(x, y);
	bool res = n->nin > 3 && n->in[3];
	bool act = ir_get_attr(n, "activation") != NULL;
	const char *base_op = n->op == OP_FusedConv ? "Conv" : "Gemm";
	if (!in)
		return false;
	const char *cur = res || act ? derived_name(x, out, n->op ==
						    OP_FusedConv ? "_conv"
								 : "_gemm")
				     : out;
	add_like(x, n, base_op, n->name, n->nin > 3 ? 3 : n->nin, in, 1,
		 &cur, 0);
	if (cur != out)
		push(x, &x->vinfo, value_info(x, cur, y->dtype, &y->shape));
	if (res) {
		const char *ain[2] = {cur, in[3]};
		const char *sum = act ? derived_name(x, out, "_add") : out;
		add_node(x, "Add", derived_name(x, node_base(x, n), "_add"), 2,
			 ain, 1, &sum, 0);
		if (sum != out)
			push(x, &x->vinfo, value_info(x, sum, y->dtype,
						      &y->shape));
		cur = sum;
	}
	if (act)
		emit_activation(x, n, cur, out);
	return true;
}

static bool
emit_node(ex_ctx *x, const ir_node *n)
{
	if (ir_ops[n->op].kind == IR_KIND_FUSED)
		return emit_fused(x, n);
	if (is_reduce_with_axes(n->op))
		return emit_reduce(x, n);
	if ((n->op == OP_Softmax || n->op == OP_LogSoftmax) &&
	    ir_attr_int(n, "nncc.legacy", 0))
		return emit_legacy_softmax(x, n);
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
has_attr(const ir_node *n, const char *name)
{
	return ir_get_attr(n, name) != NULL;
}

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
	    ir_attr_int(n, "noop_with_empty_axes", 0))
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

static int64_t
node_opset(const ir_node *n)
{
	switch (n->op) {
	case OP_HardSwish:
	case OP_Trilu:
		return 14;
	case OP_Add:
	case OP_Sub:
	case OP_Mul:
	case OP_Div:
		return arith_opset(n);
	case OP_Reshape:
		return has_attr(n, "allowzero") ? 14 : EX_MIN_OPSET;
	case OP_BatchNormalization:
		return has_attr(n, "training_mode") ? 14 : EX_MIN_OPSET;
	case OP_Shape:
		return has_attr(n, "start") || has_attr(n, "end") ? 15
								 : EX_MIN_OPSET;
	case OP_ScatterND:
		if (str_attr_is(n, "reduction", "min") ||
		    str_attr_is(n, "reduction", "max"))
			return 18;
		return has_attr(n, "reduction") ? 16 : EX_MIN_OPSET;
	case OP_LayerNormalization:
		return 17;
	case OP_Pad:
		if (str_attr_is(n, "mode", "wrap"))
			return 19;
		return n->nin > 3 && n->in[3] ? 18 : EX_MIN_OPSET;
	case OP_Split:
		return has_attr(n, "num_outputs") ? 18 : EX_MIN_OPSET;
	case OP_Resize:
		if (str_attr_is(n, "coordinate_transformation_mode",
				"half_pixel_symmetric"))
			return 19;
		return has_attr(n, "antialias") || has_attr(n, "axes") ||
			       has_attr(n, "keep_aspect_ratio_policy")
			       ? 18
			       : EX_MIN_OPSET;
	default:
		return is_reduce_with_axes(n->op) ? reduce_opset(n)
						  : EX_MIN_OPSET;
	}
}

/* The IR version that came with each opset's ONNX release. */
static int64_t
ir_version_for(int64_t opset)
{
	return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

/* ------------------------------------------------------------------ */
/* The graph and the file. */

/* Graph outputs; one that no node defines here (an input, a constant) or
 * that is listed twice goes through an Identity, since ONNX names each
 * output by the value a node produced. */
static Onnx__ValueInfoProto **
graph_outputs(ex_ctx *x)
{
	const ir_graph *g = x->g;
	Onnx__ValueInfoProto **o = nn_alloc_array(
		x->fc.tmp, (size_t)g->noutputs + 1, sizeof *o);
	for (int i = 0; i < g->noutputs; i++) {
		const ir_value *v = g->outputs[i];
		const char *name = ref_value(x, v);
		bool again = false;
		for (int j = 0; j < i; j++)
			again |= g->outputs[j] == v;
		if (!name)
			return NULL;
		if (!v->def || again) {
			const char *id = derived_name(x, name, "_out");
			add_node(x, "Identity", id, 1, &name, 1, &id, 0);
			name = id;
		}
		o[i] = value_info(x, name, v->dtype, &v->shape);
	}
	return o;
}

/* Every node output but the graph's outputs gets a value_info: it costs
 * little, and tools that show the graph can show every shape. */
static void
intermediate_info(ex_ctx *x)
{
	const ir_graph *g = x->g;
	for (const ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nout; i++) {
			const ir_value *v = n->out[i];
			bool is_out = false;
			for (int k = 0; v && k < g->noutputs; k++)
				is_out |= g->outputs[k] == v;
			if (v && !is_out)
				push(x, &x->vinfo, value_info(x, out_name(x, v),
							      v->dtype,
							      &v->shape));
		}
}

/* The elements of v as an array of T* (the vectors hold void*). */
static void *
as_array(ex_ctx *x, const ptrvec *v, size_t *n)
{
	void **a = nn_alloc_array(x->fc.tmp, v->n + 1, sizeof *a);
	if (v->n)
		memcpy(a, v->p, v->n * sizeof *a);
	*n = v->n;
	return a;
}

static Onnx__GraphProto *
build_graph(ex_ctx *x)
{
	const ir_graph *g = x->g;
	Onnx__GraphProto *gp = nn_alloc(x->fc.tmp, sizeof *gp);
	*gp = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
	gp->name = xstrdup(x, g->name && *g->name ? g->name : "nncc");
	gp->n_input = (size_t)g->ninputs;
	gp->input = nn_alloc_array(x->fc.tmp, (size_t)g->ninputs + 1,
				   sizeof *gp->input);
	for (int i = 0; i < g->ninputs; i++) {
		const ir_value *v = g->inputs[i];
		gp->input[i] = value_info(x, ref_value(x, v), v->dtype,
					  &v->shape);
	}
	for (const ir_node *n = g->first; n; n = n->next)
		if (!emit_node(x, n))
			return NULL;
	if (!(gp->output = graph_outputs(x)))
		return NULL;
	gp->n_output = (size_t)g->noutputs;
	intermediate_info(x);
	gp->node = as_array(x, &x->nodes, &gp->n_node);
	gp->initializer = as_array(x, &x->inits, &gp->n_initializer);
	gp->value_info = as_array(x, &x->vinfo, &gp->n_value_info);
	return gp;
}

static Onnx__ModelProto *
build_model(ex_ctx *x)
{
	nn_arena *a = x->fc.tmp;
	Onnx__ModelProto *m = nn_alloc(a, sizeof *m);
	Onnx__OperatorSetIdProto *os = nn_alloc(a, sizeof *os);
	*m = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
	*os = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
	x->opset = EX_MIN_OPSET;
	for (const ir_node *n = x->g->first; n; n = n->next)
		if (node_opset(n) > x->opset)
			x->opset = node_opset(n);
	name_values(x);
	if (!(m->graph = build_graph(x)))
		return NULL;
	os->domain = "";
	os->has_version = true;
	os->version = x->opset;
	m->n_opset_import = 1;
	m->opset_import = nn_alloc_array(a, 1, sizeof *m->opset_import);
	m->opset_import[0] = os;
	m->has_ir_version = true;
	m->ir_version = ir_version_for(x->opset);
	m->producer_name = "nncc";
	return m;
}

/* Writes buf to path through a temporary file renamed into place, so a
 * failure leaves no partial file; "-" is stdout. */
static bool
write_file(const char *path, const void *buf, size_t len, nn_diag *d)
{
	if (strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0)
			return true;
		nn_error(d, "cannot write the ONNX model to stdout");
		return false;
	}
	size_t n = strlen(path) + 32;
	char *tmp = nn_xmalloc(n);
	snprintf(tmp, n, "%s.tmp%ld", path, (long)rand());
	FILE *f = fopen(tmp, "wb");
	bool ok = f && fwrite(buf, 1, len, f) == len;
	int e = errno;
	ok = f && fclose(f) == 0 && ok;
	if (ok && rename(tmp, path) != 0) {
		e = errno;
		ok = false;
	}
	if (!ok) {
		nn_error(d, "cannot write '%s': %s", path, strerror(e));
		remove(tmp);
	}
	free(tmp);
	return ok;
}

bool
fe_export_onnx(const ir_graph *g, const char *path, nn_diag *d)
{
	ex_ctx x = {.fc = {.d = d, .tmp = nn_arena_new()}, .g = g};
	Onnx__ModelProto *m = build_model(&x);
	bool ok = m != NULL;
	if (ok) {
		size_t len = onnx__model_proto__get_packed_size(m);
		/* protobuf's 2 GiB limit; bigger models need external data */
		if (len > INT32_MAX) {
			nn_error(d, "the ONNX model would take %zu bytes, more "
				 "than the 2 GiB one file can hold", len);
			ok = false;
		} else {
			uint8_t *buf = nn_xmalloc(len + 1);
			onnx__model_proto__pack(m, buf);
			ok = write_file(path, buf, len, d);
			free(buf);
		}
	}
	nn_arena_free(x.fc.tmp);
	return ok;
}
