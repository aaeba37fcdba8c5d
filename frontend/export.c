/* IR to ONNX (--emit-onnx): writes a graph as a plain ModelProto at the
 * lowest default-domain opset that holds the forms the IR uses; nncc's
 * fused ops become the standard nodes they stand for. */
#include <stdlib.h>
#include <string.h>

#include "export.h"

void
fe_ex_push(ex_ctx *x, ptrvec *v, void *p)
{
	if (v->n == v->cap) {
		void **grown = nn_alloc_array(
		        x->fc.tmp, v->cap ? 2 * v->cap : 64, sizeof *grown);
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
	fe_map *used = x->names ? x->names : &x->used;
	for (long k = 1; fe_map_get(used, s); k++) {
		char *t = nn_alloc(x->fc.tmp, len);
		snprintf(t, len, "%s_%ld", base, k);
		s = t;
	}
	s = xstrdup(x, s);
	fe_map_put(&x->fc, used, s, (void *)s);
	return s;
}

/* A fresh name built from an existing one and a suffix. */
const char *
fe_ex_derived_name(ex_ctx *x, const char *base, const char *suffix)
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
 * survive, then constants and node outputs in order; a subgraph's
 * captured inputs take the names cap[] of the outer values. */
static void
name_values(ex_ctx *x, const char *const *cap)
{
	const ir_graph *g = x->g;
	size_t n = (size_t)g->ninputs + (size_t)g->noutputs +
	           (size_t)g->nconsts + 1;
	for (const ir_node *nd = g->first; nd; nd = nd->next)
		n += (size_t)nd->nout;
	for (x->vcap = 64; x->vcap < 2 * n;)
		x->vcap *= 2;
	x->vn = nn_alloc_array(x->fc.tmp, x->vcap, sizeof *x->vn);
	for (int k = 0; k < g->ncaptured; k++) {
		const ir_value *v = g->inputs[g->ninputs - g->ncaptured + k];
		*slot(x, v) = (vname){v, cap[k], true};
	}
	for (int i = 0; i < g->ninputs; i++)
		name_value(x, g->inputs[i], "input", i);
	for (int i = 0; i < g->noutputs; i++)
		name_value(x, g->outputs[i], NULL, i);
	for (int i = 0; i < g->nconsts; i++)
		name_value(x, g->consts[i], "const", i);
	for (const ir_node *nd = g->first; nd; nd = nd->next)
		for (int i = 0; i < nd->nout; i++)
			name_value(x, nd->out[i],
			           nd->name ? nd->name : ir_ops[nd->op].name,
			           i);
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
			b[i] = ((const uint8_t *)
			                data)[i - i % es + es - 1 - i % es];
		tp->raw_data.data = b;
	}
	return tp;
}

Onnx__ValueInfoProto *
fe_ex_value_info(ex_ctx *x, const char *name, ir_dtype t, const ir_shape *s)
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
const char *
fe_ex_ref(ex_ctx *x, const ir_value *v)
{
	if (!v)
		return "";
	vname *s = slot(x, v);
	NN_ASSERT(s->v == v);
	if (ir_is_const(v) && !s->emitted) {
		if (v->elided || !v->data) {
			nn_error(x->fc.d,
			         "constant '%s' has no data (elided "
			         "in the IR text it was read from)",
			         ir_value_label(v));
			return NULL;
		}
		fe_ex_push(
		        x, &x->inits,
		        tensor_proto(x, s->name, v->dtype, &v->shape, v->data));
	}
	s->emitted = true;
	return s->name;
}

const char *
fe_ex_out_name(ex_ctx *x, const ir_value *v)
{
	return v ? slot(x, v)->name : "";
}

/* A new initializer named after `base` (a scalar or 1-D tensor). */
const char *
fe_ex_add_init(ex_ctx *x, const char *base, const char *suffix, ir_dtype t,
               const ir_shape *s, const void *data)
{
	const char *name = fe_ex_derived_name(x, base, suffix);
	size_t len = (size_t)ir_shape_numel(s) * ir_dtype_size(t);
	void *copy = nn_alloc(x->fc.tmp, len + 1);
	memcpy(copy, data, len);
	fe_ex_push(x, &x->inits, tensor_proto(x, name, t, s, copy));
	return name;
}

/* A node with room for nattr attributes; names are borrowed (they live
 * in the arena or the graph). Trailing omitted inputs are dropped. */
Onnx__NodeProto *
fe_ex_add_node(ex_ctx *x, const char *op, const char *name, int nin,
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
	np->attribute =
	        nn_alloc_array(a, (size_t)nattr + 1, sizeof *np->attribute);
	fe_ex_push(x, &x->nodes, np);
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

void
fe_ex_attr_int(ex_ctx *x, Onnx__NodeProto *np, const char *name, int64_t v)
{
	Onnx__AttributeProto *ap = new_attr(
	        x, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	ap->has_i = true;
	ap->i = v;
}

void
fe_ex_attr_float(ex_ctx *x, Onnx__NodeProto *np, const char *name, double v)
{
	Onnx__AttributeProto *ap = new_attr(
	        x, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	ap->has_f = true;
	ap->f = (float)v;
}

void
fe_ex_attr_ints(ex_ctx *x, Onnx__NodeProto *np, const char *name,
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
void
fe_ex_copy_attr(ex_ctx *x, Onnx__NodeProto *np, const ir_attr *a)
{
	Onnx__AttributeProto *ap;
	switch (a->kind) {
	case IR_ATTR_INT:
		fe_ex_attr_int(x, np, a->name, a->i);
		return;
	case IR_ATTR_FLOAT:
		fe_ex_attr_float(x, np, a->name, a->f);
		return;
	case IR_ATTR_INTS:
		fe_ex_attr_ints(x, np, a->name, a->ints, a->n);
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
	case IR_ATTR_GRAPH: /* fe_ex_graph_attr, which knows the node */
	case IR_NATTR_KINDS:
		break;
	}
	nn_unreachable();
}

static Onnx__GraphProto *build_graph(ex_ctx *x);

bool
fe_ex_graph_attr(ex_ctx *x, Onnx__NodeProto *np, const ir_node *n,
		 const ir_attr *a)
{
	const ir_graph *sub = a->g;
	ex_ctx s = {.fc = x->fc, .g = sub, .opset = x->opset,
		    .names = x->names ? x->names : &x->used};
	const char **cap = nn_alloc_array(x->fc.tmp,
					  (size_t)sub->ncaptured + 1,
					  sizeof *cap);
	for (int k = 0; k < sub->ncaptured; k++)
		if (!(cap[k] = fe_ex_ref(x, n->in[n->nin - sub->ncaptured +
						  k])))
			return false;
	name_values(&s, cap);
	Onnx__GraphProto *gp = build_graph(&s);
	if (!gp)
		return false;
	Onnx__AttributeProto *ap = new_attr(x, np, a->name,
		ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
	ap->g = gp;
	return true;
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
	Onnx__ValueInfoProto **o =
	        nn_alloc_array(x->fc.tmp, (size_t)g->noutputs + 1, sizeof *o);
	for (int i = 0; i < g->noutputs; i++) {
		const ir_value *v = g->outputs[i];
		const char *name = fe_ex_ref(x, v);
		bool again = false;
		for (int j = 0; j < i; j++)
			again |= g->outputs[j] == v;
		if (!name)
			return NULL;
		if (!v->def || again) {
			const char *id = fe_ex_derived_name(x, name, "_out");
			fe_ex_add_node(x, "Identity", id, 1, &name, 1, &id, 0);
			name = id;
		}
		o[i] = fe_ex_value_info(x, name, v->dtype, &v->shape);
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
				fe_ex_push(x, &x->vinfo,
				           fe_ex_value_info(
				                   x, fe_ex_out_name(x, v),
				                   v->dtype, &v->shape));
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
	int own = g->ninputs - g->ncaptured; /* captures are outer names */
	gp->n_input = (size_t)own;
	gp->input = nn_alloc_array(x->fc.tmp, (size_t)own + 1,
	                           sizeof *gp->input);
	for (int i = 0; i < own; i++) {
		const ir_value *v = g->inputs[i];
		gp->input[i] = fe_ex_value_info(x, fe_ex_ref(x, v), v->dtype,
		                                &v->shape);
	}
	for (const ir_node *n = g->first; n; n = n->next)
		if (!fe_ex_emit_node(x, n))
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
		if (fe_ex_node_opset(n) > x->opset)
			x->opset = fe_ex_node_opset(n);
	name_values(x, NULL);
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
			nn_error(d,
			         "the ONNX model would take %zu bytes, more "
			         "than the 2 GiB one file can hold",
			         len);
			ok = false;
		} else {
			uint8_t *buf = nn_xmalloc(len + 1);
			onnx__model_proto__pack(m, buf);
			ok = nn_out_write_file(path, buf, len, d);
			free(buf);
		}
	}
	nn_arena_free(x.fc.tmp);
	return ok;
}
