/* Copies where every output element is one input element at a computed
 * offset (Expand, Tile, DepthToSpace, SpaceToDepth), Trilu (a masked copy)
 * and Range. Shape inputs (Expand's shape, Tile's repeats, Range's
 * scalars, Trilu's k) must be known. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

static bool
known_ints(ir_node *n, int i, int64_t *v, int max, int *cnt, nn_diag *d)
{
	const ir_value *x = n->in[i];
	if (!x || !x->data) {
		nn_error_node(d, n, "input %d must be a constant", i);
		return false;
	}
	int64_t c = ir_shape_numel(&x->shape);
	if (!ir_dtype_is_int(x->dtype) || x->shape.rank > 1 || c > max) {
		nn_error_node(d, n, "input %d must be a 1-D integer tensor of "
			      "at most %d elements", i, max);
		return false;
	}
	for (int64_t k = 0; k < c; k++)
		v[k] = ir_load_i64(x->data, x->dtype, k);
	*cnt = (int)c;
	return true;
}

static bool
shape_expand(ir_node *n, nn_diag *d)
{
	ir_shape s = {0}, o;
	if (!known_ints(n, 1, s.dim, IR_MAX_RANK, &s.rank, d))
		return false;
	if (!ir_shape_broadcast(&n->in[0]->shape, &s, &o)) {
		char sa[128], sb[128];
		ir_shape_str(&n->in[0]->shape, sa, sizeof sa);
		ir_shape_str(&s, sb, sizeof sb);
		nn_error_node(d, n, "cannot expand %s to %s", sa, sb);
		return false;
	}
	n->out[0]->shape = o;
	return true;
}

static bool
shape_tile(ir_node *n, nn_diag *d)
{
	int64_t r[IR_MAX_RANK];
	int cnt;
	const ir_shape *x = &n->in[0]->shape;
	if (!known_ints(n, 1, r, IR_MAX_RANK, &cnt, d))
		return false;
	if (cnt != x->rank) {
		nn_error_node(d, n, "%d repeats for rank %d", cnt, x->rank);
		return false;
	}
	ir_shape o = *x;
	for (int k = 0; k < cnt; k++) {
		if (r[k] < 0) {
			nn_error_node(d, n, "negative repeat %lld",
				      (long long)r[k]);
			return false;
		}
		o.dim[k] *= r[k];
	}
	n->out[0]->shape = o;
	return true;
}

/* DepthToSpace / SpaceToDepth on N, C, H, W. */
static bool
shape_depth(ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape;
	int64_t b = ir_attr_int(n, "blocksize", 0); /* absent: refused */
	bool d2s = n->op == OP_DepthToSpace;
	if (x->rank != 4 || b < 1) {
		nn_error_node(d, n, "needs a rank-4 input and blocksize >= 1");
		return false;
	}
	if (d2s ? x->dim[1] % (b * b) : x->dim[2] % b || x->dim[3] % b) {
		nn_error_node(d, n, "dimensions not divisible by blocksize %lld",
			      (long long)b);
		return false;
	}
	/* SpaceToDepth has no mode: its order is DCR's */
	const char *mode = ir_attr_s_or(n, "mode", "DCR");
	if (d2s && strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0) {
		nn_error_node(d, n, "unknown mode '%s'", mode);
		return false;
	}
	ir_shape o = *x;
	o.dim[1] = d2s ? x->dim[1] / (b * b) : x->dim[1] * b * b;
	o.dim[2] = d2s ? x->dim[2] * b : x->dim[2] / b;
	o.dim[3] = d2s ? x->dim[3] * b : x->dim[3] / b;
	n->out[0]->shape = o;
	return true;
}

static bool
shape_range(ir_node *n, nn_diag *d)
{
	ir_dtype t = n->in[0]->dtype;
	double v[3];
	for (int i = 0; i < 3; i++) {
		const ir_value *x = n->in[i];
		if (x->dtype != t || ir_shape_numel(&x->shape) != 1) {
			nn_error_node(d, n, "inputs must be scalars of one type");
			return false;
		}
		if (!x->data) {
			nn_error_node(d, n, "input %d must be a constant", i);
			return false;
		}
		v[i] = ir_load_f64(x->data, t, 0);
	}
	if (!(ir_dtype_is_float(t) || ir_dtype_is_int(t)) || v[2] == 0) {
		nn_error_node(d, n, "needs a numeric type and a non-zero delta");
		return false;
	}
	double cnt = ceil((v[1] - v[0]) / v[2]);
	if (!(cnt < (double)IR_MAX_ELEMS)) {
		nn_error_node(d, n, "too many elements");
		return false;
	}
	n->out[0]->shape = (ir_shape){.rank = 1, .dim = {cnt > 0 ? (int64_t)cnt
							       : 0}};
	return true;
}

static bool
shape_trilu(ir_node *n, nn_diag *d)
{
	int64_t k;
	int cnt;
	if (n->in[0]->shape.rank < 2) {
		nn_error_node(d, n, "input rank must be at least 2");
		return false;
	}
	if (n->nin > 1 && n->in[1] && !known_ints(n, 1, &k, 1, &cnt, d))
		return false;
	n->out[0]->shape = n->in[0]->shape;
	return true;
}

/* Trilu's diagonal offset k (0 when omitted). */
int64_t
ir_trilu_k(const ir_node *n)
{
	const ir_value *k = n->nin > 1 ? n->in[1] : NULL;
	return k && k->data && ir_shape_numel(&k->shape) == 1
	       ? ir_load_i64(k->data, k->dtype, 0) : 0;
}

/* Keeps element (i, j) of each matrix where j - i >= k (upper) or
 * j - i <= k (lower), zeroes the others. */
static void
eval_trilu(const ir_node *n, const void *x, void *y)
{
	const ir_shape *s = &n->in[0]->shape;
	int64_t r = s->dim[s->rank - 2], c = s->dim[s->rank - 1];
	int64_t total = ir_shape_numel(s), k = ir_trilu_k(n);
	bool up = ir_attr_i(n, "upper") != 0;
	size_t es = ir_dtype_size(n->in[0]->dtype);
	for (int64_t e = 0; e < total; e++) {
		int64_t i = e / c % r, j = e % c;
		bool keep = up ? j - i >= k : j - i <= k;
		if (keep)
			memcpy((char *)y + e * (int64_t)es,
			       (const char *)x + e * (int64_t)es, es);
		else
			memset((char *)y + e * (int64_t)es, 0, es);
	}
}

bool
ir_shape_expand(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	bool ok;
	switch (n->op) {
	case OP_Expand: ok = shape_expand(n, d); break;
	case OP_Tile: ok = shape_tile(n, d); break;
	case OP_Range: ok = shape_range(n, d); break;
	case OP_Trilu: ok = shape_trilu(n, d); break;
	default: ok = shape_depth(n, d); break;
	}
	n->out[0]->dtype = n->in[0]->dtype;
	return ok;
}

/* Input offset of output element idx (a multi-index of the output). */
static int64_t
src_offset(const ir_node *n, const int64_t *idx)
{
	const ir_shape *x = &n->in[0]->shape, *o = &n->out[0]->shape;
	int64_t off = 0, b = n->op == OP_DepthToSpace ||
				     n->op == OP_SpaceToDepth
				     ? ir_attr_req_i(n, "blocksize") : 1;
	if (n->op == OP_DepthToSpace) {
		int64_t c = idx[1], h = idx[2], w = idx[3], ic;
		bool crd = strcmp(ir_attr_s(n, "mode"), "CRD") == 0;
		ic = crd ? (c * b + h % b) * b + w % b
			 : ((h % b) * b + w % b) * o->dim[1] + c;
		return ((idx[0] * x->dim[1] + ic) * x->dim[2] + h / b) *
		       x->dim[3] + w / b;
	}
	if (n->op == OP_SpaceToDepth) {
		int64_t c = idx[1] % x->dim[1], blk = idx[1] / x->dim[1];
		int64_t h = idx[2] * b + blk / b, w = idx[3] * b + blk % b;
		return ((idx[0] * x->dim[1] + c) * x->dim[2] + h) * x->dim[3] +
		       w;
	}
	for (int k = 0; k < o->rank; k++) {
		int j = k - (o->rank - x->rank);
		if (j < 0)
			continue;
		int64_t i = n->op == OP_Tile ? idx[k] % x->dim[j]
			  : x->dim[j] == 1 ? 0 : idx[k];
		off = off * x->dim[j] + i;
	}
	return off;
}

void
ir_expand_map(const ir_node *n, int64_t *map)
{
	const ir_shape *o = &n->out[0]->shape;
	int64_t idx[IR_MAX_RANK] = {0}, total = ir_shape_numel(o);
	for (int64_t i = 0; i < total; i++) {
		map[i] = src_offset(n, idx);
		for (int k = o->rank - 1; k >= 0; k--) {
			if (++idx[k] < o->dim[k])
				break;
			idx[k] = 0;
		}
	}
}

static void
eval_range(const ir_node *n, const void *const *in, void *out)
{
	ir_dtype t = n->in[0]->dtype;
	int64_t cnt = n->out[0]->shape.dim[0];
	if (ir_dtype_is_int(t)) {
		uint64_t s = elem_load_bits(in[0], t, 0);
		uint64_t dl = elem_load_bits(in[2], t, 0);
		for (int64_t i = 0; i < cnt; i++)
			elem_store_bits(out, t, i, s + (uint64_t)i * dl);
		return;
	}
	double s = ir_load_f64(in[0], t, 0), dl = ir_load_f64(in[2], t, 0);
	for (int64_t i = 0; i < cnt; i++)
		ir_store_f64(out, t, i, s + (double)i * dl);
}

bool
ir_eval_expand(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	(void)d;
	if (n->op == OP_Range) {
		eval_range(n, in, out[0]);
		return true;
	}
	if (n->op == OP_Trilu) {
		eval_trilu(n, in[0], out[0]);
		return true;
	}
	int64_t total = ir_shape_numel(&n->out[0]->shape);
	size_t es = ir_dtype_size(n->in[0]->dtype);
	int64_t *map = nn_xmalloc((size_t)(total ? total : 1) * sizeof *map);
	ir_expand_map(n, map);
	for (int64_t i = 0; i < total; i++)
		memcpy((char *)out[0] + (size_t)i * es,
		       (const char *)in[0] + (size_t)map[i] * es, es);
	free(map);
	return true;
}
