/* The verifier: SSA form (one definition, defined before use), arity
 * against ops.def, typed static shapes, and types equal to what the shape
 * hooks compute. Passes run it after every change in tests. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* An open-addressing set of value pointers: values need not be numbered,
 * and a dangling one (from a removed node) must not alias a live id. */
typedef struct vset {
	const ir_value **slot;
	size_t cap, n;
} vset;

static size_t
hash_ptr(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (cap - 1);
}

static bool
vset_has(const vset *s, const ir_value *v)
{
	for (size_t i = hash_ptr(v, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return false;
		if (s->slot[i] == v)
			return true;
	}
}

/* Adds v; false if it was already there. */
static bool
vset_add(vset *s, const ir_value *v)
{
	if (vset_has(s, v))
		return false;
	if (2 * (s->n + 1) > s->cap) {
		vset old = *s;
		s->cap *= 2;
		s->n = 0;
		s->slot = nn_xcalloc(s->cap, sizeof *s->slot);
		for (size_t i = 0; i < old.cap; i++)
			if (old.slot[i])
				vset_add(s, old.slot[i]);
		free(old.slot);
	}
	size_t i = hash_ptr(v, s->cap);
	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = v;
	s->n++;
	return true;
}

/* Typed, static and within size limits; `what` names v in messages. */
static bool
check_type(const ir_value *v, const char *what, nn_diag *d)
{
	char buf[160];
	if (ir_dtype_size(v->dtype) == 0) {
		nn_error(d, "%s '%s' has no element type", what,
			 ir_value_label(v));
		return false;
	}
	if (v->shape.rank < 0 || v->shape.rank > IR_MAX_RANK) {
		nn_error(d, "%s '%s' has rank %d", what, ir_value_label(v),
			 v->shape.rank);
		return false;
	}
	ir_shape_str(&v->shape, buf, sizeof buf);
	for (int k = 0; k < v->shape.rank; k++)
		if (v->shape.dim[k] < 0) {
			nn_error(d, "%s '%s' has an unknown dimension in %s "
				 "(pin it with --input-shape)", what,
				 ir_value_label(v), buf);
			return false;
		}
	if (ir_shape_numel(&v->shape) < 0) {
		nn_error(d, "%s '%s' of shape %s is too large", what,
			 ir_value_label(v), buf);
		return false;
	}
	return true;
}

/* A shared-weight constant: every element is its code's centroid, so
 * code generation may store codes + codebook instead of the floats. */
static void
check_codebook(const ir_value *v, nn_diag *d)
{
	const char *l = ir_value_label(v);
	if (v->dtype != IR_F32 || v->ncodes < 1 || v->ncodes > IR_MAX_CODES) {
		nn_error(d, "constant '%s': bad codebook (%d centroids, %s)",
			 l, v->ncodes, ir_dtype_name(v->dtype));
		return;
	}
	if (!v->data)
		return; /* elided: only the count is known */
	if (!v->codebook || !v->codes) {
		nn_error(d, "constant '%s' has a codebook without centroids "
			 "or codes", l);
		return;
	}
	int64_t n = ir_shape_numel(&v->shape);
	const float *x = v->data;
	for (int64_t i = 0; i < n; i++)
		if (v->codes[i] >= v->ncodes ||
		    x[i] != v->codebook[v->codes[i]]) {
			nn_error(d, "constant '%s': element %lld disagrees "
				 "with its codebook entry", l, (long long)i);
			return;
		}
}

static void
check_leaves(ir_graph *g, vset *defs, nn_diag *d)
{
	for (int i = 0; i < g->ninputs; i++) {
		ir_value *v = g->inputs[i];
		if (!v->is_input || v->def)
			nn_error(d, "graph input '%s' is not marked as an input",
				 ir_value_label(v));
		if (!vset_add(defs, v))
			nn_error(d, "graph input '%s' is listed twice",
				 ir_value_label(v));
		check_type(v, "graph input", d);
	}
	for (int i = 0; i < g->nconsts; i++) {
		ir_value *v = g->consts[i];
		if (!ir_is_const(v))
			nn_error(d, "constant '%s' is an input or has a "
				 "defining node", ir_value_label(v));
		if (!v->data && !v->elided)
			nn_error(d, "constant '%s' has no data",
				 ir_value_label(v));
		if (!vset_add(defs, v))
			nn_error(d, "constant '%s' is defined twice",
				 ir_value_label(v));
		if (check_type(v, "constant", d) && v->ncodes)
			check_codebook(v, d);
	}
}

static void
check_operands(const ir_node *n, const vset *defs, nn_diag *d)
{
	for (int i = 0; i < n->nin; i++) {
		const ir_value *v = n->in[i];
		if (!v || vset_has(defs, v))
			continue;
		if (v->def)
			nn_error_node(d, n, "input %d ('%s') is used before "
				      "its definition", i, ir_value_label(v));
		else
			nn_error_node(d, n, "input %d ('%s') is not a graph "
				      "input, constant or node output", i,
				      ir_value_label(v));
	}
}

/* A node's graph attributes: subgraphs of g with the same captures,
 * well-formed themselves (but for the branch an If with a known condition
 * does not take: inference never typed it). */
static void
check_subgraphs(ir_graph *g, const ir_node *n, nn_diag *d)
{
	int nc = -1;
	const ir_value *c = n->op == OP_If ? n->in[0] : NULL;
	const char *skip = c && c->data && c->dtype == IR_BOOL
		? (*(const uint8_t *)c->data ? "else_branch" : "then_branch")
		: NULL;
	for (int i = 0; i < n->nattrs; i++) {
		const ir_attr *a = &n->attrs[i];
		if (a->kind != IR_ATTR_GRAPH)
			continue;
		ir_graph *sub = a->g;
		if (!sub || sub->parent != g) {
			nn_error_node(d, n, "graph attribute '%s' is not a "
				      "subgraph of this graph", a->name);
			continue;
		}
		if (nc >= 0 && sub->ncaptured != nc)
			nn_error_node(d, n, "graph attribute '%s' captures %d "
				      "values, another %d", a->name,
				      sub->ncaptured, nc);
		nc = sub->ncaptured;
		if (nc < 0 || nc > n->nin || nc > sub->ninputs)
			nn_error_node(d, n, "graph attribute '%s' captures %d "
				      "values of the node's %d inputs", a->name,
				      nc, n->nin);
		else if (!skip || strcmp(a->name, skip))
			ir_verify(sub, d);
	}
}

static void
check_node(ir_graph *g, const ir_node *n, vset *defs, nn_diag *d)
{
	const ir_op_info *op = &ir_ops[n->op];
	if (n->nin < op->min_in || (op->max_in >= 0 && n->nin > op->max_in))
		nn_error_node(d, n, "%d inputs, expected %d to %d", n->nin,
			      op->min_in, op->max_in);
	if (n->nout < op->min_out ||
	    (op->max_out >= 0 && n->nout > op->max_out))
		nn_error_node(d, n, "%d outputs, expected %d to %d", n->nout,
			      op->min_out, op->max_out);
	check_operands(n, defs, d);
	check_subgraphs(g, n, d);
	for (int i = 0; i < n->nout; i++) {
		const ir_value *v = n->out[i];
		if (!v)
			continue;
		if (v->def != n)
			nn_error_node(d, n, "output %d ('%s') names another "
				      "defining node", i, ir_value_label(v));
		if (!vset_add(defs, v))
			nn_error_node(d, n, "output %d ('%s') is defined "
				      "twice", i, ir_value_label(v));
		check_type(v, "value", d);
	}
}

/* Reruns n's shape hook and compares with the stored output types, which
 * are restored afterwards whatever the hook did. Data a Shape hook fills
 * in, or that folding computes, is kept: later hooks (Reshape) read it. */
static void
check_shapes(ir_graph *g, ir_node *n, nn_diag *d)
{
	int k = n->nout, before = d->nerrors;
	ir_dtype t[k > 0 ? k : 1];
	ir_shape s[k > 0 ? k : 1];
	void *data[k > 0 ? k : 1];
	for (int i = 0; i < k; i++)
		if (n->out[i]) {
			t[i] = n->out[i]->dtype;
			s[i] = n->out[i]->shape;
			data[i] = n->out[i]->data;
			n->out[i]->data = NULL;
		}
	bool ok = ir_kinds[ir_ops[n->op].kind].shape(g, n, d);
	for (int i = 0; i < k; i++) {
		ir_value *v = n->out[i];
		if (!v)
			continue;
		if (ok && (v->dtype != t[i] || !ir_shape_eq(&v->shape, &s[i]))) {
			char have[160], inferred[160];
			ir_shape_str(&s[i], have, sizeof have);
			ir_shape_str(&v->shape, inferred, sizeof inferred);
			nn_error_node(d, n, "output %d ('%s') is typed %s%s but "
				      "shape inference gives %s%s", i,
				      ir_value_label(v), ir_dtype_name(t[i]),
				      have, ir_dtype_name(v->dtype), inferred);
		}
		v->dtype = t[i];
		v->shape = s[i];
		if (data[i] || d->nerrors != before)
			v->data = data[i];
	}
	if (d->nerrors == before)
		ir_fold_node(g, n, d);
}

bool
ir_verify(ir_graph *g, nn_diag *d)
{
	int before = d->nerrors;
	vset defs = {nn_xcalloc(64, sizeof(ir_value *)), 64, 0};
	ir_number_values(g);
	check_leaves(g, &defs, d);
	int nnodes = 0;
	for (ir_node *n = g->first; n; n = n->next, nnodes++) {
		if (n->op < 0 || n->op >= IR_NOPS) {
			nn_error(d, "node %d has an invalid op", nnodes);
			continue;
		}
		check_node(g, n, &defs, d);
	}
	if (nnodes != g->nnodes)
		nn_error(d, "graph counts %d nodes but links %d", g->nnodes,
			 nnodes);
	for (int i = 0; i < g->noutputs; i++)
		if (!vset_has(&defs, g->outputs[i]))
			nn_error(d, "graph output '%s' is not defined",
				 ir_value_label(g->outputs[i]));
	free(defs.slot);
	/* The hooks assume well-formed, typed operands. */
	if (d->nerrors != before)
		return false;
	for (ir_node *n = g->first; n; n = n->next)
		check_shapes(g, n, d);
	return d->nerrors == before;
}
