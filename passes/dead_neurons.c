/* dead-neurons: removes output channels (neurons) of a Conv/Gemm/MatMul
 * that cannot affect the result, shrinking the layer and the layers that
 * read it. A channel dies when its incoming weights are all zero (its
 * value is then a per-channel constant, folded into the readers' bias) or
 * when every reader's weights for it are zero. The path from producer to
 * readers may pass through activations, per-channel constant arithmetic,
 * pools and a Flatten/Reshape to 2-D; anything else (a residual Add, a
 * Concat, a graph output, a grouped Conv) leaves the producer alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opt_util.h"

#define MAX_STEPS 16
#define MAX_LEAVES 8

/* Where channel c lives in a value: along `axis`, as `blk` consecutive
 * positions starting at c * blk (blk > 1 after a Flatten). */
typedef struct layout {
	int rank, axis;
	int64_t blk;
} layout;

typedef struct path {
	ir_node *p;               /* the producer */
	int64_t m;                /* its output channels */
	ir_node *step[MAX_STEPS]; /* pass-through nodes, in order */
	layout at[MAX_STEPS];     /* layout of each step's input */
	int nsteps;
	ir_node *leaf[MAX_LEAVES]; /* readers of the last value, input 0 */
	int nleaves;
	layout end;               /* layout of the leaves' input */
} path;

/* ------------------------------------------------------------------ */
/* Weights: which axis of W is the output and which the input side. */

static bool
wconst(const ir_value *v)
{
	return pass_has_data(v) && ir_dtype_is_float(v->dtype);
}

/* W's axis holding output channels and the one holding inputs, for a
 * plain (group 1) Conv, a Gemm reading its A plainly, or a 2-D MatMul;
 * false for anything else. */
static bool
w_axes(const ir_node *n, int *oax, int *iax)
{
	const ir_value *w = n->nin > 1 ? n->in[1] : NULL;
	const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	if (!w || !wconst(w) || (b && !wconst(b)))
		return false;
	switch (n->op) {
	case OP_Conv:
		*oax = 0;
		*iax = 1;
		return ir_attr_int(n, "group", 1) == 1;
	case OP_Gemm:
		*oax = ir_attr_int(n, "transB", 0) ? 0 : 1;
		*iax = 1 - *oax;
		return !ir_attr_int(n, "transA", 0);
	case OP_MatMul:
		*oax = 1;
		*iax = 0;
		return w->shape.rank == 2 && n->in[0]->shape.rank == 2;
	default:
		return false;
	}
}

/* Sizes of v's shape before axis, at it, and after it. */
static void
split_dims(const ir_shape *s, int ax, int64_t *outer, int64_t *d,
	   int64_t *inner)
{
	*outer = *inner = 1;
	for (int i = 0; i < s->rank; i++) {
		if (i < ax)
			*outer *= s->dim[i];
		else if (i > ax)
			*inner *= s->dim[i];
	}
	*d = s->dim[ax];
}

/* Whether v's block c along ax (blk positions) is all zero. */
static bool
block_zero(const ir_value *v, int ax, int64_t blk, int64_t c)
{
	int64_t outer, d, inner;
	split_dims(&v->shape, ax, &outer, &d, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = c * blk; j < (c + 1) * blk; j++)
			for (int64_t i = 0; i < inner; i++)
				if (ir_load_f64(v->data, v->dtype,
						(o * d + j) * inner + i) != 0)
					return false;
	return true;
}

/* v with only the kept blocks (keep[c]) along ax; a new constant. */
static ir_value *
slice_axis(ir_graph *g, const ir_value *v, int ax, int64_t blk,
	   const bool *keep)
{
	int64_t outer, d, inner, nk = 0;
	split_dims(&v->shape, ax, &outer, &d, &inner);
	for (int64_t c = 0; c < d / blk; c++)
		nk += keep[c];
	ir_shape s = v->shape;
	s.dim[ax] = nk * blk;
	ir_value *r = pass_new_const(g, v->dtype, &s);
	size_t es = ir_dtype_size(v->dtype), row = (size_t)(blk * inner) * es;
	char *dst = r->data;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t c = 0; c < d / blk; c++)
			if (keep[c]) {
				memcpy(dst, (const char *)v->data +
					    (size_t)((o * d + c * blk) * inner) *
						    es, row);
				dst += row;
			}
	ir_const_facts(r);
	return r;
}

/* ------------------------------------------------------------------ */
/* Path discovery. */

static bool
is_activation(ir_op op)
{
	return op == OP_Relu || op == OP_Clip || op == OP_LeakyRelu ||
	       op == OP_Sigmoid || op == OP_Tanh || op == OP_HardSwish ||
	       op == OP_HardSigmoid || op == OP_Identity || op == OP_Dropout;
}

/* The constant operand's axis matching the layout's channel axis (it is
 * right-aligned), or -1 when it is 1 there; -2 when it does not fit (it
 * broadcasts the value larger, or varies along another axis). */
static int
const_axis(const ir_value *c, const ir_value *y, const layout *l, int64_t m)
{
	int off = y->shape.rank - c->shape.rank, ax = -1;
	if (off < 0)
		return -2;
	for (int i = 0; i < c->shape.rank; i++) {
		if (c->shape.dim[i] == 1)
			continue;
		if (off + i != l->axis || c->shape.dim[i] != m * l->blk)
			return -2;
		ax = i;
	}
	return ax;
}

/* A step n reading y (layout *l) that keeps channels apart; updates *l
 * for a Flatten/Reshape to [N, C*rest]. */
static bool
pass_through(const ir_node *n, const ir_value *y, layout *l, int64_t m)
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
		return n->in[1] != y && ir_is_const(n->in[1]) &&
		       pass_has_data(n->in[1]) && ir_shape_eq(os, ys) &&
		       const_axis(n->in[1], y, l, m) != -2;
	case OP_MaxPool: case OP_AveragePool:
	case OP_GlobalAveragePool: case OP_GlobalMaxPool:
		return l->rank >= 3 && l->axis == 1 && l->blk == 1;
	case OP_Flatten: case OP_Reshape:
		if (l->axis != 1 || l->blk != 1 || os->rank != 2 ||
		    os->dim[0] != ys->dim[0] ||
		    (n->op == OP_Flatten && ir_attr_int(n, "axis", 1) != 1))
			return false;
		l->blk = os->dim[1] / m;
		l->rank = 2;
		return true;
	default:
		return false;
	}
}

/* A reader of the end value: a layer with the value as input 0 whose
 * input axis matches the layout. */
static bool
leaf_ok(const ir_node *n, const ir_value *y, const layout *l)
{
	int oax, iax;
	if (n->in[0] != y || n->in[1] == y || !w_axes(n, &oax, &iax))
		return false;
	if (n->op == OP_Conv)
		return l->axis == 1 && l->blk == 1;
	return l->rank == 2 && l->axis == 1;
}

/* Finds the path from p to its readers; false when some use is not
 * understood. Needs uses. */
static bool
find_path(const ir_graph *g, ir_node *p, path *pa)
{
	int oax, iax;
	memset(pa, 0, sizeof *pa);
	if (!w_axes(p, &oax, &iax))
		return false;
	pa->p = p;
	pa->m = p->in[1]->shape.dim[oax];
	ir_value *y = p->out[0];
	layout l = {y->shape.rank, p->op == OP_Conv ? 1 : y->shape.rank - 1,
		    1};
	for (;;) {
		if (pass_is_output(g, y) || y->nuses == 0)
			return false;
		ir_node *u = y->nuses == 1 ? y->uses[0].node : NULL;
		layout nl = l;
		if (!u || !pass_through(u, y, &nl, pa->m))
			break;
		if (pa->nsteps == MAX_STEPS)
			return false;
		pa->at[pa->nsteps] = l;
		pa->step[pa->nsteps++] = u;
		l = nl;
		y = u->out[0];
	}
	if (y->nuses > MAX_LEAVES)
		return false;
	for (int i = 0; i < y->nuses; i++) {
		if (!leaf_ok(y->uses[i].node, y, &l))
			return false;
		pa->leaf[pa->nleaves++] = y->uses[i].node;
	}
	pa->end = l;
	return true;
}

/* ------------------------------------------------------------------ */
/* What a channel with all-zero incoming weights computes: its bias,
 * carried through the steps. NAN when it is not one constant. */

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
		return ir_attr_float(p, "beta", 1.0) *
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
		return x < 0 ? ir_attr_float(n, "alpha", 0.01) * x : x;
	case OP_Sigmoid: return 1 / (1 + exp(-x));
	case OP_Tanh: return tanh(x);
	case OP_HardSigmoid:
		x = ir_attr_float(n, "alpha", 0.2) * x +
		    ir_attr_float(n, "beta", 0.5);
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
operand_at(const ir_node *n, const layout *l, int64_t c, int64_t m)
{
	const ir_value *k = n->in[1];
	int ax = const_axis(k, n->in[0], l, m);
	if (ax < 0)
		return ir_load_f64(k->data, k->dtype, 0);
	double v = ir_load_f64(k->data, k->dtype, c * l->blk);
	for (int64_t j = 1; j < l->blk; j++)
		if (ir_load_f64(k->data, k->dtype, c * l->blk + j) != v)
			return NAN;
	return v;
}

/* AveragePool counting padded zeros does not map a constant to itself. */
static bool
pool_keeps_constants(const ir_node *n)
{
	int cnt;
	const int64_t *p = ir_attr_ints(n, "pads", &cnt);
	bool padded = strcmp(ir_attr_str(n, "auto_pad", "NOTSET"), "NOTSET") &&
		      strcmp(ir_attr_str(n, "auto_pad", "NOTSET"), "VALID");
	for (int i = 0; p && i < cnt; i++)
		padded |= p[i] != 0;
	return n->op != OP_AveragePool || !padded ||
	       !ir_attr_int(n, "count_include_pad", 0);
}

static double
constant_value(const path *pa, int64_t c)
{
	double x = bias_of(pa->p, c, pa->m);
	for (int s = 0; s < pa->nsteps && !isnan(x); s++) {
		const ir_node *n = pa->step[s];
		switch (n->op) {
		case OP_Add: x += operand_at(n, &pa->at[s], c, pa->m); break;
		case OP_Sub: x -= operand_at(n, &pa->at[s], c, pa->m); break;
		case OP_Mul: x *= operand_at(n, &pa->at[s], c, pa->m); break;
		case OP_Div: x /= operand_at(n, &pa->at[s], c, pa->m); break;
		case OP_MaxPool: case OP_AveragePool:
		case OP_GlobalAveragePool: case OP_GlobalMaxPool:
			if (!pool_keeps_constants(n))
				return NAN;
			break;
		case OP_Flatten: case OP_Reshape: break;
		default: x = activation(n, x); break;
		}
	}
	return isfinite(x) ? x : NAN;
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
		return ir_attr_float(n, "beta", 1.0) == 1.0 &&
		       (!b || (b->shape.rank == 1 && b->shape.dim[0] == nn));
	}
	const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
	if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
		return false;
	const int64_t *p = ir_attr_ints(n, "pads", &cnt);
	for (int i = 0; p && i < cnt; i++)
		if (p[i])
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Deciding and shrinking. */

/* keep[c] false for dead channels; k[c] the constant a dead channel with
 * live readers carries (0 when no reader needs a correction). At least
 * one channel stays so no tensor becomes empty. Returns the dead count. */
static int64_t
decide(const path *pa, bool *keep, double *k)
{
	int oax, iax, lo, li;
	int64_t dead = 0;
	w_axes(pa->p, &oax, &iax);
	for (int64_t c = 0; c < pa->m; c++) {
		bool out_zero = true;
		keep[c] = true;
		k[c] = 0;
		for (int i = 0; i < pa->nleaves && out_zero; i++) {
			w_axes(pa->leaf[i], &lo, &li);
			out_zero = block_zero(pa->leaf[i]->in[1], li,
					      pa->end.blk, c);
		}
		if (!out_zero) {
			if (!block_zero(pa->p->in[1], oax, 1, c))
				continue;
			k[c] = constant_value(pa, c);
			if (isnan(k[c]))
				continue;
			for (int i = 0; i < pa->nleaves && k[c] != 0; i++)
				if (!leaf_takes_constant(pa->leaf[i]))
					k[c] = NAN;
			if (isnan(k[c]))
				continue;
		}
		keep[c] = false;
		dead++;
	}
	if (dead == pa->m) {
		keep[0] = true;
		dead--;
	}
	return dead;
}

static int64_t
kept(const bool *keep, int64_t m)
{
	int64_t nk = 0;
	for (int64_t c = 0; c < m; c++)
		nk += keep[c];
	return nk;
}

/* The producer without its dead output channels. */
static void
shrink_producer(ir_graph *g, ir_node *p, int64_t m, const bool *keep)
{
	int oax, iax;
	w_axes(p, &oax, &iax);
	p->in[1] = slice_axis(g, p->in[1], oax, 1, keep);
	ir_value *b = p->nin > 2 ? p->in[2] : NULL;
	if (b && ir_shape_numel(&b->shape) == m && b->shape.rank > 0 &&
	    b->shape.dim[b->shape.rank - 1] == m)
		p->in[2] = slice_axis(g, b, b->shape.rank - 1, 1, keep);
}

/* Per-channel constants and Reshape targets along the path. */
static void
shrink_steps(ir_graph *g, const path *pa, const bool *keep)
{
	int64_t nk = kept(keep, pa->m);
	for (int s = 0; s < pa->nsteps; s++) {
		ir_node *n = pa->step[s];
		if (n->op == OP_Reshape) {
			int64_t t[2] = {n->out[0]->shape.dim[0],
					n->out[0]->shape.dim[1] / pa->m * nk};
			ir_shape ts = {1, {2}};
			n->in[1] = ir_add_const(g, NULL, IR_I64, &ts, t);
			continue;
		}
		if (ir_ops[n->op].kind != IR_KIND_BINARY)
			continue;
		int ax = const_axis(n->in[1], n->in[0], &pa->at[s], pa->m);
		if (ax >= 0)
			n->in[1] = slice_axis(g, n->in[1], ax, pa->at[s].blk,
					      keep);
	}
}

/* The leaf's bias with k[c] * (weights of dead channel c) added, then its
 * weights without the dead input channels. */
static void
shrink_leaf(ir_graph *g, ir_node *n, const path *pa, const bool *keep,
	    const double *k)
{
	int oax, iax;
	w_axes(n, &oax, &iax);
	const ir_value *w = n->in[1];
	int64_t nn = w->shape.dim[oax], cnt = ir_shape_numel(&w->shape);
	int64_t nin = w->shape.dim[iax], kk = cnt / (nn * nin);
	double *b = nn_xcalloc((size_t)nn, sizeof *b);
	double alpha = n->op == OP_Gemm ? ir_attr_float(n, "alpha", 1.0) : 1;
	bool any = false;
	ir_value *old = n->nin > 2 ? n->in[2] : NULL;
	for (int64_t i = 0; old && i < nn; i++)
		b[i] = ir_load_f64(old->data, old->dtype, i);
	for (int64_t i = 0; i < cnt; i++) {
		/* Conv [N, C, k...]; Gemm [K, N] or [N, K] (transB). */
		int64_t o = oax == 0 ? i / (nin * kk) : i % nn;
		int64_t ci = oax == 0 ? (i / kk) % nin : i / nn;
		double kv = k[ci / pa->end.blk];
		if (kv != 0 && !keep[ci / pa->end.blk]) {
			b[o] += alpha * kv * ir_load_f64(w->data, w->dtype, i);
			any = true;
		}
	}
	if (any) {
		ir_shape bs = {1, {nn}};
		ir_value *nb = pass_const_f64(g, w->dtype, &bs, b);
		if (n->nin > 2) {
			n->in[2] = nb;
		} else {
			ir_value **in = nn_alloc_array(g->arena, 3, sizeof *in);
			memcpy(in, n->in, 2 * sizeof *in);
			in[2] = nb;
			n->in = in;
			n->nin = 3;
		}
	}
	free(b);
	n->in[1] = slice_axis(g, w, iax, pa->end.blk, keep);
}

/* Tries producer p; 1 if it shrank. Needs uses and types. */
static int
shrink(ir_graph *g, ir_node *p)
{
	path pa;
	if (!find_path(g, p, &pa))
		return 0;
	bool *keep = nn_xmalloc((size_t)pa.m * sizeof *keep);
	double *k = nn_xmalloc((size_t)pa.m * sizeof *k);
	int64_t dead = decide(&pa, keep, k);
	if (dead) {
		for (int i = 0; i < pa.nleaves; i++)
			shrink_leaf(g, pa.leaf[i], &pa, keep, k);
		shrink_steps(g, &pa, keep);
		shrink_producer(g, p, pa.m, keep);
	}
	free(keep);
	free(k);
	return dead > 0;
}

/* Needs: types and uses (both recomputed here after every change), and
 * BatchNormalization already folded (eliminate-layers) to see through
 * Conv->BN->Relu. Leaves: uses stale; old weights unused (run dce). */
bool
pass_dead_neurons(ir_graph *g, const pass_opts *o, nn_diag *d,
		  bool *changed)
{
	if (!pass_opts_allow(o, "dead-neurons", NULL, d))
		return false;
	int total = 0, done;
	do {
		done = 0;
		ir_compute_uses(g);
		for (ir_node *n = g->first; n; n = n->next) {
			if (!shrink(g, n))
				continue;
			done++;
			if (!ir_infer_shapes(g, d))
				return false;
			ir_compute_uses(g);
		}
		total += done;
	} while (done && total < 10000);
	*changed = total > 0;
	return true;
}
