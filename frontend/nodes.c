/* NodeProto import: op lookup (reporting every unsupported op at once),
 * topological ordering, attribute checking, Constant nodes, and IR nodes. */
#include <stdint.h>
#include <string.h>

#include "fe_internal.h"

static bool
default_domain(const char *d)
{
	return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static const char *
np_label(const Onnx__NodeProto *np)
{
	if (np->name && *np->name)
		return np->name;
	return np->n_output > 0 ? fe_str(np->output[0]) : "";
}

typedef struct bad_op {
	const char *type; /* "Foo" or "domain.Foo" */
	const char *first;
	int count;
} bad_op;

/* Lists each distinct op of the given class (foreign domain or unknown)
 * with its count and first node, in one error line. */
static void
report_bad(fe_ctx *c, const bad_op *b, int nb, const char *what)
{
	size_t cap = 64, len = 0;
	for (int i = 0; i < nb; i++)
		cap += strlen(b[i].type) + strlen(b[i].first) + 48;
	char *buf = nn_alloc(c->tmp, cap);
	for (int i = 0; i < nb; i++)
		len += (size_t)snprintf(buf + len, cap - len,
					"%s%s (%d node%s, first '%s')",
					i ? ", " : "", b[i].type, b[i].count,
					b[i].count == 1 ? "" : "s", b[i].first);
	nn_error(c->d, "%s: %s", what, buf);
}

static void
note_bad(fe_ctx *c, bad_op *b, int *nb, const Onnx__NodeProto *np)
{
	const char *type = fe_str(np->op_type);
	if (!default_domain(np->domain)) {
		size_t n = strlen(np->domain) + strlen(type) + 2;
		char *t = nn_alloc(c->tmp, n);
		snprintf(t, n, "%s.%s", np->domain, type);
		type = t;
	}
	for (int i = 0; i < *nb; i++)
		if (strcmp(b[i].type, type) == 0) {
			b[i].count++;
			return;
		}
	b[(*nb)++] = (bad_op){type, np_label(np), 1};
}

/* ONNX ops that import as another op: Upsample (deprecated at opset 10)
 * is Resize, which convert.c turns into the current Resize form; Scatter
 * (deprecated at opset 11) is ScatterElements without reduction; Einsum
 * becomes Transpose/Reshape/Gather/ReduceSum/MatMul nodes (einsum.c), and
 * its row names the op at its core. */
static const struct {
	const char *type;
	ir_op op;
} aliases[] = {
	{"Upsample", OP_Resize},
	{"Scatter", OP_ScatterElements},
	{"Einsum", OP_MatMul},
};

bool
fe_import_alias(int i, const char **type, ir_op *op)
{
	if (i < 0 || (size_t)i >= sizeof aliases / sizeof aliases[0])
		return false;
	*type = aliases[i].type;
	*op = aliases[i].op;
	return true;
}

/* ONNX ops refused by design, each with the reason (issue 11): nncc
 * compiles inference over static shapes into deterministic code. The
 * data-dependent ones are evaluated at import when their input is a
 * constant (fold_data.c); training ops live in ai.onnx.preview.training. */
enum { REF_SHAPE, REF_TRAIN, REF_RANDOM, NREF };
static const struct {
	const char *type;
	int why;
} refused[] = {
	{"NonZero", REF_SHAPE}, {"NonMaxSuppression", REF_SHAPE},
	{"Unique", REF_SHAPE}, {"Adam", REF_TRAIN}, {"Adagrad", REF_TRAIN},
	{"Momentum", REF_TRAIN}, {"RandomUniform", REF_RANDOM},
	{"RandomNormal", REF_RANDOM}, {"RandomUniformLike", REF_RANDOM},
	{"RandomNormalLike", REF_RANDOM}, {"Bernoulli", REF_RANDOM},
	{"Multinomial", REF_RANDOM},
};
static const char *const refused_why[NREF] = {
	[REF_SHAPE] = "ops whose output shape depends on the data are not "
		      "supported (nncc's shapes are static; they are "
		      "evaluated at import only on a constant input)",
	[REF_TRAIN] = "training ops are not supported (nncc compiles "
		      "inference)",
	[REF_RANDOM] = "random ops are not supported (compiled code is "
		       "deterministic)",
};

/* The reason class of a refused op, or -1. */
static int
refused_class(const Onnx__NodeProto *np)
{
	const char *d = np->domain;
	if (!default_domain(d) && strcmp(d, "ai.onnx.preview.training"))
		return -1;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (strcmp(fe_str(np->op_type), refused[i].type) == 0)
			return refused[i].why;
	return -1;
}

static ir_op
lookup_op(const char *type)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(type, aliases[i].type) == 0)
			return aliases[i].op;
	return ir_op_lookup(type);
}

/* The bad-op lists of lookup_ops, over a graph and its subgraphs. */
typedef struct bad_ops {
	bad_op *dom, *unk, *ref[NREF];
	int ndom, nunk, nref[NREF];
} bad_ops;

/* Nodes in gp and, through GRAPH and GRAPHS attributes, every subgraph
 * (If's branches, Loop's and Scan's bodies) to any depth. */
static size_t
count_nodes(const Onnx__GraphProto *gp)
{
	size_t n = gp->n_node;
	for (size_t i = 0; i < gp->n_node; i++)
		for (size_t k = 0; k < gp->node[i]->n_attribute; k++) {
			const Onnx__AttributeProto *a = gp->node[i]->attribute[k];
			if (a->g)
				n += count_nodes(a->g);
			for (size_t j = 0; j < a->n_graphs; j++)
				n += count_nodes(a->graphs[j]);
		}
	return n;
}

/* Notes the foreign and unknown ops of gp and of all its subgraphs; ops
 * (if not NULL) gets gp's own nodes' ops, IR_NOPS for a bad one. */
static void
note_graph(fe_ctx *c, const Onnx__GraphProto *gp, ir_op *ops, bad_ops *b)
{
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		ir_op op = IR_NOPS;
		int why = refused_class(np);
		if (why == REF_SHAPE && fe_folds_at_import(c, gp, np)) {
			if (ops)
				ops[i] = op; /* import_node evaluates it */
			continue;
		}
		if (why >= 0)
			note_bad(c, b->ref[why], &b->nref[why], np);
		else if (!default_domain(np->domain))
			note_bad(c, b->dom, &b->ndom, np);
		else if ((op = lookup_op(fe_str(np->op_type))) == IR_NOPS)
			note_bad(c, b->unk, &b->nunk, np);
		if (ops)
			ops[i] = op;
		for (size_t k = 0; k < np->n_attribute; k++) {
			const Onnx__AttributeProto *a = np->attribute[k];
			if (a->g)
				note_graph(c, a->g, NULL, b);
			for (size_t j = 0; j < a->n_graphs; j++)
				note_graph(c, a->graphs[j], NULL, b);
		}
	}
}

/* Looks every op up first, so that one run lists all that are missing,
 * inside subgraphs too (an LSTM in an If's branch is named at once). */
static bool
lookup_ops(fe_ctx *c, const Onnx__GraphProto *gp, ir_op *ops)
{
	size_t n = count_nodes(gp);
	bad_ops b = {nn_alloc_array(c->tmp, n + 1, sizeof *b.dom),
		     nn_alloc_array(c->tmp, n + 1, sizeof *b.unk), {0}, 0, 0,
		     {0}};
	int nrefs = 0;
	for (int k = 0; k < NREF; k++)
		b.ref[k] = nn_alloc_array(c->tmp, n + 1, sizeof *b.ref[k]);
	note_graph(c, gp, ops, &b);
	if (b.ndom)
		report_bad(c, b.dom, b.ndom,
			   "ops from domains other than ai.onnx are not "
			   "supported");
	if (b.nunk)
		report_bad(c, b.unk, b.nunk, "unsupported ops");
	for (int k = 0; k < NREF; k++) {
		if (b.nref[k])
			report_bad(c, b.ref[k], b.nref[k], refused_why[k]);
		nrefs += b.nref[k];
	}
	return !b.ndom && !b.nunk && !nrefs;
}

/* Maps every node output name to its node's index + 1, refusing names
 * defined twice. */
static bool
map_producers(fe_ctx *c, const Onnx__GraphProto *gp, fe_map *prod)
{
	bool ok = true;
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		for (size_t j = 0; j < np->n_output; j++) {
			const char *o = fe_str(np->output[j]);
			if (!*o)
				continue;
			if (fe_map_get(prod, o) || fe_map_get(&c->values, o)) {
				fe_error_np(c, np, "value '%s' is defined twice",
					    o);
				ok = false;
			}
			fe_map_put(c, prod, o, (void *)(uintptr_t)(i + 1));
		}
	}
	return ok;
}

/* Producer index of input j of node i, or -1 (graph input, constant,
 * undefined or omitted). */
static long
producer(const fe_map *prod, const Onnx__NodeProto *np, size_t j)
{
	const char *s = fe_str(np->input[j]);
	return *s ? (long)(uintptr_t)fe_map_get(prod, s) - 1 : -1;
}

/* Depth-first post-order from each node in file order: a sorted model
 * keeps its order. Iterative, since chains can be thousands deep. */
static bool
topo_order(fe_ctx *c, const Onnx__GraphProto *gp, const fe_map *prod,
	   size_t *order)
{
	size_t n = gp->n_node, norder = 0, sp = 0;
	uint8_t *state = nn_alloc(c->tmp, n + 1); /* 0 new, 1 open, 2 done */
	size_t *stk = nn_alloc_array(c->tmp, n + 1, sizeof *stk);
	size_t *next = nn_alloc_array(c->tmp, n + 1, sizeof *next);
	for (size_t r = 0; r < n; r++) {
		if (state[r])
			continue;
		stk[sp++] = r;
		state[r] = 1;
		while (sp) {
			size_t i = stk[sp - 1];
			const Onnx__NodeProto *np = gp->node[i];
			if (next[i] == np->n_input) {
				state[i] = 2;
				order[norder++] = i;
				sp--;
				continue;
			}
			long p = producer(prod, np, next[i]++);
			if (p < 0 || state[p] == 2)
				continue;
			if (state[p] == 1) {
				fe_error_np(c, np, "the graph has a cycle "
						   "through this node");
				return false;
			}
			state[p] = 1;
			stk[sp++] = (size_t)p;
		}
	}
	return true;
}

static const char *
proto_kind_name(int t)
{
	static const char *const names[] = {
		[0] = "undefined", [1] = "float", [2] = "int",
		[3] = "string", [4] = "tensor", [5] = "graph",
		[6] = "floats", [7] = "ints", [8] = "strings",
		[9] = "tensors", [10] = "graphs", [11] = "sparse_tensor",
		[12] = "sparse_tensors", [13] = "type_proto",
		[14] = "type_protos",
	};
	return t >= 0 && t <= 14 ? names[t] : "unknown";
}

/* The AttributeProto type, inferred from the set fields in models too
 * old to record it. */
static int
proto_kind(const Onnx__AttributeProto *a)
{
	if (a->has_type)
		return (int)a->type;
	return a->has_f ? 1 : a->has_i ? 2 : a->has_s ? 3 : a->t ? 4
	       : a->g ? 5 : a->n_floats ? 6 : a->n_ints ? 7
	       : a->n_strings ? 8 : 0;
}

static ir_attr_kind
ir_kind_of(int proto)
{
	switch (proto) {
	case 1: return IR_ATTR_FLOAT;
	case 2: return IR_ATTR_INT;
	case 3: return IR_ATTR_STRING;
	case 4: return IR_ATTR_TENSOR;
	case 5: return IR_ATTR_GRAPH;
	case 6: return IR_ATTR_FLOATS;
	case 7: return IR_ATTR_INTS;
	case 8: return IR_ATTR_STRINGS;
	default: return IR_NATTR_KINDS;
	}
}

static const char *
bytes_str(fe_ctx *c, ProtobufCBinaryData b)
{
	char *s = nn_alloc(c->g->arena, b.len + 1);
	if (b.len) /* an empty string has no data pointer */
		memcpy(s, b.data, b.len);
	return s;
}

/* Copies a's value into out (storage in the graph). */
static bool
decode_value(fe_ctx *c, const Onnx__NodeProto *np,
	     const Onnx__AttributeProto *a, ir_attr *out)
{
	ir_graph *g = c->g;
	switch (out->kind) {
	case IR_ATTR_INT: out->i = a->i; break;
	case IR_ATTR_FLOAT: out->f = a->f; break;
	case IR_ATTR_STRING: out->s = bytes_str(c, a->s); break;
	case IR_ATTR_INTS:
		out->n = (int)a->n_ints;
		out->ints = nn_alloc_array(g->arena, a->n_ints, 8);
		if (a->n_ints) /* an empty list has no array */
			memcpy(out->ints, a->ints, a->n_ints * 8);
		break;
	case IR_ATTR_FLOATS:
		out->n = (int)a->n_floats;
		out->floats = nn_alloc_array(g->arena, a->n_floats, 8);
		for (size_t i = 0; i < a->n_floats; i++)
			out->floats[i] = a->floats[i];
		break;
	case IR_ATTR_STRINGS:
		out->n = (int)a->n_strings;
		out->strings = nn_alloc_array(g->arena, a->n_strings,
					      sizeof(char *));
		for (size_t i = 0; i < a->n_strings; i++)
			out->strings[i] = bytes_str(c, a->strings[i]);
		break;
	case IR_ATTR_GRAPH:
		return a->g ? fe_import_subgraph(c, np, a->g, &out->g) : false;
	case IR_ATTR_TENSOR: {
		char what[300];
		snprintf(what, sizeof what, "node '%s' (%s): attribute '%s'",
			 np_label(np), fe_str(np->op_type), out->name);
		out->t = nn_alloc(g->arena, sizeof *out->t);
		if (!a->t) {
			nn_error(c->d, "%s has no tensor", what);
			return false;
		}
		return fe_tensor(c, a->t, what, out->t);
	}
	default: nn_unreachable();
	}
	return true;
}

/* Checks each attribute against the op's schema and decodes it. */
static bool
decode_attrs(fe_ctx *c, const Onnx__NodeProto *np, ir_op op,
	     ir_attr **attrs, int *nattrs)
{
	bool ok = true;
	*nattrs = (int)np->n_attribute;
	*attrs = nn_alloc_array(c->tmp, np->n_attribute + 1, sizeof **attrs);
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		ir_attr *o = &(*attrs)[i];
		o->name = ir_intern(c->g, fe_str(a->name));
		ir_attr_kind want = ir_attr_schema(op, o->name);
		int got = proto_kind(a);
		for (size_t j = 0; j < i && ok; j++)
			if (strcmp((*attrs)[j].name, o->name) == 0) {
				fe_error_np(c, np, "attribute '%s' is given "
						   "twice", o->name);
				ok = false;
			}
		if (want == IR_NATTR_KINDS ||
		    strncmp(o->name, "nncc.", 5) == 0) {
			fe_error_np(c, np, "unknown attribute '%s'", o->name);
			ok = false;
		} else if (ir_kind_of(got) != want) {
			fe_error_np(c, np, "attribute '%s' must be %s, got %s",
				    o->name, ir_attr_kind_name(want),
				    proto_kind_name(got));
			ok = false;
		} else {
			o->kind = want;
			ok &= decode_value(c, np, a, o);
		}
	}
	return ok;
}

/* A Constant node's value becomes a graph constant named after its
 * output; no node remains. */
static bool
import_constant(fe_ctx *c, const Onnx__NodeProto *np, const ir_attr *a,
		int na)
{
	const char *out = np->n_output == 1 ? fe_str(np->output[0]) : "";
	if (na != 1 || !*out) {
		fe_error_np(c, np, "needs exactly one value attribute and one "
				   "named output");
		return false;
	}
	ir_tensor t = {.dtype = IR_F32, .shape = {.rank = 0}};
	int64_t one_i = a->i;
	float one_f = (float)a->f;
	float *fs = NULL;
	if (a->kind == IR_ATTR_TENSOR) {
		t = *a->t;
	} else if (a->kind == IR_ATTR_FLOAT) {
		t.data = &one_f;
	} else if (a->kind == IR_ATTR_INT) {
		t.dtype = IR_I64;
		t.data = &one_i;
	} else if (a->kind == IR_ATTR_INTS) {
		t = (ir_tensor){IR_I64, {1, {a->n}}, a->ints};
	} else {
		fs = nn_alloc_array(c->tmp, (size_t)a->n + 1, sizeof *fs);
		for (int i = 0; i < a->n; i++)
			fs[i] = (float)a->floats[i];
		t = (ir_tensor){IR_F32, {1, {a->n}}, fs};
	}
	ir_value *v = ir_add_const(c->g, ir_intern(c->g, out), t.dtype,
				   &t.shape, t.data);
	fe_map_put(c, &c->values, np->output[0], v);
	return true;
}

/* Resolves input names; "" is an omitted optional input (NULL), and
 * trailing omitted inputs are dropped. */
static bool
resolve_inputs(fe_ctx *c, const Onnx__NodeProto *np, ir_value ***in,
	       int *nin)
{
	bool ok = true;
	int n = (int)np->n_input;
	while (n > 0 && !*fe_str(np->input[n - 1]))
		n--;
	*nin = n;
	*in = nn_alloc_array(c->tmp, (size_t)n + 1, sizeof **in);
	for (int i = 0; i < n; i++) {
		const char *s = fe_str(np->input[i]);
		if (!*s)
			continue;
		if (!((*in)[i] = fe_lookup(c, s))) {
			fe_error_np(c, np, "input '%s' is not defined "
					   "(missing initializer?)", s);
			ok = false;
		}
	}
	return ok;
}

static bool
check_arity(fe_ctx *c, const Onnx__NodeProto *np, ir_op op, ir_value **in,
	    int nin, int nout)
{
	const ir_op_info *k = &ir_ops[op];
	if (nin < k->min_in || (k->max_in >= 0 && nin > k->max_in)) {
		fe_error_np(c, np, "has %d inputs, expected %d to %d", nin,
			    k->min_in, k->max_in);
		return false;
	}
	if (nout < 1 || nout < k->min_out ||
	    (k->max_out >= 0 && nout > k->max_out) ||
	    (!*fe_str(np->output[0]) && (k->min_out > 0 || nout == 1))) {
		fe_error_np(c, np, "has %d outputs, expected %d to %d", nout,
			    k->min_out, k->max_out);
		return false;
	}
	for (int i = 0; i < k->min_in; i++)
		if (!in[i]) {
			fe_error_np(c, np, "required input %d is empty", i);
			return false;
		}
	return true;
}

static bool
import_node(fe_ctx *c, const Onnx__NodeProto *np, ir_op op)
{
	ir_attr *attrs;
	ir_value **in;
	int nattrs, nin;
	bool ok = resolve_inputs(c, np, &in, &nin);
	if (ok && strcmp(fe_str(np->op_type), "Einsum") == 0)
		return fe_import_einsum(c, np, in, nin);
	if (op == OP_Constant)
		for (size_t i = 0; i < np->n_attribute; i++) {
			const char *an = fe_str(np->attribute[i]->name);
			if (strcmp(an, "sparse_value") == 0 ||
			    strncmp(an, "value_string", 12) == 0) {
				fe_error_np(c, np, "attribute '%s' is not "
						   "supported", an);
				return false;
			}
		}
	fe_caps caps = {0};
	c->caps = &caps;
	ok = decode_attrs(c, np, op, &attrs, &nattrs) && ok;
	c->caps = NULL;
	if (!ok)
		return false;
	if (caps.n) { /* the captured outer values trail the inputs */
		fe_align_captures(c, attrs, nattrs, &caps);
		ir_value **all = nn_alloc_array(c->tmp, (size_t)(nin + caps.n)
						+ 1, sizeof *all);
		memcpy(all, in, sizeof *all * (size_t)nin);
		memcpy(all + nin, caps.v, sizeof *all * (size_t)caps.n);
		in = all;
		nin += caps.n;
	}
	if (op == OP_Constant)
		return import_constant(c, np, attrs, nattrs);
	if (!fe_convert_old_form(c, np, op, &attrs, &nattrs, &in, &nin))
		return false;
	int nout = (int)np->n_output;
	while (nout > 1 && !*fe_str(np->output[nout - 1]))
		nout--;
	if (!check_arity(c, np, op, in, nin, nout))
		return false;
	const char *name = np->name && *np->name ? ir_intern(c->g, np->name)
						 : NULL;
	ir_node *n = ir_add_node(c->g, op, name, nin, in, nout);
	for (int i = 0; i < nattrs; i++) {
		if (!attrs[i].name)
			continue; /* consumed by fe_convert_old_form */
		ir_attr *a = ir_set_attr(c->g, n, attrs[i].name, attrs[i].kind);
		const char *an = a->name;
		*a = attrs[i];
		a->name = an;
	}
	for (int i = 0; i < nout; i++) {
		const char *o = fe_str(np->output[i]);
		if (!*o) {
			n->out[i] = NULL;
			continue;
		}
		n->out[i]->name = ir_intern(c->g, o);
		fe_map_put(c, &c->values, np->output[i], n->out[i]);
	}
	return true;
}

bool
fe_import_nodes(fe_ctx *c, const Onnx__GraphProto *gp)
{
	size_t n = gp->n_node;
	ir_op *ops = nn_alloc_array(c->tmp, n + 1, sizeof *ops);
	size_t *order = nn_alloc_array(c->tmp, n + 1, sizeof *order);
	fe_map prod = {0};
	if (!lookup_ops(c, gp, ops) || !map_producers(c, gp, &prod) ||
	    !topo_order(c, gp, &prod, order))
		return false;
	/* Stops at the first bad node: its outputs would be undefined
	 * inputs downstream, a cascade of errors that says nothing new. */
	for (size_t i = 0; i < n; i++) {
		const Onnx__NodeProto *np = gp->node[order[i]];
		ir_op op = ops[order[i]];
		if (op == IR_NOPS ? !fe_fold_node(c, np)
				  : !import_node(c, np, op))
			return false;
	}
	return true;
}
