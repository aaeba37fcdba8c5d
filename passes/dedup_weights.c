/* dedup-weights: exact weight sharing. Constants with the same dtype,
 * shape and bytes become one (hash first, then memcmp), and nodes with
 * the same op, attributes and inputs become one (CSE, in order, so
 * identical chains collapse from their first layer down). */
#include <stdlib.h>
#include <string.h>

#include "opt_util.h"

static size_t
const_bytes(const ir_value *v)
{
	return (size_t)ir_shape_numel(&v->shape) * ir_dtype_size(v->dtype);
}

static bool
same_const(const ir_value *a, const ir_value *b)
{
	return a->dtype == b->dtype && ir_shape_eq(&a->shape, &b->shape) &&
	       a->hash == b->hash && a->data && b->data && !a->elided &&
	       !b->elided && memcmp(a->data, b->data, const_bytes(a)) == 0;
}

static int
cmp_hash(const void *x, const void *y)
{
	const ir_value *a = *(ir_value *const *)x, *b = *(ir_value *const *)y;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id); /* keep graph order */
}

/* Every constant equal to an earlier one is replaced by it; graph
 * outputs keep theirs (their name is their identity). */
static int
merge_consts(ir_graph *g)
{
	int n = g->nconsts, merged = 0;
	ir_value **v = nn_xmalloc(sizeof *v * (size_t)(n + 1));
	for (int i = 0; i < n; i++) {
		v[i] = g->consts[i];
		v[i]->id = i;
		ir_const_facts(v[i]);
	}
	qsort(v, (size_t)n, sizeof *v, cmp_hash);
	for (int i = 0; i < n; i++) {
		if (pass_is_output(g, v[i]))
			continue;
		for (int j = i - 1; j >= 0 && v[j]->hash == v[i]->hash; j--)
			if (same_const(v[j], v[i])) {
				ir_replace_uses(g, v[i], v[j]);
				merged++;
				break;
			}
	}
	free(v);
	return merged;
}

static bool
same_attr(const ir_attr *a, const ir_attr *b)
{
	if (strcmp(a->name, b->name) || a->kind != b->kind)
		return false;
	switch (a->kind) {
	case IR_ATTR_INT: return a->i == b->i;
	case IR_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
	case IR_ATTR_STRING: return strcmp(a->s, b->s) == 0;
	case IR_ATTR_INTS:
		return a->n == b->n && (!a->n || !memcmp(a->ints, b->ints,
				(size_t)a->n * sizeof *a->ints));
	case IR_ATTR_FLOATS:
		return a->n == b->n && (!a->n || !memcmp(a->floats, b->floats,
				(size_t)a->n * sizeof *a->floats));
	default:
		return false; /* strings lists and tensors: never merged */
	}
}

static bool
same_node(const ir_node *a, const ir_node *b)
{
	if (a->op != b->op || a->nin != b->nin || a->nout != b->nout ||
	    a->nattrs != b->nattrs)
		return false;
	for (int i = 0; i < a->nin; i++)
		if (a->in[i] != b->in[i])
			return false;
	for (int i = 0; i < a->nout; i++)
		if (!a->out[i] != !b->out[i])
			return false;
	for (int i = 0; i < a->nattrs; i++)
		if (!same_attr(&a->attrs[i], &b->attrs[i]))
			return false;
	return true;
}

/* n's outputs may all be replaced by m's. */
static bool
replaceable(const ir_graph *g, const ir_node *n, const ir_node *m)
{
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] && !pass_can_replace(g, n->out[i], m->out[i]))
			return false;
	return true;
}

/* A node equal to an earlier one (same op, attributes and inputs) is
 * removed and its outputs replaced. Quadratic in the nodes sharing an
 * input, which is fine for the graphs nncc sees. */
static int
merge_nodes(ir_graph *g)
{
	int merged = 0;
	ir_node *next;
	for (ir_node *n = g->first; n; n = next) {
		next = n->next;
		if (n->op == OP_Constant)
			continue;
		for (ir_node *m = g->first; m != n; m = m->next) {
			if (!same_node(m, n) || !replaceable(g, n, m))
				continue;
			for (int i = 0; i < n->nout; i++)
				if (n->out[i])
					pass_replace(g, n->out[i], m->out[i]);
			ir_remove_node(g, n);
			merged++;
			break;
		}
	}
	return merged;
}

/* Needs: constant facts (recomputed here). Leaves: uses stale; merged
 * constants unused (run dce); shapes unchanged. */
bool
pass_dedup_weights(ir_graph *g, const pass_opts *o, nn_diag *d,
		   bool *changed)
{
	if (!pass_opts_allow(o, "dedup-weights", NULL, d))
		return false;
	int merged = merge_consts(g);
	merged += merge_nodes(g);
	if (merged) {
		ir_compute_uses(g);
		pass_drop_unused_consts(g);
	}
	*changed = merged > 0;
	return true;
}
