/* dead-neurons, second half: weight helpers and the physical shrinking of
 * a channel group (new, smaller constants for every producer, per-channel
 * constant, Reshape target and reader). */
#include <stdlib.h>
#include <string.h>

#include "dead_neurons.h"

static bool
wconst(const ir_value *v)
{
	return pass_has_data(v) && ir_dtype_is_float(v->dtype);
}

bool
pass_dn_w_axes(const ir_node *n, int *oax, int *iax)
{
	const ir_value *w = n->nin > 1 ? n->in[1] : NULL;
	const ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	/* fused layers are made later (fuse) and ConvTranspose's output
	 * channels are not yet followed */
	if (!w || !wconst(w) || (b && !wconst(b)) ||
	    ir_ops[n->op].kind == IR_KIND_FUSED ||
	    !ir_weight_axes(n, oax, iax))
		return false;
	switch (ir_ops[n->op].weight) {
	case IR_W_OIHW:
		return ir_attr_i(n, "group") == 1;
	case IR_W_KN:
		return !ir_attr_i_or(n, "transA", 0) && w->shape.rank == 2 &&
		       n->in[0]->shape.rank == 2;
	default:
		return false;
	}
}

/* Sizes of a shape before axis, at it, and after it. */
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

bool
pass_dn_block_zero(const ir_value *v, int ax, int64_t blk, int64_t c)
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

int
pass_dn_const_axis(const ir_value *c, const ir_value *y, const dn_layout *l)
{
	int off = y->shape.rank - c->shape.rank, ax = -1;
	if (off < 0)
		return -2;
	for (int i = 0; i < c->shape.rank; i++) {
		if (c->shape.dim[i] == 1)
			continue;
		if (off + i != l->axis || c->shape.dim[i] != l->total * l->blk)
			return -2;
		ax = i;
	}
	return ax;
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
	uint8_t *cdst = NULL;
	if (v->ncodes) { /* shared weights keep their codebook and codes */
		r->ncodes = v->ncodes;
		r->codebook = v->codebook;
		r->codes = cdst = nn_alloc(g->weights,
					   (size_t)(ir_shape_numel(&s) + 1));
	}
	for (int64_t o = 0; o < outer; o++)
		for (int64_t c = 0; c < d / blk; c++)
			if (keep[c]) {
				size_t at = (size_t)((o * d + c * blk) * inner);
				memcpy(dst, (const char *)v->data + at * es, row);
				dst += row;
				if (cdst) {
					memcpy(cdst, v->codes + at, row / es);
					cdst += row / es;
				}
			}
	ir_const_facts(r);
	return r;
}

/* keep over all `total` blocks of a layout: blocks outside the group's
 * range stay. malloc'd; caller frees. */
static bool *
keep_blocks(const dn_layout *l, int64_t m, const bool *keep)
{
	bool *kb = nn_xmalloc((size_t)l->total * sizeof *kb);
	for (int64_t b = 0; b < l->total; b++)
		kb[b] = b < l->off || b >= l->off + m || keep[b - l->off];
	return kb;
}

/* A producer without its dead output channels (its bias is one row, as
 * the analysis checked). */
static void
shrink_producer(ir_graph *g, ir_node *p, int64_t m, const bool *keep)
{
	int oax, iax;
	pass_dn_w_axes(p, &oax, &iax);
	p->in[1] = slice_axis(g, p->in[1], oax, 1, keep);
	ir_value *b = p->nin > 2 ? p->in[2] : NULL;
	if (b && ir_shape_numel(&b->shape) == m && m > 1)
		p->in[2] = slice_axis(g, b, b->shape.rank - 1, 1, keep);
}

/* Per-channel constants of map steps, and Reshape targets. */
static void
shrink_step(ir_graph *g, const dn_step *s, int64_t m, int64_t nk,
	    const bool *keep)
{
	ir_node *n = s->n;
	if (s->join)
		return;
	if (n->op == OP_Reshape) {
		int64_t d1 = n->out[0]->shape.dim[1];
		int64_t t[2] = {n->out[0]->shape.dim[0],
				d1 - (m - nk) * (d1 / s->at.total)};
		ir_shape ts = {1, {2}};
		n->in[1] = ir_add_const(g, NULL, IR_I64, &ts, t);
		return;
	}
	if (ir_ops[n->op].kind != IR_KIND_BINARY)
		return;
	int ax = pass_dn_const_axis(n->in[1], n->in[0], &s->at);
	if (ax >= 0) {
		bool *kb = keep_blocks(&s->at, m, keep);
		n->in[1] = slice_axis(g, n->in[1], ax, s->at.blk, kb);
		free(kb);
	}
}

static void
set_bias(ir_graph *g, ir_node *n, ir_value *b)
{
	if (n->nin < 3) {
		ir_value **in = nn_alloc_array(g->arena, 3, sizeof *in);
		memcpy(in, n->in, (size_t)n->nin * sizeof *in);
		n->in = in;
		n->nin = 3;
	}
	n->in[2] = b;
}

/* The code of 0 in v's codebook, -1 when 0 has none; 0 for plain data. */
static int
zero_code(const ir_value *v)
{
	if (!v->ncodes)
		return 0;
	for (int i = 0; v->codebook && i < v->ncodes; i++)
		if (v->codebook[i] == 0)
			return i;
	return -1;
}

/* Block `at` (blk positions along ax) of the fresh constant v set to 0. */
static void
zero_block(ir_value *v, int ax, int64_t blk, int64_t at, int code)
{
	int64_t outer, d, inner;
	size_t es = ir_dtype_size(v->dtype);
	split_dims(&v->shape, ax, &outer, &d, &inner);
	for (int64_t o = 0; o < outer; o++) {
		size_t i = (size_t)((o * d + at * blk) * inner);
		memset((char *)v->data + i * es, 0, (size_t)(blk * inner) * es);
		if (v->ncodes)
			memset(v->codes + i, code, (size_t)(blk * inner));
	}
	ir_const_facts(v);
}

/* A leaf's bias plus k[c] times the weights of each dead channel c, then
 * its weights without the dead input channels. The carrier (a dead
 * channel that stays, pass_dn_shrink) is folded the same way and its
 * weights set to zero, when zero has a code in a codebook. */
static void
shrink_leaf(ir_graph *g, const dn_leaf *lf, int64_t m, const bool *keep,
	    const double *k, int64_t carrier)
{
	int oax, iax;
	ir_node *n = lf->n;
	pass_dn_w_axes(n, &oax, &iax);
	const ir_value *w = n->in[1], *old = n->nin > 2 ? n->in[2] : NULL;
	int64_t nn = w->shape.dim[oax], cnt = ir_shape_numel(&w->shape);
	int64_t nin = w->shape.dim[iax], kk = cnt / (nn * nin);
	double *b = nn_xcalloc((size_t)nn, sizeof *b);
	double alpha = n->op == OP_Gemm ? ir_attr_f(n, "alpha") : 1;
	int code = zero_code(w);
	bool any = false;
	if (code < 0)
		carrier = -1;
	for (int64_t i = 0; old && i < nn; i++)
		b[i] = ir_load_f64(old->data, old->dtype, i);
	for (int64_t i = 0; i < cnt; i++) {
		/* Conv [N, C, k...]; Gemm [K, N] or [N, K] (transB). */
		int64_t o = oax == 0 ? i / (nin * kk) : i % nn;
		int64_t c = (oax == 0 ? (i / kk) % nin : i / nn) / lf->at.blk -
			    lf->at.off;
		if (c >= 0 && c < m && (!keep[c] || c == carrier) &&
		    k[c] != 0) {
			b[o] += alpha * k[c] * ir_load_f64(w->data, w->dtype, i);
			any = true;
		}
	}
	if (any) {
		ir_shape bs = {1, {nn}};
		set_bias(g, n, pass_const_f64(g, w->dtype, &bs, b));
	}
	free(b);
	bool *kb = keep_blocks(&lf->at, m, keep);
	ir_value *nw = slice_axis(g, w, iax, lf->at.blk, kb);
	if (carrier >= 0) {
		int64_t at = 0;
		for (int64_t j = 0; j < lf->at.off + carrier; j++)
			at += kb[j];
		zero_block(nw, iax, lf->at.blk, at, code);
	}
	n->in[1] = nw;
	free(kb);
}

void
pass_dn_shrink(ir_graph *g, const dn_group *gr, const bool *keep,
	       const double *k, int64_t carrier)
{
	int64_t nk = 0;
	for (int64_t c = 0; c < gr->m; c++)
		nk += keep[c];
	/* Leaves first: a layer may be a leaf and a producer of one group
	 * (y = x + conv(x)), and the leaf half reads the original bias. */
	for (int i = 0; i < gr->nleaves; i++)
		shrink_leaf(g, &gr->leaf[i], gr->m, keep, k + i * gr->m,
			    carrier);
	for (int i = 0; i < gr->nsteps; i++)
		shrink_step(g, &gr->step[i], gr->m, nk, keep);
	for (int i = 0; i < gr->nprod; i++)
		shrink_producer(g, gr->prod[i], gr->m, keep);
}
