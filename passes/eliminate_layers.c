/* eliminate-layers: removes layers that compute nothing (Identity,
 * Dropout, same-shape Reshape/Flatten/Squeeze/Unsqueeze, Transpose pairs
 * that cancel), collapses Reshape chains, folds a constant Pad into the
 * Conv/pool after it where that layer pads the same way, and per-channel
 * affine layers (BatchNormalization, constant Mul/Add/Sub/Div) into the
 * neighbouring Conv/Gemm/MatMul. */
#include <math.h>
#include <string.h>

#include "opt_util.h"

/* n's output equals its input 0 element for element and shape for
 * shape (Dropout only in its one-output or unread-mask form). */
static bool
is_noop(const ir_node *n)
{
	const ir_value *x = n->in[0], *y = n->out[0];
	switch (n->op) {
	case OP_Identity:
		return true;
	case OP_Dropout:
		/* A training_mode known only at run time may make it random
		 * (which the interpreter refuses); a known one cannot. */
		if (n->nin > 2 && n->in[2] && !n->in[2]->data)
			return false;
		return n->nout < 2 || !n->out[1] || n->out[1]->nuses == 0;
	case OP_Reshape:
	case OP_Flatten:
	case OP_Squeeze:
	case OP_Unsqueeze:
		return x->dtype == y->dtype && ir_shape_eq(&x->shape, &y->shape);
	default:
		return false;
	}
}

/* Transpose's permutation (default: reversed axes). */
static void
perm_of(const ir_node *n, int rank, int64_t *p)
{
	int cnt;
	const int64_t *a = ir_attr_ints(n, "perm", &cnt);
	for (int i = 0; i < rank; i++)
		p[i] = a && cnt == rank ? a[i] : rank - 1 - i;
}

/* Transpose(Transpose(x)) that gives x back: x, else NULL. A single
 * identity Transpose counts as well. */
static ir_value *
transpose_source(const ir_node *n)
{
	int64_t p2[IR_MAX_RANK], p1[IR_MAX_RANK];
	int r = n->out[0]->shape.rank;
	const ir_node *t = n->in[0]->def;
	perm_of(n, r, p2);
	if (!t || t->op != OP_Transpose) {
		for (int i = 0; i < r; i++)
			if (p2[i] != i)
				return NULL;
		return n->in[0];
	}
	perm_of(t, r, p1);
	for (int i = 0; i < r; i++)
		if (p1[p2[i]] != i)
			return NULL;
	return t->in[0];
}

/* Output of n replaced by `src` when n is a no-op or a cancelling
 * Transpose pair; 1 if done. Uses only the use lists of values not in
 * `dirty` (those may miss uses gained in this sweep). */
static int
drop_noop(ir_graph *g, ir_node *n, const pass_vset *dirty)
{
	ir_value *src = NULL, *y = n->out[0];
	if (n->op == OP_Dropout && n->nout > 1 && n->out[1] &&
	    pass_vset_has(dirty, n->out[1]))
		return 0;
	if (is_noop(n))
		src = n->in[0];
	else if (n->op == OP_Transpose)
		src = transpose_source(n);
	if (!src || !pass_can_replace(g, y, src))
		return 0;
	if (y->nuses && !pass_vset_has(dirty, y))
		pass_replace_listed(g, y, src);
	else
		pass_replace(g, y, src);
	ir_remove_node(g, n);
	return 1;
}

/* Reshape of a Reshape/Flatten output: shapes are static, so the inner
 * one can be skipped (it dies if nothing else reads it) when the outer
 * target does not copy dims from its input (a 0 without allowzero). A
 * Flatten's result depends on its input's shape, so it never skips. */
static int
skip_inner_reshape(ir_node *n)
{
	if (n->op != OP_Reshape || !pass_has_data(n->in[1]))
		return 0;
	const ir_node *p = n->in[0]->def;
	if (!p || (p->op != OP_Reshape && p->op != OP_Flatten))
		return 0;
	int64_t cnt = ir_shape_numel(&n->in[1]->shape);
	for (int64_t i = 0; i < cnt && !ir_attr_i(n, "allowzero"); i++)
		if (ir_load_i64(n->in[1]->data, n->in[1]->dtype, i) == 0)
			return 0;
	n->in[0] = p->in[0];
	return 1;
}

/* The Pad's begin/end amounts and fill value when it is a constant Pad
 * of the spatial axes only, by non-negative amounts; false otherwise. */
static bool
spatial_pad(const ir_node *p, int64_t *pads, double *value)
{
	int r = p->in[0]->shape.rank;
	const ir_value *pv = p->nin > 1 ? p->in[1] : NULL;
	const ir_value *cv = p->nin > 2 ? p->in[2] : NULL;
	if (strcmp(ir_attr_s(p, "mode"), "constant") ||
	    (p->nin > 3 && p->in[3]) || !pv || !pass_has_data(pv) ||
	    ir_shape_numel(&pv->shape) != 2 * r || (cv && !pass_has_data(cv)))
		return false;
	*value = cv ? ir_load_f64(cv->data, cv->dtype, 0) : 0;
	for (int i = 0; i < 2 * r; i++) {
		pads[i] = ir_load_i64(pv->data, pv->dtype, i);
		if (pads[i] < 0 || ((i % r) < 2 && pads[i]))
			return false;
	}
	return true;
}

/* Whether a Pad with fill `value` in front of window op c equals c's own
 * padding: zeros for Conv and for an AveragePool that counts padding,
 * -inf for a MaxPool (whose indices nobody reads), never in ceil mode. */
static bool
pad_matches(const ir_node *c, double value)
{
	if (c->op != OP_Conv && c->op != OP_AveragePool && c->op != OP_MaxPool)
		return false; /* only these have auto_pad and pads */
	if (strcmp(ir_attr_s(c, "auto_pad"), "NOTSET"))
		return false;
	switch (c->op) {
	case OP_Conv:
		return value == 0;
	case OP_AveragePool:
		return value == 0 && ir_attr_i(c, "count_include_pad") &&
		       !ir_attr_i(c, "ceil_mode");
	case OP_MaxPool:
		return value == -INFINITY && !ir_attr_i(c, "ceil_mode") &&
		       (c->nout < 2 || !c->out[1] || !c->out[1]->nuses);
	default:
		return false;
	}
}

/* Conv/pool(Pad(x)) with a spatial Pad read only by that layer, filled
 * with what the layer pads with, becomes the layer on x with larger
 * pads. Needs uses. */
static int
pad_into_window(ir_graph *g, ir_node *c)
{
	int64_t pads[2 * IR_MAX_RANK];
	double value;
	ir_node *p = c->nin ? c->in[0]->def : NULL;
	if (!p || p->op != OP_Pad || c->in[0]->nuses != 1 ||
	    pass_is_output(g, c->in[0]) || !spatial_pad(p, pads, &value) ||
	    !pad_matches(c, value))
		return 0;
	int r = p->in[0]->shape.rank, nd = r - 2, cnt;
	const int64_t *old = ir_attr_ints(c, "pads", &cnt);
	if (old && cnt != 2 * nd)
		return 0;
	int64_t *np = nn_alloc_array(g->arena, (size_t)(2 * nd), sizeof *np);
	for (int i = 0; i < nd; i++) {
		np[i] = (old ? old[i] : 0) + pads[2 + i];
		np[nd + i] = (old ? old[nd + i] : 0) + pads[r + 2 + i];
	}
	ir_attr *a = ir_set_attr(g, c, "pads", IR_ATTR_INTS);
	a->n = 2 * nd;
	a->ints = np;
	c->in[0] = p->in[0];
	ir_remove_node(g, p);
	return 1;
}

/* Whether v's use list may be trusted this sweep. */
static bool
clean(const ir_value *v, const pass_vset *dirty)
{
	return !v || !pass_vset_has(dirty, v);
}

/* One rewrite at n; 1 if the graph changed. The rewrites that read use
 * counts skip a node whose tested value's list may be stale: the Pad
 * output or producer output it reads, or its own output. */
static int
rewrite(ir_graph *g, ir_node *n, const pass_vset *dirty)
{
	if (drop_noop(g, n, dirty) || skip_inner_reshape(n))
		return 1;
	bool ins = !n->nin || (clean(n->in[0], dirty) &&
			       (n->nin < 2 || clean(n->in[1], dirty)));
	if (ins && (pad_into_window(g, n) ||
		    pass_fold_affine_into_producer(g, n, dirty)))
		return 1;
	return clean(n->out[0], dirty) && pass_fold_bn_into_consumer(g, n);
}

/* Only node outputs: no rewrite reads the uses of an input or constant. */
static void
mark_node(const ir_node *n, pass_vset *dirty)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && n->in[i]->def)
			pass_vset_add(dirty, n->in[i]);
	for (int i = 0; i < n->nout; i++)
		pass_vset_add(dirty, n->out[i]);
}

/* After a rewrite at n: every value that may have gained a use is among
 * n's operands and those of the nodes defining n's inputs (a rewrite
 * reaches one producer up); values it creates have empty lists, which
 * only ever make a use-count test fail. */
static void
mark_around(const ir_node *n, pass_vset *dirty)
{
	mark_node(n, dirty);
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] && n->in[i]->def)
			mark_node(n->in[i]->def, dirty);
}

/* Sweeps until nothing changes, at most this many times (each sweep
 * computes uses once, so the pass stays linear in the graph). */
enum { MAX_SWEEPS = 32 };

static bool
step(ir_graph *g, ir_node *n, pass_vset *dirty, ir_node **next)
{
	(void)next; /* n may be gone: continue with its old next */
	if (!rewrite(g, n, dirty))
		return false;
	mark_around(n, dirty);
	return true;
}

/* Needs: types (runs from a verified graph) and uses (computed here).
 * Leaves: uses stale; values re-typed by ir_infer_shapes at the end;
 * orphaned constants and producers for dce. */
bool
pass_eliminate_layers(ir_graph *g, const pass_opts *o, nn_diag *d,
		      bool *changed)
{
	int total;

	if (!pass_opts_allow(o, "eliminate-layers", NULL, d))
		return false;
	total = pass_sweep(g, step, MAX_SWEEPS);
	*changed = total > 0;
	return !total || ir_infer_shapes(g, d);
}
