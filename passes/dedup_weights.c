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
	       a->data && b->data && !a->elided && !b->elided &&
	       memcmp(a->data, b->data, const_bytes(a)) == 0;
}

/* A constant and its grouping key. */
typedef struct keyed {
	uint64_t key;
	ir_value *v;
} keyed;

/* FNV-1a of the type and of at most 64 words spread over the bytes:
 * equal constants get equal keys, and hashing every byte of every
 * weight (hundreds of MB in a transformer) is left to memcmp on the few
 * candidates that share a key. */
static uint64_t
sample_key(const ir_value *v)
{
	uint64_t h = 1469598103934665603ull;
	size_t nb = const_bytes(v), step = nb / 64 > 8 ? nb / 64 : 8;
	h = (h ^ (uint64_t)v->dtype) * 1099511628211ull;
	for (int i = 0; i < v->shape.rank; i++)
		h = (h ^ (uint64_t)v->shape.dim[i]) * 1099511628211ull;
	if (!v->data || v->elided)
		return h;
	const unsigned char *p = v->data;
	for (size_t off = 0; off + 8 <= nb; off += step) {
		uint64_t w;
		memcpy(&w, p + off, 8);
		h = (h ^ w) * 1099511628211ull;
	}
	for (size_t off = nb & ~(size_t)7; off < nb; off++)
		h = (h ^ p[off]) * 1099511628211ull;
	return h;
}

static int
cmp_key(const void *x, const void *y)
{
	const keyed *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return (a->v->id > b->v->id) - (a->v->id < b->v->id); /* graph order */
}

/* Points every node input at rep[id] of the constant it reads (ids are
 * indices into g->consts here), in one walk over the graph. */
static void
apply_reps(ir_graph *g, ir_value *const *rep)
{
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++) {
			ir_value *v = n->in[i];
			if (v && ir_is_const(v) && v->id >= 0 &&
			    v->id < g->nconsts && g->consts[v->id] == v)
				n->in[i] = rep[v->id];
		}
}

/* Every constant equal to an earlier one is replaced by it; graph
 * outputs keep theirs (their name is their identity). */
static int
merge_consts(ir_graph *g)
{
	int n = g->nconsts, merged = 0;
	keyed *v = nn_xmalloc(sizeof *v * (size_t)(n + 1));
	ir_value **rep = nn_xmalloc(sizeof *rep * (size_t)(n + 1));
	for (int i = 0; i < n; i++) {
		rep[i] = g->consts[i];
		rep[i]->id = i;
		v[i] = (keyed){sample_key(rep[i]), rep[i]};
	}
	qsort(v, (size_t)n, sizeof *v, cmp_key);
	for (int i = 0; i < n; i++) {
		if (pass_is_output(g, v[i].v))
			continue;
		for (int j = i - 1; j >= 0 && v[j].key == v[i].key; j--)
			if (same_const(v[j].v, v[i].v)) {
				rep[v[i].v->id] = rep[v[j].v->id];
				merged++;
				break;
			}
	}
	if (merged)
		apply_reps(g, rep);
	free(rep);
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

/* Hash of what same_node compares first: op, arity and input values. */
static uint64_t
node_hash(const ir_node *n)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)n->op;
	h = (h ^ (uint64_t)n->nin) * 1099511628211ull;
	for (int i = 0; i < n->nin; i++)
		h = (h ^ (uint64_t)(uintptr_t)n->in[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* n's outputs become m's (their use lists are complete: a value only
 * ever gains readers here as an m, which is never replaced). */
static void
merge_into(ir_graph *g, ir_node *n, ir_node *m)
{
	for (int i = 0; i < n->nout; i++)
		if (n->out[i])
			pass_replace_listed(g, n->out[i], m->out[i]);
	ir_remove_node(g, n);
}

/* A node equal to an earlier one (same op, attributes and inputs) is
 * removed and its outputs replaced; earlier nodes are found through an
 * open-addressing table on node_hash. Needs uses. */
static int
merge_nodes(ir_graph *g)
{
	size_t cap = 64, mask;
	while (cap < 2 * (size_t)g->nnodes + 2)
		cap *= 2;
	mask = cap - 1;
	ir_node **tab = nn_xcalloc(cap, sizeof *tab);
	int merged = 0;
	ir_node *next;
	for (ir_node *n = g->first; n; n = next) {
		next = n->next;
		if (n->op == OP_Constant || n->nin == 0)
			continue;
		size_t i = (size_t)node_hash(n) & mask;
		for (; tab[i]; i = (i + 1) & mask)
			if (same_node(tab[i], n) && replaceable(g, n, tab[i]))
				break;
		if (!tab[i]) {
			tab[i] = n;
			continue;
		}
		merge_into(g, n, tab[i]);
		merged++;
	}
	free(tab);
	return merged;
}

/* Needs: nothing. Leaves: uses stale; merged
 * constants unused (run dce); shapes unchanged. */
bool
pass_dedup_weights(ir_graph *g, const pass_opts *o, nn_diag *d,
		   bool *changed)
{
	if (!pass_opts_allow(o, "dedup-weights", NULL, d))
		return false;
	int merged = merge_consts(g);
	ir_compute_uses(g);
	merged += merge_nodes(g);
	if (merged) {
		ir_compute_uses(g);
		pass_drop_unused_consts(g);
	}
	*changed = merged > 0;
	return true;
}
