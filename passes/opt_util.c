/* Helpers shared by the lossless optimizer passes: replacing values while
 * graph outputs keep their names, building constants, use queries. */
#include <stdlib.h>
#include <string.h>

#include "opt_util.h"

bool
pass_is_output(const ir_graph *g, const ir_value *v)
{
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == v)
			return true;
	return false;
}

bool
pass_can_replace(const ir_graph *g, const ir_value *from, const ir_value *to)
{
	if (from == to)
		return false;
	if (!pass_is_output(g, from))
		return true;
	return to->def && !pass_is_output(g, to);
}

void
pass_replace(ir_graph *g, ir_value *from, ir_value *to)
{
	if (pass_is_output(g, from))
		to->name = from->name;
	ir_replace_uses(g, from, to);
}

void
pass_replace_listed(ir_graph *g, ir_value *from, ir_value *to)
{
	for (int i = 0; i < from->nuses; i++) {
		ir_use u = from->uses[i];
		if (u.node->in[u.index] == from)
			u.node->in[u.index] = to;
	}
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == from) {
			g->outputs[i] = to;
			to->name = from->name;
		}
}

static size_t
vset_hash(const ir_value *v, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)v * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 32) & (cap - 1);
}

static void
vset_grow(pass_vset *s)
{
	pass_vset old = *s;
	s->cap = old.cap ? 2 * old.cap : 64;
	s->slot = nn_xcalloc(s->cap, sizeof *s->slot);
	s->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i])
			pass_vset_add(s, old.slot[i]);
	free(old.slot);
}

void
pass_vset_add(pass_vset *s, const ir_value *v)
{
	if (!v || pass_vset_has(s, v))
		return;
	if (2 * (s->n + 1) > s->cap)
		vset_grow(s);
	size_t i = vset_hash(v, s->cap);
	while (s->slot[i])
		i = (i + 1) & (s->cap - 1);
	s->slot[i] = v;
	s->n++;
}

bool
pass_vset_has(const pass_vset *s, const ir_value *v)
{
	if (!s->n)
		return false;
	for (size_t i = vset_hash(v, s->cap); s->slot[i];
	     i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == v)
			return true;
	return false;
}

void
pass_vset_clear(pass_vset *s)
{
	if (s->n)
		memset(s->slot, 0, s->cap * sizeof *s->slot);
	s->n = 0;
}

void
pass_vset_free(pass_vset *s)
{
	free(s->slot);
	*s = (pass_vset){0};
}

int
pass_sweep(ir_graph *g, pass_rewrite_fn rw, int max_sweeps)
{
	pass_vset dirty = {0};
	int total = 0, done = 1;

	for (int sweep = 0; sweep < max_sweeps && done; sweep++) {
		ir_node *next;
		done = 0;
		ir_compute_uses(g);
		pass_vset_clear(&dirty);
		for (ir_node *n = g->first; n; n = next) {
			next = n->next;
			done += rw(g, n, &dirty, &next);
		}
		total += done;
	}
	pass_vset_free(&dirty);
	return total;
}

ir_value *
pass_new_const(ir_graph *g, ir_dtype t, const ir_shape *s)
{
	return ir_add_const(g, NULL, t, s, NULL);
}

ir_value *
pass_const_f64(ir_graph *g, ir_dtype t, const ir_shape *s, const double *vals)
{
	ir_value *v = pass_new_const(g, t, s);
	int64_t n = ir_shape_numel(s);
	for (int64_t i = 0; i < n; i++)
		ir_store_f64(v->data, t, i, vals[i]);
	ir_const_facts(v);
	return v;
}

double *
pass_load_f64(const ir_value *v)
{
	if (!v->data)
		return NULL;
	int64_t n = ir_shape_numel(&v->shape);
	double *r = nn_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *r);
	for (int64_t i = 0; i < n; i++)
		r[i] = ir_load_f64(v->data, v->dtype, i);
	return r;
}

ir_node *
pass_sole_user(const ir_value *v)
{
	return v->nuses == 1 ? v->uses[0].node : NULL;
}

bool
pass_has_data(const ir_value *v)
{
	return v && ir_is_const(v) && v->data && !v->elided;
}

int
pass_drop_unused_consts(ir_graph *g)
{
	int k = 0, dropped = 0;
	for (int i = 0; i < g->nconsts; i++) {
		ir_value *c = g->consts[i];
		/* Shrinking keeps graph.c's capacity invariant. */
		if (c->nuses == 0 && !pass_is_output(g, c)) {
			dropped++;
			continue;
		}
		g->consts[k++] = c;
	}
	g->nconsts = k;
	return dropped;
}
