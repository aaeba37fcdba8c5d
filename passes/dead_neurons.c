/* dead-neurons: removes output channels (neurons) of Conv/Gemm/MatMul
 * layers that cannot affect the result, shrinking the layers on both
 * sides. Channels are analysed as groups: the values that share channel
 * indexing through activations, per-channel constant arithmetic, pools, a
 * Flatten/Reshape to 2-D and residual Adds, with the layers writing them
 * (producers) and reading them (leaves). Channel c of a group dies when
 * every value a leaf reads is a known constant there (the producers' rows
 * are zero, so it is their bias carried through), which goes into the
 * leaves' bias; one such channel stays, to carry the NaN that an Inf or
 * NaN input meeting those zero rows gave every one of them (see decide).
 * A Concat along
 * the channel axis moves the group's channels to an offset. Anything the
 * analysis does not understand (a graph input or output in the group, a
 * grouped Conv, a Concat reached backwards) leaves the group alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dead_neurons.h"

static int
val_index(const dn_group *gr, const ir_value *v)
{
	for (int i = 0; i < gr->nvals; i++)
		if (gr->val[i] == v)
			return i;
	return -1;
}

static bool
same_layout(const dn_layout *a, const dn_layout *b)
{
	return a->rank == b->rank && a->axis == b->axis && a->blk == b->blk &&
	       a->off == b->off && a->total == b->total;
}

/* Adds v (once) with layout l; false on a conflict or overflow. */
static bool
add_value(dn_group *gr, ir_value *v, const dn_layout *l)
{
	int i = val_index(gr, v);
	if (i >= 0)
		return same_layout(&gr->vat[i], l);
	if (gr->nvals == DN_MAX_VALS)
		return false;
	gr->vat[gr->nvals] = *l;
	gr->val[gr->nvals++] = v;
	return true;
}

static bool
has_step(const dn_group *gr, const ir_node *n)
{
	for (int i = 0; i < gr->nsteps; i++)
		if (gr->step[i].n == n)
			return true;
	return false;
}

static bool
add_step(dn_group *gr, ir_node *n, const dn_layout *at, bool join)
{
	if (gr->nsteps == DN_MAX_NODES)
		return false;
	gr->step[gr->nsteps++] = (dn_step){n, *at, join, 0};
	return true;
}

/* ------------------------------------------------------------------ */
/* Which nodes the group may contain. */

/* The fusable activations and the pass-through ops (ACT, NOOP in
 * ops.def): activation() below maps a channel's constant through them. */
static bool
is_activation(ir_op op)
{
	return ir_op_has(op, IR_OPF_ACT) || ir_op_has(op, IR_OPF_NOOP);
}

/* A map step n reading y (layout *l) that keeps channels apart; updates
 * *l for a Flatten/Reshape to [N, C*rest]. */
static bool
map_step(const ir_node *n, const ir_value *y, dn_layout *l)
{
	const ir_shape *ys = &y->shape, *os = &n->out[0]->shape;
	if (n->in[0] != y || (n->nout > 1 && n->out[1] && n->out[1]->nuses))
		return false;
	if (is_activation(n->op)) {
		for (int i = 1; i < n->nin; i++)
			if (n->in[i] && !pass_has_data(n->in[i]))
				return false;
		return true;
	}
	switch (n->op) {
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div:
		return n->in[1] != y && pass_has_data(n->in[1]) &&
		       ir_shape_eq(os, ys) &&
		       pass_dn_const_axis(n->in[1], y, l) != -2;
	case OP_MaxPool: case OP_AveragePool:
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return l->rank >= 3 && l->axis == 1 && l->blk == 1;
	case OP_Flatten: case OP_Reshape:
		if (l->axis != 1 || l->blk != 1 || os->rank != 2 ||
		    os->dim[0] != ys->dim[0] ||
		    (n->op == OP_Flatten && ir_attr_i(n, "axis") != 1))
			return false;
		l->blk = os->dim[1] / l->total;
		l->rank = 2;
		return true;
	default:
		return false;
	}
}

/* A residual Add: two different computed values of the output's shape. */
static bool
is_join(const ir_node *n)
{
	return n->op == OP_Add && n->in[0] != n->in[1] && n->in[0]->def &&
	       n->in[1]->def && ir_shape_eq(&n->in[0]->shape,
					    &n->in[1]->shape) &&
	       ir_shape_eq(&n->in[0]->shape, &n->out[0]->shape);
}

/* Channel layout of a layer's output (its channel axis). */
static dn_layout
out_layout(const ir_node *n)
{
	int r = n->out[0]->shape.rank;
	int oax, iax;
	pass_dn_w_axes(n, &oax, &iax);
	return (dn_layout){r, n->op == OP_Conv ? 1 : r - 1, 1, 0,
			   n->in[1]->shape.dim[oax]};
}

/* A layer writing m channels in layout l, with a bias that is one row. */
static bool
producer_ok(const ir_node *n, const dn_layout *l, int64_t m)
{
	int oax, iax;
	if (!pass_dn_w_axes(n, &oax, &iax) || n->in[1]->shape.dim[oax] != m)
		return false;
	dn_layout ol = out_layout(n);
	const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	int64_t nb = b ? ir_shape_numel(&b->shape) : 1;
	if (!same_layout(&ol, l) || (n->op != OP_Conv && ol.rank != 2))
		return false;
	return nb == 1 || (nb == m && b->shape.dim[b->shape.rank - 1] == m);
}

/* A layer reading y (layout l) as its input 0 along its input axis. */
static bool
leaf_ok(const ir_node *n, const ir_value *y, const dn_layout *l)
{
	int oax, iax;
	if (n->in[0] != y || n->in[1] == y || !pass_dn_w_axes(n, &oax, &iax))
		return false;
	if (n->op == OP_Conv)
		return l->axis == 1 && l->blk == 1;
	return l->rank == 2 && l->axis == 1;
}

/* ------------------------------------------------------------------ */
/* Discovery: every group value's definition and uses must be understood. */

static bool
visit_def(dn_group *gr, ir_value *v, const dn_layout *l)
{
	ir_node *d = v->def;
	dn_layout nl = *l;
	if (has_step(gr, d))
		return true;
	for (int i = 0; i < gr->nprod; i++)
		if (gr->prod[i] == d)
			return true;
	if (producer_ok(d, l, gr->m)) {
		if (gr->nprod == DN_MAX_NODES)
			return false;
		gr->prod[gr->nprod++] = d;
		return true;
	}
	if (is_join(d))
		return add_step(gr, d, l, true) && add_value(gr, d->in[0], l) &&
		       add_value(gr, d->in[1], l);
	/* Backwards only through steps that keep the layout. */
	if (d->op == OP_Flatten || d->op == OP_Reshape ||
	    !map_step(d, d->in[0], &nl))
		return false;
	return add_step(gr, d, l, false) && add_value(gr, d->in[0], l);
}

/* A Concat along the layout's axis reading v once: the channels continue
 * in its output after the inputs before v. */
static bool
visit_concat(dn_group *gr, ir_node *u, ir_value *v, const dn_layout *l)
{
	int r = u->out[0]->shape.rank, seen = 0, slot = 0;
	int64_t ax = ir_attr_req_i(u, "axis"), off = 0, pos = 0;
	if (ax < 0)
		ax += r;
	if (ax != l->axis || l->blk != 1)
		return false;
	for (int i = 0; i < u->nin; i++) {
		if (u->in[i] == v) {
			seen++;
			pos = off;
			slot = i;
		}
		off += u->in[i]->shape.dim[ax];
	}
	dn_layout nl = *l;
	nl.off = l->off + pos;
	nl.total = u->out[0]->shape.dim[ax];
	if (seen != 1 || !add_step(gr, u, l, false))
		return false;
	gr->step[gr->nsteps - 1].slot = slot;
	return add_value(gr, u->out[0], &nl);
}

static bool
visit_use(dn_group *gr, ir_value *v, const dn_layout *l, ir_node *u)
{
	dn_layout nl = *l;
	if (has_step(gr, u))
		return true;
	for (int i = 0; i < gr->nleaves; i++)
		if (gr->leaf[i].n == u)
			return true;
	if (is_join(u))
		return add_step(gr, u, l, true) &&
		       add_value(gr, u->out[0], l) &&
		       add_value(gr, u->in[u->in[0] == v], l);
	if (u->op == OP_Concat)
		return visit_concat(gr, u, v, l);
	if (map_step(u, v, &nl))
		return add_step(gr, u, l, false) &&
		       add_value(gr, u->out[0], &nl);
	if (!leaf_ok(u, v, l) || gr->nleaves == DN_MAX_NODES)
		return false;
	gr->leaf[gr->nleaves++] = (dn_leaf){u, *l, val_index(gr, v)};
	return true;
}

static int
cmp_step(const void *a, const void *b)
{
	const dn_step *x = a, *y = b;
	return (x->n->id > y->n->id) - (x->n->id < y->n->id);
}

/* The group of p's output; false when some part is not understood.
 * Needs uses and node ids (ir_number_values). */
static bool
find_group(const ir_graph *g, ir_node *p, dn_group *gr)
{
	int oax, iax;
	memset(gr, 0, sizeof *gr);
	if (!pass_dn_w_axes(p, &oax, &iax))
		return false;
	gr->m = p->in[1]->shape.dim[oax];
	dn_layout l = out_layout(p);
	if (!add_value(gr, p->out[0], &l))
		return false;
	for (int i = 0; i < gr->nvals; i++) {
		ir_value *v = gr->val[i];
		dn_layout vl = gr->vat[i];
		if (!v->def || pass_is_output(g, v) || !visit_def(gr, v, &vl))
			return false;
		for (int u = 0; u < v->nuses; u++)
			if (!visit_use(gr, v, &vl, v->uses[u].node))
				return false;
	}
	qsort(gr->step, (size_t)gr->nsteps, sizeof *gr->step, cmp_step);
	return true;
}


/* ------------------------------------------------------------------ */
/* What channel c of each group value is when it is one constant: a
 * producer with zero weights for it gives its bias, which the steps carry
 * (NAN: not a known constant). */

static double
bias_of(const ir_node *p, int64_t c, int64_t m)
{
	const ir_value *b = p->nin > 2 ? p->in[2] : NULL;
	if (!b)
		return 0;
	int64_t nb = ir_shape_numel(&b->shape);
	if (p->op == OP_Gemm) {
		/* C must be one row: [M], [1,M] or a scalar. */
		if (nb != 1 && (nb != m || b->shape.dim[b->shape.rank - 1] != m))
			return NAN;
		return ir_attr_f(p, "beta") *
		       ir_load_f64(b->data, b->dtype, nb == 1 ? 0 : c);
	}
	return ir_load_f64(b->data, b->dtype, c);
}

static double
activation(const ir_node *n, double x)
{
	double a, b;
	switch (n->op) {
	case OP_Relu: return x < 0 ? 0 : x;
	case OP_Identity: case OP_Dropout: return x;
	case OP_Clip:
		a = n->nin > 1 && n->in[1] ? ir_load_f64(n->in[1]->data,
					n->in[1]->dtype, 0) : -INFINITY;
		b = n->nin > 2 && n->in[2] ? ir_load_f64(n->in[2]->data,
					n->in[2]->dtype, 0) : INFINITY;
		return x < a ? a : x > b ? b : x;
	case OP_LeakyRelu:
		return x < 0 ? ir_attr_f(n, "alpha") * x : x;
	case OP_Sigmoid: return 1 / (1 + exp(-x));
	case OP_Tanh: return tanh(x);
	case OP_Silu: return x / (1 + exp(-x));
	case OP_Gelu:
		return x * (erf(x / 1.41421354f) + 1) * ir_attr_f(n, "alpha");
	case OP_GeluTanh:
		return x * (1 + tanh(0.7978846f * (x + 0.044715f * x * x * x))) *
		       ir_attr_f(n, "alpha");
	case OP_HardSigmoid:
		x = ir_attr_f(n, "alpha") * x + ir_attr_f(n, "beta");
		return x < 0 ? 0 : x > 1 ? 1 : x;
	case OP_HardSwish: {
		double h = x / 6 + 0.5;
		return x * (h < 0 ? 0 : h > 1 ? 1 : h);
	}
	default: return NAN;
	}
}

/* The constant operand at channel c, or NAN if it varies in the block. */
static double
operand_at(const ir_node *n, const dn_layout *l, int64_t c)
{
	const ir_value *k = n->in[1];
	int ax = pass_dn_const_axis(k, n->in[0], l);
	if (ax < 0)
		return ir_load_f64(k->data, k->dtype, 0);
	int64_t at = (l->off + c) * l->blk;
	double v = ir_load_f64(k->data, k->dtype, at);
	for (int64_t j = 1; j < l->blk; j++)
		if (ir_load_f64(k->data, k->dtype, at + j) != v)
			return NAN;
	return v;
}

/* AveragePool counting padded zeros does not map a constant to itself. */
static bool
pool_keeps_constants(const ir_node *n)
{
	int cnt;
	const int64_t *p = ir_attr_ints(n, "pads", &cnt);
	const char *ap = ir_attr_s_or(n, "auto_pad", "NOTSET");
	bool padded = strcmp(ap, "NOTSET") && strcmp(ap, "VALID");
	for (int i = 0; p && i < cnt; i++)
		padded |= p[i] != 0;
	return n->op != OP_AveragePool || !padded ||
	       !ir_attr_i(n, "count_include_pad");
}

/* A leaf can absorb a constant input channel into its bias: Gemm with a
 * one-row C (or none) and beta 1, or a Conv without padding. */
static bool
leaf_takes_constant(const ir_node *n)
{
	int cnt;
	if (n->op == OP_MatMul)
		return false;
	if (n->op == OP_Gemm) {
		const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
		int64_t nn = n->out[0]->shape.dim[1];
		return ir_attr_f(n, "beta") == 1.0 &&
		       (!b || (b->shape.rank == 1 && b->shape.dim[0] == nn));
	}
	const char *ap = ir_attr_s(n, "auto_pad");
	if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
		return false;
	const int64_t *p = ir_attr_ints(n, "pads", &cnt);
	for (int i = 0; p && i < cnt; i++)
		if (p[i])
			return false;
	return true;
}

/* x through map step s at channel c. */
static double
apply_step(const dn_step *s, double x, int64_t c)
{
	const ir_node *n = s->n;
	switch (n->op) {
	case OP_Add: return x + operand_at(n, &s->at, c);
	case OP_Sub: return x - operand_at(n, &s->at, c);
	case OP_Mul: return x * operand_at(n, &s->at, c);
	case OP_Div: return x / operand_at(n, &s->at, c);
	case OP_MaxPool: case OP_AveragePool:
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return pool_keeps_constants(n) ? x : NAN;
	case OP_Flatten: case OP_Reshape: case OP_Concat: return x;
	default: return activation(n, x);
	}
}

/* vals[i]: channel c of group value i, or NAN. Steps are in graph
 * order, so their inputs are known before them. */
static void
channel_values(const dn_group *gr, int64_t c, double *vals)
{
	int oax, iax;
	for (int i = 0; i < gr->nvals; i++)
		vals[i] = NAN;
	for (int i = 0; i < gr->nprod; i++) {
		const ir_node *p = gr->prod[i];
		pass_dn_w_axes(p, &oax, &iax);
		if (pass_dn_block_zero(p->in[1], oax, 1, c))
			vals[val_index(gr, p->out[0])] = bias_of(p, c, gr->m);
	}
	for (int i = 0; i < gr->nsteps; i++) {
		const dn_step *s = &gr->step[i];
		double x = vals[val_index(gr, s->n->in[s->slot])];
		if (s->join)
			x += vals[val_index(gr, s->n->in[1])];
		else
			x = apply_step(s, x, c);
		vals[val_index(gr, s->n->out[0])] = isfinite(x) ? x : NAN;
	}
}

/* ------------------------------------------------------------------ */
/* Deciding. */

/* Whether leaf i's weights for channel c are all zero. */
static bool
leaf_zero(const dn_group *gr, int i, int64_t c)
{
	int oax, iax;
	const dn_leaf *lf = &gr->leaf[i];
	pass_dn_w_axes(lf->n, &oax, &iax);
	return pass_dn_block_zero(lf->n->in[1], iax, lf->at.blk,
				  lf->at.off + c);
}

/* Whether channel c is dead: every leaf reads a known constant there
 * (the producers' rows are zero, their bias carried through), which its
 * bias absorbs unless its weights for c are zero; k[l * m + c] gets the
 * constant leaf l absorbs (0 when no correction is needed). A channel
 * whose leaves' weights are zero but whose producers compute it is not
 * dead: an Inf or NaN it computes is NaN in the leaves' outputs (0 * Inf),
 * and only computing it tells where (the dense kernel skips reading it);
 * unless `outgoing` (the option outgoing=1, which the driver sets after
 * lossy compression): then it is dead too. */
static bool
channel_dead(const dn_group *gr, int64_t c, double *vals, double *k,
	     bool outgoing)
{
	bool out_zero = outgoing;
	for (int i = 0; i < gr->nleaves && out_zero; i++)
		out_zero = leaf_zero(gr, i, c);
	if (out_zero) {
		for (int i = 0; i < gr->nleaves; i++)
			k[i * gr->m + c] = 0;
		return true;
	}
	channel_values(gr, c, vals);
	for (int i = 0; i < gr->nleaves; i++) {
		double kv = vals[gr->leaf[i].vi];
		bool zero = leaf_zero(gr, i, c);
		if (isnan(kv) ||
		    (kv != 0 && !zero && !leaf_takes_constant(gr->leaf[i].n)))
			return false;
		k[i * gr->m + c] = zero ? 0 : kv;
	}
	return true;
}

/* keep[c] false for dead channels; returns the dead count. One dead
 * channel, the carrier (*carrier; -1 if none died), always stays. The
 * dead channels' rows are zero, so an Inf or NaN input in a producer's
 * window made each of them NaN there (0 * Inf), at the same positions,
 * and that NaN reached every leaf output reading them (0 * NaN): the
 * carrier carries it (the README's floating-point contract), for the
 * cost of one zero row, which sparse kernels do not store. Its constant
 * goes into the leaves' bias like the others' and its leaf weights
 * become zero (pass_dn_shrink), which the dense kernel skips reading
 * (checking it for NaN and Inf). The carrier is the first dead channel
 * whose leaf weights are zero already, else the first: on the next round
 * it is the only dead channel left, so the pass reaches its fixpoint.
 * With `outgoing` nothing is kept for NaN: one channel stays only if all
 * died, so that no tensor becomes empty. */
static int64_t
decide(const dn_group *gr, bool *keep, double *k, int64_t *carrier,
       bool outgoing)
{
	double *vals = nn_xmalloc(sizeof *vals * (size_t)gr->nvals);
	int64_t dead = 0, first = -1, zero = -1;
	for (int64_t c = 0; c < gr->m; c++) {
		keep[c] = !channel_dead(gr, c, vals, k, outgoing);
		if (keep[c])
			continue;
		dead++;
		if (first < 0)
			first = c;
		bool z = zero < 0;
		for (int i = 0; i < gr->nleaves && z; i++)
			z = leaf_zero(gr, i, c);
		if (z)
			zero = c;
	}
	free(vals);
	*carrier = zero >= 0 ? zero : first;
	if (outgoing && dead < gr->m)
		*carrier = -1; /* outgoing=1: NaN is not kept */
	if (*carrier >= 0) {
		keep[*carrier] = true;
		dead--;
	}
	return dead;
}

/* Tries the group of producer p; 1 if it shrank. Needs uses and ids. */
static int
shrink(ir_graph *g, ir_node *p, bool outgoing)
{
	dn_group *gr = nn_xmalloc(sizeof *gr);
	int64_t dead = 0;
	if (find_group(g, p, gr) && gr->m > 1) {
		bool *keep = nn_xmalloc((size_t)gr->m * sizeof *keep);
		double *k = nn_xmalloc((size_t)(gr->m * (gr->nleaves + 1)) *
				       sizeof *k);
		int64_t carrier;
		dead = decide(gr, keep, k, &carrier, outgoing);
		if (dead)
			pass_dn_shrink(g, gr, keep, k, carrier);
		free(keep);
		free(k);
	}
	free(gr);
	return dead > 0;
}

/* Needs: types, uses and node ids (all recomputed here after every
 * change), and BatchNormalization already folded (eliminate-layers) to
 * see through Conv->BN->Relu. Leaves: uses stale; old weights unused
 * (run dce). */
bool
pass_dead_neurons(ir_graph *g, const pass_opts *o, nn_diag *d,
		  bool *changed)
{
	static const char *const keys[] = {"outgoing", NULL};
	bool ok = pass_opts_allow(o, "dead-neurons", keys, d);
	bool outgoing = pass_opt_i64(o, "dead-neurons", "outgoing", 0, d,
				     &ok) != 0;
	if (!ok)
		return false;
	int total = 0, done;
	do {
		done = 0;
		ir_compute_uses(g);
		ir_number_values(g);
		for (ir_node *n = g->first; n; n = n->next) {
			if (!shrink(g, n, outgoing))
				continue;
			done++;
			if (!ir_infer_shapes(g, d))
				return false;
			ir_compute_uses(g);
			ir_number_values(g);
		}
		total += done;
	} while (done);
	*changed = total > 0;
	return true;
}
