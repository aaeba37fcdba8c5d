/* ONNX import: reads and decodes a ModelProto, checks opsets, binds input
 * shapes, and builds the IR graph (nodes in nodes.c, tensors in tensor.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

/* The newest default-domain opset whose changes the importer knows. */
#define FE_MAX_OPSET 21

const char *
fe_str(const char *s)
{
	return s ? s : "";
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void *
fe_map_get(const fe_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return NULL;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

/* Insert or replace. The table doubles at half load, so probes are short
 * and never loop. */
void
fe_map_put(fe_ctx *c, fe_map *m, const char *key, void *val)
{
	if (2 * (m->len + 1) > m->cap) {
		fe_map old = *m;
		m->cap = old.cap ? 2 * old.cap : 64;
		m->keys = nn_alloc_array(c->tmp, m->cap, sizeof *m->keys);
		m->vals = nn_alloc_array(c->tmp, m->cap, sizeof *m->vals);
		m->len = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.keys[i])
				fe_map_put(c, m, old.keys[i], old.vals[i]);
	}
	size_t i = hash_str(key) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->len++;
	m->keys[i] = key;
	m->vals[i] = val;
}

void
fe_error_np(fe_ctx *c, const Onnx__NodeProto *np, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *op = fe_str(np->op_type);
	if (np->name && *np->name)
		nn_error(c->d, "node '%s' (%s): %s", np->name, op, msg);
	else if (np->n_output > 0 && *fe_str(np->output[0]))
		nn_error(c->d, "node producing '%s' (%s): %s", np->output[0],
			 op, msg);
	else
		nn_error(c->d, "node (%s): %s", op, msg);
}

static void *
pb_alloc(void *arena, size_t size)
{
	return nn_alloc(arena, size);
}

static void
pb_free(void *arena, void *p)
{
	(void)arena;
	(void)p; /* the arena is dropped whole after import */
}

/* Decodes an in-memory ModelProto; NULL after an error. */
static Onnx__ModelProto *
decode_buffer(fe_ctx *c, const void *data, size_t len)
{
	Onnx__ModelProto *m = NULL;
	ProtobufCAllocator a = {pb_alloc, pb_free, c->tmp};
	if (len == 0)
		nn_error(c->d, "empty file, not an ONNX model");
	else if (!(m = onnx__model_proto__unpack(&a, len, data)))
		nn_error(c->d,
			 "not a valid ONNX model (protobuf decode failed)");
	else if (!m->graph) {
		nn_error(c->d, "not a valid ONNX model (no graph)");
		m = NULL;
	}
	return m;
}

/* Reads and decodes the file; NULL after an error. */
static Onnx__ModelProto *
decode_model(fe_ctx *c)
{
	const char *why;
	size_t len;
	char *buf = nn_in_read(c->path, &len, &why);
	if (!buf) {
		nn_error(c->d, "cannot open: %s", why);
		return NULL;
	}
	Onnx__ModelProto *m = decode_buffer(c, (uint8_t *)buf, len);
	free(buf);
	return m;
}

static bool
is_default_domain(const char *d)
{
	return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static bool
read_opset(fe_ctx *c, const Onnx__ModelProto *m)
{
	c->opset = -1;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = m->opset_import[i];
		if (is_default_domain(o->domain) && o->version > c->opset)
			c->opset = o->version;
	}
	if (c->opset < 0) {
		nn_error(c->d, "the model imports no default-domain opset");
		return false;
	}
	if (c->opset > FE_MAX_OPSET)
		nn_warn(c->d,
			"opset %lld is newer than the newest nncc knows (%d); "
			"importing it anyway",
			(long long)c->opset, FE_MAX_OPSET);
	return true;
}

/* A symbolic dimension's name, or NULL for a fixed or anonymous one. */
static const char *
dim_symbol(const Onnx__TensorShapeProto__Dimension *dm)
{
	return dm->value_case ==
			       ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
		       dm->dim_param && *dm->dim_param
		       ? dm->dim_param
		       : NULL;
}

static bool
sym_get(fe_ctx *c, const char *sym, int64_t *v)
{
	intptr_t k = sym ? (intptr_t)fe_map_get(&c->dims, sym) : 0;
	*v = (int64_t)k - 1;
	return k > 0;
}

static void
sym_put(fe_ctx *c, const char *sym, int64_t v)
{
	if (sym && v >= 0 && v < INTPTR_MAX)
		fe_map_put(c, &c->dims, sym, (void *)(intptr_t)(v + 1));
}

/* One dimension of input `name`: the model's fixed value, a binding of the
 * input, the value of its symbolic dimension (bound by name, or by another
 * input that has it: one symbol, one value), or 1 for an unbound symbolic
 * batch (first) dimension. */
static bool
bind_dim(fe_ctx *c, const char *name, const Onnx__TensorShapeProto__Dimension *dm,
	 int i, const fe_input_shape *b, int64_t *out)
{
	bool fixed = dm->value_case ==
			     ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
		     dm->dim_value >= 0;
	const char *sym = dim_symbol(dm);
	if (fixed && b && b->shape.dim[i] != dm->dim_value) {
		nn_error(c->d,
			 "--input-shape %s: dimension %d is %lld in the model, "
			 "not %lld",
			 name, i, (long long)dm->dim_value,
			 (long long)b->shape.dim[i]);
		return false;
	}
	if (fixed || b) {
		*out = fixed ? dm->dim_value : b->shape.dim[i];
		return true;
	}
	if (sym_get(c, sym, out))
		return true;
	if (i == 0) {
		nn_note(c->d,
			"input '%s': symbolic dimension '%s' bound to 1 (use "
			"--input-shape %s=...)",
			name, sym ? sym : "?", sym ? sym : name);
		*out = 1;
		sym_put(c, sym, 1);
		return true;
	}
	nn_error(c->d,
		 "input '%s': symbolic dimension '%s' (dimension %d) is not "
		 "bound (use --input-shape %s=...)",
		 name, sym ? sym : "?", i, sym ? sym : name);
	return false;
}

static bool
input_shape(fe_ctx *c, const char *name, const Onnx__TensorShapeProto *sp,
	    const fe_input_shape *b, ir_shape *s)
{
	if (!sp && !b) {
		nn_error(c->d, "input '%s' has no shape (use --input-shape %s=...)",
			 name, name);
		return false;
	}
	int rank = sp ? (int)sp->n_dim : b->shape.rank;
	if (sp && sp->n_dim > IR_MAX_RANK) {
		nn_error(c->d, "input '%s': rank %zu exceeds the maximum of %d",
			 name, sp->n_dim, IR_MAX_RANK);
		return false;
	}
	if (b && b->shape.rank != rank) {
		nn_error(c->d,
			 "--input-shape %s: rank %d does not match the model's "
			 "rank %d",
			 name, b->shape.rank, rank);
		return false;
	}
	s->rank = rank;
	for (int i = 0; i < rank; i++) {
		if (!sp)
			s->dim[i] = b->shape.dim[i];
		else if (!bind_dim(c, name, sp->dim[i], i, b, &s->dim[i]))
			return false;
	}
	char what[300];
	snprintf(what, sizeof what, "input '%s'", name);
	return fe_check_dims(c, s->dim, (size_t)s->rank, what, s);
}

static const fe_input_shape *
find_binding(fe_ctx *c, const char *name, bool *used)
{
	for (int i = 0; c->o && i < c->o->nshapes; i++)
		if (strcmp(c->o->shapes[i].name, name) == 0) {
			used[i] = true;
			return &c->o->shapes[i];
		}
	return NULL;
}

/* The kind of a non-tensor value type, for the refusal message. */
static const char *
type_kind(const Onnx__TypeProto *tp)
{
	switch (tp ? tp->value_case : ONNX__TYPE_PROTO__VALUE__NOT_SET) {
	case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
		return "a sequence";
	case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
		return "a map";
	case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
		return "an optional";
	case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
		return "a sparse tensor";
	default:
		return "untyped";
	}
}

/* Whether the .npy of --input-value val has the rank and the fixed
 * dimensions of the model's input (its symbolic ones it binds). */
static bool
value_dims_fit(fe_ctx *c, const char *name, const Onnx__TensorShapeProto *sp,
	       const fe_input_value *val)
{
	char got[200];
	ir_shape_str(&val->shape, got, sizeof got);
	if (sp && (int)sp->n_dim != val->shape.rank) {
		nn_error(c->d, "--input-value %s: '%s' holds %s%s (rank %d), "
			 "but input '%s' has rank %zu", name, val->path,
			 ir_dtype_name(val->dtype), got, val->shape.rank, name,
			 sp->n_dim);
		return false;
	}
	for (size_t i = 0; sp && i < sp->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *dm = sp->dim[i];
		if (dm->value_case ==
			    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
		    dm->dim_value >= 0 && dm->dim_value != val->shape.dim[i]) {
			nn_error(c->d, "--input-value %s: '%s' holds %s%s, but "
				 "dimension %zu of input '%s' is %lld", name,
				 val->path, ir_dtype_name(val->dtype), got, i,
				 name, (long long)dm->dim_value);
			return false;
		}
	}
	return true;
}

static bool
import_input(fe_ctx *c, const Onnx__ValueInfoProto *vi, bool *used,
	     bool *vused)
{
	const char *name = fe_str(vi->name);
	ir_value *known = fe_map_get(&c->values, name);
	if (known && known->is_input) {
		nn_error(c->d, "input '%s' is listed twice", name);
		return false;
	}
	if (known)
		return true; /* an initializer old exporters also list */
	char what[300];
	snprintf(what, sizeof what, "input '%s'", name);
	const Onnx__TypeProto *tp = vi->type;
	if (!*name || !tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
		nn_error(c->d, "%s is %s, not a tensor (nncc supports tensor "
			 "values only)", what, type_kind(tp));
		return false;
	}
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	ir_dtype t = fe_dtype(c, tt->has_elem_type ? tt->elem_type : 0, what);
	const fe_input_value *val = fe_find_value(c->o, name);
	const fe_input_shape *b = find_binding(c, name, used);
	fe_input_shape vb;
	if (val)
		vused[val - c->o->values] = true;
	if (val && !val->text && !b) { /* the .npy binds symbolic dims */
		if (!value_dims_fit(c, name, tt->shape, val))
			return false;
		vb.name = name;
		vb.shape = val->shape;
		b = &vb;
	}
	ir_shape s;
	if (t == IR_UNDEF || !input_shape(c, name, tt->shape, b, &s))
		return false;
	ir_value *v = ir_add_input(c->g, ir_intern(c->g, name), t, &s);
	fe_map_put(c, &c->values, name, v);
	return !val || fe_freeze_value(c->g, v, val, c->d);
}

/* The tensor shape the model declares for input vi, or NULL. */
static const Onnx__TensorShapeProto *
declared_shape(const Onnx__ValueInfoProto *vi)
{
	const Onnx__TypeProto *tp = vi->type;
	return tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
		       ? tp->tensor_type->shape
		       : NULL;
}

/* Records the value a binding gives to each symbolic dimension of the
 * input it binds; false (reported) when two bindings disagree. */
static bool
learn_symbols(fe_ctx *c, const char *name, const Onnx__TensorShapeProto *sp,
	      const ir_shape *s, const char *how)
{
	for (size_t i = 0; sp && i < sp->n_dim && (int)i < s->rank; i++) {
		const char *sym = dim_symbol(sp->dim[i]);
		int64_t v;
		if (!sym)
			continue;
		if (sym_get(c, sym, &v) && v != s->dim[i]) {
			nn_error(c->d, "%s %s makes symbolic dimension '%s' "
				 "%lld, but it is %lld already (every input "
				 "with '%s' shares its value)", how, name, sym,
				 (long long)s->dim[i], (long long)v, sym);
			return false;
		}
		sym_put(c, sym, s->dim[i]);
	}
	return true;
}

/* Before any input imports: the symbolic dimensions bound by name
 * (--input-shape N=8, N no input's name) and through the inputs bound
 * by --input-shape or a .npy --input-value, so that every input sharing a
 * symbol gets the same value. */
static bool
bind_symbols(fe_ctx *c, const Onnx__GraphProto *gp, bool *used)
{
	bool ok = true;
	for (int k = 0; c->o && k < c->o->nshapes; k++) {
		const fe_input_shape *b = &c->o->shapes[k];
		bool input = false, named = false;
		for (size_t i = 0; i < gp->n_input; i++) {
			const Onnx__TensorShapeProto *sp =
				declared_shape(gp->input[i]);
			input |= !strcmp(fe_str(gp->input[i]->name), b->name);
			for (size_t j = 0; sp && j < sp->n_dim; j++)
				named |= dim_symbol(sp->dim[j]) &&
					 !strcmp(dim_symbol(sp->dim[j]), b->name);
		}
		if (input || !named)
			continue; /* an input's binding, or reported later */
		if (b->shape.rank != 1) {
			nn_error(c->d, "--input-shape %s: a symbolic dimension "
				 "takes one value (%s=8)", b->name, b->name);
			ok = false;
			continue;
		}
		used[k] = true;
		ir_shape one = {1, {b->shape.dim[0]}};
		const char *sym = b->name;
		int64_t v;
		if (sym_get(c, sym, &v) && v != one.dim[0]) {
			nn_error(c->d, "--input-shape binds symbolic dimension "
				 "'%s' twice", sym);
			ok = false;
		}
		sym_put(c, sym, one.dim[0]);
	}
	for (size_t i = 0; ok && i < gp->n_input; i++) {
		const char *name = fe_str(gp->input[i]->name);
		const Onnx__TensorShapeProto *sp = declared_shape(gp->input[i]);
		const fe_input_value *val = fe_find_value(c->o, name);
		for (int k = 0; c->o && k < c->o->nshapes; k++)
			if (!strcmp(c->o->shapes[k].name, name))
				ok &= learn_symbols(c, name, sp,
						    &c->o->shapes[k].shape,
						    "--input-shape");
		if (val && !val->text && sp && (int)sp->n_dim ==
		    val->shape.rank)
			ok &= learn_symbols(c, name, sp, &val->shape,
					    "--input-value");
	}
	return ok;
}

static bool
import_inputs(fe_ctx *c, const Onnx__GraphProto *gp)
{
	int nb = c->o ? c->o->nshapes : 0;
	bool *used = nn_alloc_array(c->tmp, (size_t)nb + 1, sizeof *used);
	int nv = c->o ? c->o->nvalues : 0;
	bool *vused = nn_alloc_array(c->tmp, (size_t)nv + 1, sizeof *vused);
	bool ok = bind_symbols(c, gp, used);
	for (size_t i = 0; i < gp->n_input; i++)
		ok &= import_input(c, gp->input[i], used, vused);
	ok = fe_check_values(c->o, vused, c->d) && ok;
	for (int i = 0; i < nb; i++)
		if (!used[i]) {
			nn_error(c->d, "--input-shape: the model has no input "
				       "or symbolic dimension named '%s'",
				 c->o->shapes[i].name);
			ok = false;
		}
	return ok;
}

/* Graph outputs in graph order. An output that is a graph input or a
 * constant gets an Identity node, so every output is computed. */
static bool
import_outputs(fe_ctx *c, const Onnx__GraphProto *gp)
{
	bool ok = true;
	if (gp->n_output == 0) {
		nn_error(c->d, "the graph has no outputs");
		return false;
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *name = fe_str(gp->output[i]->name);
		ir_value *v = fe_lookup(c, name);
		if (!v) {
			nn_error(c->d, "graph output '%s' is not defined", name);
			ok = false;
			continue;
		}
		if (!v->def) {
			ir_node *n = ir_add_node(c->g, OP_Identity, NULL, 1, &v, 1);
			v = n->out[0];
		}
		ir_add_output(c->g, v);
	}
	return ok;
}

static bool
import_graph(fe_ctx *c, const Onnx__GraphProto *gp)
{
	if (gp->n_sparse_initializer > 0) {
		nn_error(c->d, "sparse initializers are not supported");
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < gp->n_initializer; i++) {
		ir_value *v = fe_initializer(c, gp->initializer[i]);
		if (v && fe_map_get(&c->values, v->name)) {
			nn_error(c->d, "initializer '%s' is defined twice",
				 v->name);
			v = NULL;
		}
		if (v)
			fe_map_put(c, &c->values, v->name, v);
		ok &= v != NULL;
	}
	ok = ok && import_inputs(c, gp);
	return ok && fe_import_nodes(c, gp) && import_outputs(c, gp);
}

/* ------------------------------------------------------------------ */
/* Subgraphs: If's branches, Loop's and Scan's bodies. */

/* `name` as seen from graph g (names m) inside the enclosing frames f. */
static ir_value *
see(fe_ctx *c, fe_frame *f, ir_graph *g, fe_map *m, const char *name)
{
	ir_value *v = fe_map_get(m, name), *o;
	if (v || !f || !*name || !(o = see(c, f->up, f->g, &f->values, name)))
		return v;
	if (ir_is_const(o)) {
		v = ir_add_const_shared(g, o);
	} else {
		v = ir_add_input(g, o->name, IR_UNDEF, NULL);
		g->ncaptured++;
		int k = 0;
		while (k < f->caps->n && f->caps->v[k] != o)
			k++;
		if (k == f->caps->n) {
			ir_value **a = nn_alloc_array(c->tmp,
						      (size_t)k + 1, sizeof *a);
			if (k)
				memcpy(a, f->caps->v, sizeof *a * (size_t)k);
			a[k] = o;
			f->caps->v = a;
			f->caps->n++;
		}
	}
	fe_map_put(c, m, name, v);
	return v;
}

ir_value *
fe_lookup(fe_ctx *c, const char *name)
{
	return see(c, c->up, c->g, &c->values, name);
}

bool
fe_import_subgraph(fe_ctx *c, const Onnx__NodeProto *np,
		   const Onnx__GraphProto *gp, ir_graph **out)
{
	fe_frame f = {c->up, c->g, c->values, c->caps};
	ir_graph *sub = ir_subgraph_new(c->g, gp->name && *gp->name
						      ? gp->name : "body");
	bool ok = true;
	c->g = sub;
	c->values = (fe_map){0};
	c->up = &f;
	c->caps = NULL;
	if (gp->n_sparse_initializer > 0) {
		fe_error_np(c, np, "sparse initializers are not supported");
		ok = false;
	}
	for (size_t i = 0; ok && i < gp->n_initializer; i++) {
		ir_value *v = fe_initializer(c, gp->initializer[i]);
		if (v)
			fe_map_put(c, &c->values, v->name, v);
		ok = v != NULL;
	}
	/* the node's hook types the inputs (ONNX may leave them untyped) */
	for (size_t i = 0; ok && i < gp->n_input; i++) {
		const char *name = fe_str(gp->input[i]->name);
		if (fe_map_get(&c->values, name))
			continue;
		ir_value *v = ir_add_input(sub, name, IR_UNDEF, NULL);
		fe_map_put(c, &c->values, name, v);
	}
	ok = ok && fe_import_nodes(c, gp) && import_outputs(c, gp);
	c->g = f.g;
	c->values = f.values;
	c->up = f.up;
	c->caps = f.caps;
	*out = sub;
	return ok;
}

void
fe_align_captures(fe_ctx *c, ir_attr *attrs, int nattrs, const fe_caps *caps)
{
	for (int a = 0; a < nattrs; a++) {
		ir_graph *sub = attrs[a].kind == IR_ATTR_GRAPH ? attrs[a].g
							       : NULL;
		if (!sub)
			continue;
		int own = sub->ninputs - sub->ncaptured;
		ir_value **in = nn_alloc_array(c->tmp, (size_t)own +
					       (size_t)caps->n + 1, sizeof *in);
		memcpy(in, sub->inputs, sizeof *in * (size_t)own);
		for (int k = 0; k < caps->n; k++) {
			ir_value *v = NULL;
			for (int i = own; i < sub->ninputs && !v; i++)
				if (sub->inputs[i]->name == caps->v[k]->name ||
				    !strcmp(sub->inputs[i]->name,
					    caps->v[k]->name))
					v = sub->inputs[i];
			in[own + k] = v ? v : ir_add_input(sub,
				caps->v[k]->name, IR_UNDEF, NULL);
		}
		ir_set_inputs(sub, in, own + caps->n);
		sub->ncaptured = caps->n;
	}
}

/* Shape inference, binding nncc-run's data where inference needs it
 * (fe_options.avail). */
static bool
infer(fe_ctx *c)
{
	const fe_options *o = c->o;
	ir_graph *g = c->g;
	for (int i = 0; o && o->frozen && i < o->navail; i++)
		o->frozen[i] = NULL;
	if (!o || !o->avail || !o->frozen)
		return ir_infer_shapes(g, c->d);
	if (o->navail != g->ninputs) {
		bool ok = ir_infer_shapes(g, c->d);
		if (!ok)
			nn_note(c->d, "%d arrays given for the graph's %d "
				"inputs, so none was frozen to its data",
				o->navail, g->ninputs);
		return ok;
	}
	int n = g->ninputs;
	const void **av = nn_xcalloc((size_t)n + 1, sizeof *av);
	const char **names = nn_xcalloc((size_t)n + 1, sizeof *names);
	bool *frozen = nn_xcalloc((size_t)n + 1, sizeof *frozen);
	for (int i = 0; i < n; i++) {
		names[i] = g->inputs[i]->name;
		if (fe_value_fits(&o->avail[i], g->inputs[i]->dtype,
				  &g->inputs[i]->shape))
			av[i] = o->avail[i].data;
	}
	bool ok = ir_infer_shapes_binding(g, av, frozen, c->d);
	for (int i = 0; i < n; i++)
		o->frozen[i] = frozen[i] ? names[i] : NULL;
	free((void *)av);
	free((void *)names);
	free(frozen);
	return ok;
}

/* Imports a decoded model (m may be NULL after a decode error), then runs
 * shape inference; frees c's scratch arena. */
static ir_graph *
import_model(fe_ctx *c, const Onnx__ModelProto *m)
{
	if (m && read_opset(c, m)) {
		const char *name = m->graph->name && *m->graph->name
					   ? m->graph->name
					   : "main";
		c->g = ir_graph_new(name);
		c->g->opset = c->opset;
		nn_progress("import", "%zu nodes, %zu initializers",
			    m->graph->n_node, m->graph->n_initializer);
		if (!import_graph(c, m->graph)) {
			ir_graph_free(c->g);
			c->g = NULL;
		}
	}
	nn_arena_free(c->tmp);
	if (c->g)
		nn_progress("import", "shape inference over %d nodes",
			    c->g->nnodes);
	/* an If whose condition inference knows is its branch from here on */
	if (c->g && (!infer(c) || !ir_fold_ifs(c->g, c->d))) {
		ir_graph_free(c->g);
		c->g = NULL;
	}
	return c->g;
}

ir_graph *
fe_import_onnx(const char *path, const fe_options *o, nn_diag *d)
{
	if (!d->file)
		d->file = path;
	fe_ctx c = {.d = d, .o = o, .path = path, .tmp = nn_arena_new()};
	return import_model(&c, decode_model(&c));
}

ir_graph *
fe_import_onnx_buffer(const void *data, size_t len, const char *name,
		      const fe_options *o, nn_diag *d)
{
	if (!d->file)
		d->file = name;
	/* No path: there is no folder, so external data is refused. */
	fe_ctx c = {.d = d, .o = o, .path = NULL, .tmp = nn_arena_new()};
	return import_model(&c, decode_buffer(&c, data, len));
}

/* Names parsed from --input-shape live as long as the process; a static
 * root keeps them reachable for leak checkers. */
static nn_arena *shape_names;

bool
fe_parse_input_shape(const char *arg, fe_input_shape *s)
{
	const char *eq = strrchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return false;
	s->shape.rank = 0;
	int64_t numel = 1;
	for (const char *p = eq + 1;;) {
		char *end;
		if (*p < '0' || *p > '9' || s->shape.rank == IR_MAX_RANK)
			return false;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || v <= 0 || v > IR_MAX_ELEMS / numel)
			return false;
		numel *= v;
		s->shape.dim[s->shape.rank++] = v;
		if (!*end)
			break;
		if (*end != 'x' && *end != 'X')
			return false;
		p = end + 1;
	}
	if (!shape_names)
		shape_names = nn_arena_new();
	char *name = nn_alloc(shape_names, (size_t)(eq - arg) + 1);
	memcpy(name, arg, (size_t)(eq - arg));
	s->name = name;
	return true;
}

/* The bytes of a model's head that tell its format. */
#define FE_FORMAT_HEAD 4096

/* stdin ("-") is read once: the tools load a model more than once (the
 * reference pipeline, a second import with shapes), and every load of "-"
 * sees the same bytes. Static like shape_names, for the same reason. */
static char *stdin_buf;
static size_t stdin_len;

static char *
read_stdin(size_t *len, const char **why)
{
	size_t cap = 1 << 16, got;

	if (!stdin_buf) {
		stdin_buf = nn_xmalloc(cap);
		while ((got = fread(stdin_buf + stdin_len, 1,
				    cap - stdin_len - 1, stdin)) > 0)
			if ((stdin_len += got) == cap - 1)
				stdin_buf = nn_xrealloc(stdin_buf, cap *= 2);
		stdin_buf[stdin_len] = 0;
		if (ferror(stdin)) {
			*why = strerror(errno);
			free(stdin_buf);
			stdin_buf = NULL;
			stdin_len = 0;
			return NULL;
		}
	}
	char *copy = nn_xmalloc(stdin_len + 1);
	memcpy(copy, stdin_buf, stdin_len + 1);
	*len = stdin_len;
	return copy;
}

bool
fe_model_hash(const char *path, char hex[17])
{
	const char *why;
	size_t len = 0;
	char *buf = !strcmp(path, "-") ? read_stdin(&len, &why)
				       : nn_in_read(path, &len, &why);
	uint64_t h = 0xcbf29ce484222325ull;
	if (!buf)
		return false;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ull;
	}
	free(buf);
	snprintf(hex, 17, "%016llx", (unsigned long long)h);
	return true;
}

bool
fe_is_ir_text(const void *data, size_t len)
{
	/* ONNX is protobuf: every exporter's first byte is ir_version's tag
	 * 0x08, and protobuf tags and lengths soon give control bytes; IR
	 * text has none but whitespace. Only the head is looked at. */
	const unsigned char *p = data;

	for (size_t i = 0; i < len && i < FE_FORMAT_HEAD; i++)
		if (p[i] < 0x20 && !strchr("\t\n\v\f\r", p[i]))
			return false;
	return len > 0;
}

int
fe_model_format(const char *path)
{
	/* a file's head is enough; stdin is read whole (and kept) */
	const char *why;
	size_t len = 0;
	char *buf = NULL;
	FILE *f;
	int fmt;

	if (!strcmp(path, "-")) {
		buf = read_stdin(&len, &why);
	} else if ((f = nn_in_open(path, &why))) {
		buf = nn_xmalloc(FE_FORMAT_HEAD);
		len = fread(buf, 1, FE_FORMAT_HEAD, f);
		fclose(f);
	}
	if (!buf)
		return -1;
	fmt = fe_is_ir_text(buf, len) ? FE_MODEL_TEXT : FE_MODEL_ONNX;
	free(buf);
	return fmt;
}

static ir_graph *
load_text(const char *text, size_t len, const fe_options *o, nn_diag *d)
{
	if (o && o->nshapes > 0)
		nn_warn(d, "--input-shape is ignored for IR text, whose shapes "
			   "are static");
	ir_graph *g = ir_parse(text, len, d);
	if (g && !fe_freeze_text_values(g, o, d)) {
		ir_graph_free(g);
		return NULL;
	}
	/* Verify only: inference would overwrite the text's types and hide
	 * the mismatches the verifier reports; it fills known data itself. */
	if (g && !ir_verify(g, d)) {
		ir_graph_free(g);
		g = NULL;
	}
	return g;
}

ir_graph *
fe_load_model(const char *path, const fe_options *o, nn_diag *d)
{
	bool in = !strcmp(path, "-");
	const char *why;
	size_t len;
	char *buf = in ? read_stdin(&len, &why) : nn_in_read(path, &len, &why);
	ir_graph *g;

	if (!d->file)
		d->file = in ? "<stdin>" : path;
	if (!buf) {
		nn_error(d, "cannot open: %s", why);
		return NULL;
	}
	if (len == 0) {
		nn_error(d, "empty file, not an ONNX model or IR text");
		g = NULL;
	} else if (fe_is_ir_text(buf, len)) {
		g = load_text(buf, len, o, d);
	} else {
		/* stdin has no folder: external data is refused */
		fe_ctx c = {.d = d, .o = o, .path = in ? NULL : path,
			    .tmp = nn_arena_new()};
		g = import_model(&c, decode_buffer(&c, buf, len));
	}
	free(buf);
	return g;
}
