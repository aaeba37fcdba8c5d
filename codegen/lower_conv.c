/* Lowering of Conv and ConvTranspose (1 to 3 spatial dims, groups,
 * dilations, padding). For every output/input channel pair, each kernel
 * position becomes its own loop nest over the spatial range where it is
 * in bounds (computed at compile time), so there are no bound checks and
 * the innermost loop runs over contiguous columns. */
#include <string.h>

#include "cg_internal.h"

typedef struct geo {
	int64_t in[3], out[3], k[3], s[3], d[3], p[3];
	int64_t kvol, isz, osz;
} geo;

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Spatial geometry normalized to 3 dims (missing leading dims are 1). */
static bool
get_geo(cg_fn *f, geo *g, bool transpose)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *w = &n->in[1]->shape,
		       *y = &n->out[0]->shape;
	int sp = x->rank - 2, np, ns, nd;
	const int64_t *pads = ir_attr_ints(n, "pads", &np);
	const int64_t *st = ir_attr_ints(n, "strides", &ns);
	const int64_t *dl = ir_attr_ints(n, "dilations", &nd);
	const int64_t *op = ir_attr_ints(n, "output_padding", &nd);
	const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
	bool auto_p = strcmp(ap, "NOTSET") != 0 ||
		      ir_get_attr(n, "output_shape") != NULL;

	if (sp < 1 || sp > 3)
		return cg_fail(f, "%d spatial dims are not supported", sp);
	dl = ir_attr_ints(n, "dilations", &nd);
	g->kvol = g->isz = g->osz = 1;
	for (int a = 0; a < 3; a++) {
		int j = a - (3 - sp);
		bool on = j >= 0;
		int64_t tot;
		g->in[a] = on ? x->dim[2 + j] : 1;
		g->out[a] = on ? y->dim[2 + j] : 1;
		g->k[a] = on ? w->dim[2 + j] : 1;
		g->s[a] = on && st && j < ns ? st[j] : 1;
		g->d[a] = on && dl && j < nd ? dl[j] : 1;
		g->p[a] = on && pads && j < np ? pads[j] : 0;
		if (on && auto_p && strcmp(ap, "VALID") != 0) {
			if (transpose)
				tot = g->s[a] * (g->in[a] - 1) +
				      (op && j < sp ? op[j] : 0) +
				      (g->k[a] - 1) * g->d[a] + 1 - g->out[a];
			else
				tot = (g->out[a] - 1) * g->s[a] +
				      (g->k[a] - 1) * g->d[a] + 1 - g->in[a];
			if (!transpose && tot < 0)
				tot = 0;
			g->p[a] = !strcmp(ap, "SAME_UPPER") ? floor_div(tot, 2)
				  : tot - floor_div(tot, 2);
		} else if (on && !strcmp(ap, "VALID")) {
			g->p[a] = 0;
		}
		g->kvol *= g->k[a];
		g->isz *= g->in[a];
		g->osz *= g->out[a];
	}
	return true;
}

/* The positions t in [0, cnt) with 0 <= t*s + kk*d - p < lim. */
static void
range(int64_t cnt, int64_t lim, int64_t s, int64_t kd, int64_t p,
      int64_t *lo, int64_t *hi)
{
	*lo = -floor_div(kd - p, s);
	*hi = floor_div(lim - 1 + p - kd, s) + 1;
	if (*lo < 0)
		*lo = 0;
	if (*hi > cnt)
		*hi = cnt;
}

/* One kernel position: for t over the iteration space (it, of extent
 * cnt), acc[t] += w * src[t*s + kk*d - p] (conv), or the scatter form
 * acc[t*s + kk*d - p] += w * src[t] (transposed). */
static void
kernel_pos(cg_fn *f, const geo *g, const int64_t *kk, bool tr,
	   LLVMValueRef acc, LLVMValueRef a0, LLVMValueRef src,
	   LLVMValueRef s0, LLVMValueRef w, ir_dtype t)
{
	const int64_t *cnt = tr ? g->in : g->out, *lim = tr ? g->out : g->in;
	int64_t lo[3], hi[3], n[3], cst[3], lst[3];
	LLVMValueRef ivs[3], ci, li, v;
	cg_loop loops[3];

	for (int a = 0; a < 3; a++) {
		range(cnt[a], lim[a], g->s[a], kk[a] * g->d[a], g->p[a],
		      &lo[a], &hi[a]);
		if (hi[a] <= lo[a])
			return;
		n[a] = hi[a] - lo[a];
	}
	cst[2] = 1, cst[1] = cnt[2], cst[0] = cnt[1] * cnt[2];
	lst[2] = 1, lst[1] = lim[2], lst[0] = lim[1] * lim[2];
	cg_nest_begin(f, 3, n, ivs, loops);
	{
		int64_t cb = 0, lb = 0;
		int64_t ls[3];
		for (int a = 0; a < 3; a++) {
			cb += lo[a] * cst[a];
			lb += (lo[a] * g->s[a] + kk[a] * g->d[a] - g->p[a]) *
			      lst[a];
			ls[a] = g->s[a] * lst[a];
		}
		ci = LLVMBuildNSWAdd(f->b, tr ? s0 : a0,
				     cg_linear(f, 3, ivs, cst, cb), "");
		li = LLVMBuildNSWAdd(f->b, tr ? a0 : s0,
				     cg_linear(f, 3, ivs, ls, lb), "");
	}
	if (tr) {
		LLVMValueRef tmp = ci;
		ci = li;
		li = tmp;
	}
	/* ci indexes acc, li indexes src */
	v = cg_mul(f, t, w, cg_load(f, src, li));
	cg_store(f, acc, ci, cg_add(f, t, cg_load(f, acc, ci), v));
	cg_nest_end(f, 3, loops);
}

/* y[n, oc, :] = bias[oc] or 0. */
static void
init_plane(cg_fn *f, LLVMValueRef y0, LLVMValueRef oc, int64_t osz,
	   ir_dtype t)
{
	cg_loop l;
	LLVMValueRef i, v;

	v = f->n->nin > 2 && f->in[2] ? cg_load(f, f->in[2], oc)
				      : cg_const(f, t, 0);
	i = cg_loop_begin(f, osz, &l);
	cg_store(f, f->out[0], LLVMBuildNSWAdd(f->b, y0, i, ""), v);
	cg_loop_end(f, &l);
}

static void
all_positions(cg_fn *f, const geo *g, bool tr, LLVMValueRef wbase,
	      LLVMValueRef y0, LLVMValueRef x0, ir_dtype t)
{
	int64_t kk[3], kidx = 0;

	for (kk[0] = 0; kk[0] < g->k[0]; kk[0]++)
		for (kk[1] = 0; kk[1] < g->k[1]; kk[1]++)
			for (kk[2] = 0; kk[2] < g->k[2]; kk[2]++, kidx++) {
				LLVMValueRef w = cg_load(f, f->in[1],
					LLVMBuildNSWAdd(f->b, wbase,
						cg_i64(f, kidx), ""));
				kernel_pos(f, g, kk, tr, f->out[0], y0,
					   f->in[0], x0, w, t);
			}
}

bool
cg_lower_conv(cg_fn *f)
{
	const ir_node *n = f->n;
	bool tr = n->op == OP_ConvTranspose;
	ir_dtype t = n->out[0]->dtype;
	int64_t grp = ir_attr_int(n, "group", 1), nb = n->in[0]->shape.dim[0];
	int64_t cin = n->in[0]->shape.dim[1], cout = n->out[0]->shape.dim[1];
	int64_t cg = cin / grp, mg = cout / grp, dims[4];
	LLVMValueRef ivs[4], oc, ic, y0, x0, wb;
	cg_loop loops[4], lc;
	geo g;

	if (t != IR_F32 && t != IR_F64)
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	if (!get_geo(f, &g, tr))
		return false;
	dims[0] = nb, dims[1] = grp, dims[2] = mg;
	cg_nest_begin(f, 3, dims, ivs, loops);
	oc = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, ivs[1],
		cg_i64(f, mg), ""), ivs[2], "");
	y0 = LLVMBuildNSWMul(f->b, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b,
		ivs[0], cg_i64(f, cout), ""), oc, ""), cg_i64(f, g.osz), "");
	init_plane(f, y0, oc, g.osz, t);
	ic = cg_loop_begin(f, cg, &lc);
	ic = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, ivs[1],
		cg_i64(f, cg), ""), ic, "");
	x0 = LLVMBuildNSWMul(f->b, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b,
		ivs[0], cg_i64(f, cin), ""), ic, ""), cg_i64(f, g.isz), "");
	/* Conv weights are [M, C/g, k...]; ConvTranspose's [C, M/g, k...]. */
	wb = tr ? LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, ic,
			cg_i64(f, mg), ""), ivs[2], "")
		: LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oc,
			cg_i64(f, cg), ""), LLVMBuildNSWSub(f->b, ic,
			LLVMBuildNSWMul(f->b, ivs[1], cg_i64(f, cg), ""), ""),
			"");
	wb = LLVMBuildNSWMul(f->b, wb, cg_i64(f, g.kvol), "");
	all_positions(f, &g, tr, wb, y0, x0, t);
	cg_loop_end(f, &lc);
	cg_nest_end(f, 3, loops);
	return true;
}
