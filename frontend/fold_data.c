/* Ops whose output shape depends on data, evaluated at import when their
 * input is a constant (an initializer or a Constant node's value), so
 * that their outputs become constants: NonZero and Unique. Any other use
 * is refused (nodes.c says why). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

static bool
is_constant_node(const Onnx__NodeProto *np)
{
	return (!np->domain || !*np->domain ||
		strcmp(np->domain, "ai.onnx") == 0) &&
	       strcmp(fe_str(np->op_type), "Constant") == 0;
}

bool
fe_folds_at_import(fe_ctx *c, const Onnx__GraphProto *gp,
		   const Onnx__NodeProto *np)
{
	const char *t = fe_str(np->op_type);
	if (strcmp(t, "NonZero") && strcmp(t, "Unique"))
		return false;
	if (np->n_input != 1 || !*fe_str(np->input[0]))
		return false;
	const char *s = fe_str(np->input[0]);
	ir_value *v = fe_map_get(&c->values, s);
	if (v)
		return ir_is_const(v) && v->data;
	for (size_t i = 0; i < gp->n_node; i++)
		for (size_t j = 0; j < gp->node[i]->n_output; j++)
			if (strcmp(fe_str(gp->node[i]->output[j]), s) == 0)
				return is_constant_node(gp->node[i]);
	return false;
}

/* Output k of np as a constant of type t and shape s (data borrowed);
 * an omitted output is skipped. */
static void
put_output(fe_ctx *c, const Onnx__NodeProto *np, size_t k, ir_dtype t,
	   const ir_shape *s, const void *data)
{
	const char *o = k < np->n_output ? fe_str(np->output[k]) : "";
	if (!*o)
		return;
	ir_value *v = ir_add_const(c->g, ir_intern(c->g, o), t, s, data);
	ir_const_facts(v);
	fe_map_put(c, &c->values, np->output[k], v);
}

static bool
fold_nonzero(fe_ctx *c, const Onnx__NodeProto *np, const ir_value *x)
{
	int r = x->shape.rank;
	int64_t n = ir_shape_numel(&x->shape), nz = 0, st[IR_MAX_RANK];
	if (r == 0) {
		fe_error_np(c, np, "needs an input of rank >= 1");
		return false;
	}
	for (int64_t i = 0; i < n; i++)
		nz += ir_load_f64(x->data, x->dtype, i) != 0;
	int64_t *o = nn_alloc_array(c->tmp, (size_t)(r * nz) + 1, sizeof *o);
	st[r - 1] = 1;
	for (int k = r - 2; k >= 0; k--)
		st[k] = st[k + 1] * x->shape.dim[k + 1];
	for (int64_t i = 0, q = 0; i < n; i++) {
		if (ir_load_f64(x->data, x->dtype, i) == 0)
			continue;
		for (int k = 0; k < r; k++)
			o[k * nz + q] = i / st[k] % x->shape.dim[k];
		q++;
	}
	ir_shape s = {2, {r, nz}};
	put_output(c, np, 0, IR_I64, &s, o);
	return true;
}

/* Slices of x along an axis: slice j holds x[o, j, i] in (o, i) order. */
typedef struct slices {
	const ir_value *x;
	int64_t outer, n, inner;
} slices;

static int64_t
at(const slices *sl, int64_t j, int64_t e)
{
	int64_t o = e / sl->inner, i = e % sl->inner;
	return (o * sl->n + j) * sl->inner + i;
}

/* Integers compare exactly, floats as doubles. */
static int
cmp_slices(const slices *sl, int64_t a, int64_t b)
{
	const void *p = sl->x->data;
	ir_dtype t = sl->x->dtype;
	for (int64_t e = 0; e < sl->outer * sl->inner; e++) {
		int64_t ia = at(sl, a, e), ib = at(sl, b, e);
		if (ir_dtype_is_float(t)) {
			double u = ir_load_f64(p, t, ia);
			double v = ir_load_f64(p, t, ib);
			if (u != v)
				return u < v ? -1 : 1;
		} else {
			int64_t u = ir_load_i64(p, t, ia);
			int64_t v = ir_load_i64(p, t, ib);
			if (u != v)
				return u < v ? -1 : 1;
		}
	}
	return 0;
}

/* Stable merge sort of ix[0..n) by slice, tmp of n entries. */
static void
sort_slices(const slices *sl, int64_t *ix, int64_t *tmp, int64_t n)
{
	if (n < 2)
		return;
	int64_t h = n / 2, i = 0, j = h, k = 0;
	sort_slices(sl, ix, tmp, h);
	sort_slices(sl, ix + h, tmp, n - h);
	while (i < h || j < n) {
		bool left = j >= n ||
			    (i < h && cmp_slices(sl, ix[i], ix[j]) <= 0);
		tmp[k++] = left ? ix[i++] : ix[j++];
	}
	memcpy(ix, tmp, (size_t)n * sizeof *ix);
}

/* Unique's attributes: axis (absent: the flattened input), sorted. */
static bool
unique_attrs(fe_ctx *c, const Onnx__NodeProto *np, const ir_value *x,
	     int *axis, bool *sorted)
{
	*axis = -1;
	*sorted = true;
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		const char *nm = fe_str(a->name);
		int64_t v = a->i;
		if (strcmp(nm, "sorted") == 0) {
			*sorted = v != 0;
		} else if (strcmp(nm, "axis") == 0) {
			if (v < -x->shape.rank || v >= x->shape.rank) {
				fe_error_np(c, np, "axis %lld is out of range",
					    (long long)v);
				return false;
			}
			*axis = (int)(v < 0 ? v + x->shape.rank : v);
		} else {
			fe_error_np(c, np, "unknown attribute '%s'", nm);
			return false;
		}
	}
	return true;
}

static bool
fold_unique(fe_ctx *c, const Onnx__NodeProto *np, const ir_value *x)
{
	slices sl = {x, 1, ir_shape_numel(&x->shape), 1};
	int axis;
	bool sorted;
	if (!unique_attrs(c, np, x, &axis, &sorted))
		return false;
	if (axis >= 0) {
		sl.n = x->shape.dim[axis];
		for (int k = 0; k < x->shape.rank; k++)
			if (k != axis)
				*(k < axis ? &sl.outer : &sl.inner) *=
					x->shape.dim[k];
	}
	int64_t n = sl.n, nu = 0;
	int64_t *ix = nn_xmalloc((size_t)(4 * n + 1) * sizeof *ix);
	int64_t *tmp = ix + n, *grp = tmp + n, *first = grp + n;
	for (int64_t j = 0; j < n; j++)
		ix[j] = j;
	sort_slices(&sl, ix, tmp, n);
	/* groups of equal slices; a group's first member is its first
	 * occurrence (the sort is stable) */
	for (int64_t j = 0; j < n; j++) {
		if (j == 0 || cmp_slices(&sl, ix[j - 1], ix[j]))
			first[nu++] = ix[j];
		grp[ix[j]] = nu - 1;
	}
	/* order: the sorted groups, or by first occurrence */
	int64_t *ord = nn_alloc_array(c->tmp, (size_t)nu + 1, sizeof *ord);
	int64_t *rank = nn_alloc_array(c->tmp, (size_t)nu + 1, sizeof *rank);
	for (int64_t u = 0; u < nu; u++)
		ord[u] = u;
	if (!sorted) /* insertion sort of groups by first index */
		for (int64_t u = 1; u < nu; u++)
			for (int64_t v = u; v > 0 &&
			     first[ord[v - 1]] > first[ord[v]]; v--) {
				int64_t t = ord[v];
				ord[v] = ord[v - 1];
				ord[v - 1] = t;
			}
	for (int64_t u = 0; u < nu; u++)
		rank[ord[u]] = u;
	size_t es = ir_dtype_size(x->dtype);
	ir_shape ys = axis >= 0 ? x->shape : (ir_shape){1, {nu}};
	if (axis >= 0)
		ys.dim[axis] = nu;
	char *y = nn_alloc(c->tmp, (size_t)(sl.outer * nu * sl.inner) * es + 1);
	int64_t *yi = nn_alloc_array(c->tmp, (size_t)nu + 1, 8);
	int64_t *inv = nn_alloc_array(c->tmp, (size_t)n + 1, 8);
	int64_t *cnt = nn_alloc_array(c->tmp, (size_t)nu + 1, 8);
	for (int64_t u = 0; u < nu; u++) {
		int64_t j = first[ord[u]];
		yi[u] = j;
		for (int64_t o = 0; o < sl.outer; o++)
			memcpy(y + ((o * nu + u) * sl.inner) * (int64_t)es,
			       (const char *)x->data +
			       ((o * n + j) * sl.inner) * (int64_t)es,
			       (size_t)sl.inner * es);
	}
	for (int64_t j = 0; j < n; j++) {
		inv[j] = rank[grp[j]];
		cnt[inv[j]]++;
	}
	free(ix);
	ir_shape us = {1, {nu}}, ns = {1, {n}};
	put_output(c, np, 0, x->dtype, &ys, y);
	put_output(c, np, 1, IR_I64, &us, yi);
	put_output(c, np, 2, IR_I64, &ns, inv);
	put_output(c, np, 3, IR_I64, &us, cnt);
	return true;
}

bool
fe_fold_node(fe_ctx *c, const Onnx__NodeProto *np)
{
	const char *t = fe_str(np->op_type);
	ir_value *x = np->n_input == 1
		      ? fe_map_get(&c->values, fe_str(np->input[0])) : NULL;
	NN_ASSERT(x && ir_is_const(x) && x->data);
	if (x->dtype == IR_STRING || ir_dtype_size(x->dtype) == 0) {
		fe_error_np(c, np, "element type %s is not supported",
			    ir_dtype_name(x->dtype));
		return false;
	}
	if (strcmp(t, "NonZero") == 0) {
		if (np->n_attribute) {
			fe_error_np(c, np, "unknown attribute '%s'",
				    fe_str(np->attribute[0]->name));
			return false;
		}
		return fold_nonzero(c, np, x);
	}
	return fold_unique(c, np, x);
}
