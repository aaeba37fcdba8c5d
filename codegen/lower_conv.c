/* Lowering of Conv and ConvTranspose. conv_kind picks the kernel of each
 * layer: f32 convolutions with constant weights (1-D as a 1 x L plane,
 * 3-D with its depth a loop) become the blocked GEMM of gemm_kernel.c
 * (1x1 directly on the input, others on an im2col copy in the workspace)
 * or a vector depthwise kernel over a padded copy (lower_conv_dw.c); the
 * rest (f64, ConvTranspose, 3-D depthwise) get the generic loop nests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"

static bool geo_of(const ir_node *n, geo *g, bool transpose);

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The generic path: for every output/input channel pair, each kernel
 * position becomes its own loop nest over the spatial range where it is
 * in bounds (computed at compile time), so there are no bound checks and
 * the innermost loop runs over contiguous columns. */

/* Spatial geometry normalized to 3 dims (missing leading dims are 1). */
static bool
get_geo(cg_fn *f, geo *g, bool transpose)
{
	const ir_node *n = f->n;

	if (n->in[0]->shape.rank < 3 || n->in[0]->shape.rank > 5)
		return cg_fail(f, "%d spatial dims are not supported",
			       n->in[0]->shape.rank - 2);
	return geo_of(n, g, transpose);
}

static bool
geo_of(const ir_node *n, geo *g, bool transpose)
{
	const ir_shape *x = &n->in[0]->shape, *w = &n->in[1]->shape,
		       *y = &n->out[0]->shape;
	int sp = x->rank - 2, np, ns, nd;
	const int64_t *pads = ir_attr_ints(n, "pads", &np);
	const int64_t *st = ir_attr_ints(n, "strides", &ns);
	const int64_t *dl = ir_attr_ints(n, "dilations", &nd);
	const int64_t *op = ir_attr_ints(n, "output_padding", &nd);
	const char *ap = ir_attr_s(n, "auto_pad");
	bool auto_p = strcmp(ap, "NOTSET") != 0 ||
		      ir_get_attr(n, "output_shape") != NULL;

	if (sp < 1 || sp > 3)
		return false;
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
void
cg_conv_range(int64_t cnt, int64_t lim, int64_t s, int64_t kd, int64_t p,
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
		cg_conv_range(cnt[a], lim[a], g->s[a], kk[a] * g->d[a], g->p[a],
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
				LLVMValueRef w = cg_weight_load(f,
					LLVMBuildNSWAdd(f->b, wbase,
						cg_i64(f, kidx), ""));
				kernel_pos(f, g, kk, tr, f->out[0], y0,
					   f->in[0], x0, w, t);
			}
}

bool
cg_conv_generic(cg_fn *f)
{
	const ir_node *n = f->n;
	bool tr = n->op == OP_ConvTranspose;
	ir_dtype t = n->out[0]->dtype;
	int64_t grp = ir_attr_i(n, "group"), nb = n->in[0]->shape.dim[0];
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
	/* a ConvTranspose vectorized across its output channels came out
	 * wrong at -O2/-O3 (LLVM 14; found by fuzz-compile) */
	cg_loop_end_novec(f, &lc, false);
	for (int a = 2; a >= 0; a--)
		cg_loop_end_novec(f, &loops[a], false);
	return true;
}

/* The fast kernels (f32, constant weights). */

#define MAX_SCRATCH ((int64_t)1 << 30)
#define BAND_BYTES (640 << 10) /* im2col band kept in L2 for its GEMM */
#define BAND_COLS 96           /* narrower bands waste the column tiles */

/* Every weight finite: then a tap that reads only padding adds exactly 0
 * and may be left out (a NaN or Inf weight owes NaN there, as the
 * interpreter's product computes). */
static bool
weights_finite(const ir_value *w)
{
	const float *d = w->data;
	int64_t n = ir_shape_numel(&w->shape);

	for (int64_t i = 0; i < n; i++)
		if (!isfinite(d[i]))
			return false;
	return true;
}

static conv_kind
kind_of(const ir_node *n, cplan *p)
{
	const geo *g = &p->g;
	bool one = true, flat;

	if ((n->op != OP_Conv && n->op != OP_FusedConv) ||
	    n->out[0]->dtype != IR_F32 || n->in[0]->shape.rank < 3 ||
	    !n->in[1]->data || !geo_of(n, &p->g, false) || p->g.osz == 0)
		return CK_GENERIC;
	/* ONNX pads may differ at the end; out == in leaves none */
	for (int a = 0; a < 3; a++)
		one = one && g->k[a] == 1 && g->s[a] == 1 && g->p[a] == 0 &&
		      g->out[a] == g->in[a];
	flat = g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->p[0] == 0;
	if (p->cg == 1 && p->grp > 1)
		return flat ? CK_DW : CK_GENERIC;
	return one ? CK_GEMM : CK_IM2COL;
}

static void
conv_plan(const ir_node *n, cplan *p)
{
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;

	memset(p, 0, sizeof *p);
	p->nb = x->dim[0];
	p->cin = x->dim[1];
	p->cout = y->dim[1];
	p->grp = ir_attr_i(n, "group");
	p->cg = p->grp > 0 ? p->cin / p->grp : 0;
	p->mg = p->grp > 0 ? p->cout / p->grp : 0;
	p->kind = p->grp > 0 ? kind_of(n, p) : CK_GENERIC;
	p->skip = p->kind != CK_GENERIC && weights_finite(n->in[1]);
	if (p->kind == CK_DW) {
		const geo *g = &p->g;
		int64_t wp = (g->out[2] - 1) * g->s[2] + (g->k[2] - 1) * g->d[2]
			     + 1;
		p->sw = g->s[2];
		p->hp = (g->out[1] - 1) * g->s[1] + (g->k[1] - 1) * g->d[1] + 1;
		p->wq = (wp + p->sw - 1) / p->sw + CG_CONV_SLACK;
	}
}

cspan *
cg_conv_spans(const cplan *p, int a, int *nsp)
{
	const geo *g = &p->g;
	int64_t k = g->k[a], all = 0, used = 0;
	cspan *sp = nn_xmalloc((size_t)g->out[a] * sizeof *sp);
	int n = 0;

	for (int64_t t = 0; t < g->out[a]; t++) {
		int64_t ka = 0, kb = k, at = t * g->s[a] - g->p[a];
		while (ka < k && at + ka * g->d[a] < 0)
			ka++;
		while (kb > ka && at + (kb - 1) * g->d[a] >= g->in[a])
			kb--;
		if (ka == kb) {
			ka = ka < k ? ka : k - 1;
			kb = ka + 1;
		}
		all += k, used += kb - ka;
		if (n > 0 && sp[n - 1].ka == ka && sp[n - 1].kb == kb)
			sp[n - 1].hi = t + 1;
		else
			sp[n++] = (cspan){t, t + 1, ka, kb};
	}
	if (!p->skip || (all - used) * 8 < all) {
		sp[0] = (cspan){0, g->out[a], 0, k};
		n = 1;
	}
	*nsp = n;
	return sp;
}

/* The rows of B (im2col) a span of kernel rows [ka, kb) needs. */
static int64_t
span_k(const cplan *p, const cspan *s)
{
	return (s->kb - s->ka) * p->g.k[0] * p->g.k[2] * p->cg;
}

/* The band of an im2col span of nr output rows with kr rows of B: bh
 * rows of bw columns, bw < OW only for single rows (a long 1-D row). */
static void
band_of(const cplan *p, int64_t kr, int64_t nr, int64_t *bh, int64_t *bw)
{
	int64_t ow = p->g.out[2], row = kr * ow * 4, b;

	*bw = ow, *bh = nr;
	/* an empty kernel or output (refused later, with a message) has no
	 * band to size */
	if (row <= 0 || row * nr <= BAND_BYTES)
		return;
	b = BAND_BYTES / row;
	if (b == 0) {
		int64_t c = BAND_BYTES / (kr * 4) / 16 * 16;
		c = c < BAND_COLS ? BAND_COLS : c;
		if (c < ow) {
			*bw = c, *bh = 1;
			return;
		}
		b = 1;
	}
	if (b * ow < BAND_COLS)
		b = (BAND_COLS + ow - 1) / ow;
	if (b > nr)
		b = nr;
	/* a divisor close below spares the tail band's second kernel */
	for (int64_t d = b; 2 * d > b; d--)
		if (nr % d == 0) {
			b = d;
			break;
		}
	*bh = b;
}

static int64_t
plan_bytes(const cplan *p)
{
	int64_t most = 0, bh, bw;
	cspan *sp;
	int n;

	if (p->kind == CK_DW)
		return p->hp * p->sw * p->wq * 4;
	if (p->kind != CK_IM2COL)
		return 0;
	sp = cg_conv_spans(p, 1, &n);
	for (int i = 0; i < n; i++) {
		int64_t kr = span_k(p, &sp[i]);
		band_of(p, kr, sp[i].hi - sp[i].lo, &bh, &bw);
		most = kr * bh * bw * 4 > most ? kr * bh * bw * 4 : most;
	}
	free(sp);
	return most;
}

/* The form cg_lower_conv emits for a planned layer: its kind, or the
 * generic loop nest when its scratch would exceed MAX_SCRATCH. */
static conv_kind
form_of(const cplan *p)
{
	return plan_bytes(p) > MAX_SCRATCH ? CK_GENERIC : p->kind;
}

const char *
cg_conv_form(const ir_node *n)
{
	static const char *const names[] = {
		[CK_GENERIC] = "generic", [CK_GEMM] = "1x1",
		[CK_IM2COL] = "im2col", [CK_DW] = "depthwise"};
	cplan p;

	if (ir_ops[n->op].kind != IR_KIND_CONV && n->op != OP_FusedConv)
		return NULL;
	conv_plan(n, &p);
	return names[form_of(&p)];
}

int64_t
cg_scratch_bytes(const ir_node *n)
{
	cplan p;

	if (ir_ops[n->op].kind != IR_KIND_CONV &&
	    n->op != OP_FusedConv)
		return 0;
	conv_plan(n, &p);
	return plan_bytes(&p) <= MAX_SCRATCH ? plan_bytes(&p) : 0;
}

LLVMValueRef
cg_conv_fptr(cg_fn *f, LLVMValueRef p)
{
	return LLVMBuildBitCast(f->b, p, LLVMPointerType(f->c->f32, 0), "");
}

LLVMValueRef
cg_conv_add_mul(cg_fn *f, LLVMValueRef base, LLVMValueRef i, int64_t k)
{
	return LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(f->b, i,
		cg_i64(f, k), ""), "");
}

void
cg_conv_zero(cg_fn *f, LLVMValueRef p, LLVMValueRef idx, int64_t n)
{
	if (n <= 0)
		return;
	LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, cg_gep(f, p, idx),
		f->c->ptr, ""), LLVMConstInt(f->c->i8, 0, 0),
		cg_i64(f, n * 4), 4);
}

#define add_mul cg_conv_add_mul
#define fptr cg_conv_fptr
#define zero_fill cg_conv_zero

/* n floats of zeros at p[idx], n a runtime count (may be 0). */
static void
zero_fill_dyn(cg_fn *f, LLVMValueRef p, LLVMValueRef idx, LLVMValueRef n)
{
	LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, cg_gep(f, p, idx),
		f->c->ptr, ""), LLVMConstInt(f->c->i8, 0, 0),
		LLVMBuildNSWMul(f->b, n, cg_i64(f, 4), ""), 4);
}

/* One band of output pixels: rows [oh0, oh0 + bh) of columns [ow0, ow0 +
 * bw) at output depth od (bw < OW only when bh == 1). */
typedef struct cband {
	LLVMValueRef od, oh0, ow0;
	int64_t bh, bw;
} cband;

/* The input row base of tap kk at depth b->od, or NULL when no output
 * depth of the layer reads that tap; *valid (NULL: always) says whether
 * b->od does. */
static LLVMValueRef
tap_base(cg_fn *f, const geo *g, LLVMValueRef x0, const int64_t *kk,
	 const cband *b, LLVMValueRef *valid)
{
	int64_t dlo, dhi, off = (kk[1] * g->d[1] - g->p[1]) * g->in[2] +
				kk[2] * g->d[2] - g->p[2];
	LLVMValueRef id;

	*valid = NULL;
	cg_conv_range(g->out[0], g->in[0], g->s[0], kk[0] * g->d[0], g->p[0],
		      &dlo, &dhi);
	if (dhi <= dlo)
		return NULL;
	x0 = LLVMBuildNSWAdd(f->b, x0, cg_i64(f, off), "");
	if (g->out[0] == 1 && g->in[0] == 1)
		return x0;
	if (dlo > 0 || dhi < g->out[0])
		*valid = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntSGE,
			b->od, cg_i64(f, dlo), ""), LLVMBuildICmp(f->b,
			LLVMIntSLT, b->od, cg_i64(f, dhi), ""), "");
	id = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, b->od,
		cg_i64(f, g->s[0]), ""), cg_i64(f, kk[0] * g->d[0] - g->p[0]),
		"");
	if (*valid)
		id = LLVMBuildSelect(f->b, *valid, id, cg_i64(f, 0), "");
	return add_mul(f, x0, id, g->in[1] * g->in[2]);
}

/* Row d0 of the im2col matrix, tap kk = (kd, kh, kw), over band b:
 * B[(oh - oh0)*bw + ow - ow0] = X[ic][id][oh*sh + kh*dh - ph][ow*sw +
 * kw*dw - pw], 0 outside; the in-range rows and columns are compile-time
 * intervals clamped to the band. */
static void
im2col_row(cg_fn *f, const geo *g, const LLVMValueRef *xd, LLVMValueRef d0,
	   const int64_t *kk, const cband *b)
{
	int64_t olo, ohi, wlo, whi, ow = g->out[2], iw = g->in[2], bw = b->bw;
	LLVMValueRef oh, drow, srow, j, lo, hi, end, valid, x = xd[0];
	LLVMValueRef dst = xd[2], base;
	cg_loop lh, lw;

	cg_conv_range(g->out[1], g->in[1], g->s[1], kk[1] * g->d[1], g->p[1],
		      &olo, &ohi);
	cg_conv_range(ow, iw, g->s[2], kk[2] * g->d[2], g->p[2], &wlo, &whi);
	base = ohi > olo && whi > wlo ? tap_base(f, g, xd[1], kk, b, &valid)
				      : NULL;
	if (!base) {
		zero_fill(f, dst, d0, b->bh * bw);
		return;
	}
	end = LLVMBuildNSWAdd(f->b, b->oh0, cg_i64(f, b->bh), "");
	/* [lo, hi) within [oh0, end), possibly empty at either end */
	lo = cg_min(f, IR_I64, end, cg_max(f, IR_I64, b->oh0,
					   cg_i64(f, olo)));
	hi = cg_max(f, IR_I64, lo, cg_min(f, IR_I64, end, cg_i64(f, ohi)));
	if (valid)
		hi = LLVMBuildSelect(f->b, valid, hi, lo, "");
	zero_fill_dyn(f, dst, d0, LLVMBuildNSWMul(f->b, LLVMBuildNSWSub(f->b,
		lo, b->oh0, ""), cg_i64(f, bw), ""));
	zero_fill_dyn(f, dst, add_mul(f, d0, LLVMBuildNSWSub(f->b, hi,
		b->oh0, ""), bw), LLVMBuildNSWMul(f->b, LLVMBuildNSWSub(f->b,
		end, hi, ""), cg_i64(f, bw), ""));
	oh = cg_loop_begin_dyn(f, lo, hi, &lh);
	drow = add_mul(f, d0, LLVMBuildNSWSub(f->b, oh, b->oh0, ""), bw);
	srow = add_mul(f, base, oh, g->s[1] * iw);
	if (bw == ow) {
		zero_fill(f, dst, drow, wlo);
		zero_fill(f, dst, LLVMBuildNSWAdd(f->b, drow, cg_i64(f, whi),
						  ""), ow - whi);
		j = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, whi - wlo, &lw),
				    cg_i64(f, wlo), "");
	} else {
		LLVMValueRef e = LLVMBuildNSWAdd(f->b, b->ow0, cg_i64(f, bw),
						 ""), clo, chi;
		clo = cg_min(f, IR_I64, e, cg_max(f, IR_I64, b->ow0,
						  cg_i64(f, wlo)));
		chi = cg_max(f, IR_I64, clo, cg_min(f, IR_I64, e,
						     cg_i64(f, whi)));
		zero_fill_dyn(f, dst, drow, LLVMBuildNSWSub(f->b, clo, b->ow0,
							    ""));
		zero_fill_dyn(f, dst, LLVMBuildNSWAdd(f->b, drow,
			LLVMBuildNSWSub(f->b, chi, b->ow0, ""), ""),
			LLVMBuildNSWSub(f->b, e, chi, ""));
		drow = LLVMBuildNSWSub(f->b, drow, b->ow0, "");
		j = cg_loop_begin_dyn(f, clo, chi, &lw);
	}
	cg_store(f, dst, LLVMBuildNSWAdd(f->b, drow, j, ""), cg_load(f, x,
		add_mul(f, srow, j, g->s[2])));
	if (bw == ow)
		cg_loop_end(f, &lw);
	else
		cg_loop_end_dyn(f, &lw);
	cg_loop_end_dyn(f, &lh);
	/* runtime-unrolled copies of every row loop tripled LLVM's time */
	cg_no_unroll(f, LLVMGetBasicBlockTerminator(LLVMGetIncomingBlock(
		lh.iv, 1)));
}

/* The im2col matrix of band b over kernel rows s->ka..s->kb - 1: row
 * (ic, t) at (ic * ntap + t) * bh * bw, t the tap in (kd, kh, kw) order
 * (A's own, less the kernel rows outside the span). */
static void
im2col(cg_fn *f, const cplan *p, LLVMValueRef x0, LLVMValueRef dst,
       const cspan *s, const cband *b)
{
	const geo *g = &p->g;
	int64_t t = 0, bc = b->bh * b->bw, kk[3], ntap = span_k(p, s) / p->cg;
	LLVMValueRef ic, xd[3], d0;
	cg_loop l;

	ic = cg_loop_begin(f, p->cg, &l);
	xd[0] = f->in[0];
	xd[1] = add_mul(f, x0, ic, g->isz);
	xd[2] = dst;
	d0 = LLVMBuildNSWMul(f->b, ic, cg_i64(f, ntap * bc), "");
	for (kk[0] = 0; kk[0] < g->k[0]; kk[0]++)
		for (kk[1] = s->ka; kk[1] < s->kb; kk[1]++)
			for (kk[2] = 0; kk[2] < g->k[2]; kk[2]++, t++)
				im2col_row(f, g, xd, LLVMBuildNSWAdd(f->b, d0,
					cg_i64(f, t * bc), ""), kk, b);
	cg_loop_end(f, &l);
}

/* For a span of fewer kernel rows than the kernel's, A's k of each row
 * of B (the gemm's kmap); NULL for all of them. */
static LLVMValueRef
span_kmap(cg_fn *f, const cplan *p, const cspan *s)
{
	const geo *g = &p->g;
	int64_t n = span_k(p, s), i = 0, *k;
	LLVMValueRef t;

	if (s->ka == 0 && s->kb == g->k[1])
		return NULL;
	k = nn_xmalloc((size_t)n * sizeof *k);
	for (int64_t ic = 0; ic < p->cg; ic++)
		for (int64_t kd = 0; kd < g->k[0]; kd++)
			for (int64_t kh = s->ka; kh < s->kb; kh++)
				for (int64_t kw = 0; kw < g->k[2]; kw++)
					k[i++] = ic * g->kvol + (kd * g->k[1] +
						 kh) * g->k[2] + kw;
	t = cg_i64_table(f, k, n);
	free(k);
	return t;
}

/* Weights [grp][mg][K] as [grp][ceil(mg/mr)][K][mr], zero-padded: f32,
 * or for shared weights their codes (m->acb set). */
static void
pack_a(cg_fn *f, const cplan *p, int64_t k, cg_gemm *m)
{
	const ir_value *wv = f->n->in[1];
	const float *w = wv->data;
	bool codes = cg_weight_shared(wv);
	int mr = m->mr;
	int64_t mb = (p->mg + mr - 1) / mr, n = p->grp * mb * k * mr;
	size_t es = codes ? 1 : sizeof(float);
	char *d = nn_xcalloc(1, (size_t)n * es + 1);

	for (int64_t gi = 0; gi < p->grp; gi++)
		for (int64_t i = 0; i < p->mg; i++)
			for (int64_t kk = 0; kk < k; kk++) {
				int64_t to = ((gi * mb + i / mr) * k + kk) * mr +
					     i % mr, from = (gi * p->mg + i) * k
					     + kk;
				if (codes)
					d[to] = (char)wv->codes[from];
				else
					((float *)d)[to] = w[from];
			}
	if (codes) {
		m->abits = ir_code_bits(wv->ncodes);
		m->ancodes = wv->ncodes;
		m->acb = cg_codebook(f, wv);
		m->a = cg_code_table(f, (const uint8_t *)d, n, m->abits);
	} else {
		m->a = fptr(f, cg_const_global(f->c, "wconv", d,
					       (size_t)n * es));
	}
	free(d);
}

/* Bias, residual and activation of the (fused) node into the kernel. */
void
cg_conv_epilogue(cg_fn *f, cg_act *act, double *lo, double *hi,
		 LLVMValueRef *res)
{
	const ir_node *fn = f->fused;

	*res = NULL;
	*act = CG_ACT_NONE;
	if (!fn || !cg_gemm_act(fn, act, lo, hi)) {
		*act = CG_ACT_NONE;
		return;
	}
	if (fn->nin > 3 && fn->in[3])
		*res = f->in[3]; /* f->in holds every input of fn */
	f->epi_done = true;
}

/* The GEMM of band b: C[mg][band] = W[mg][span's k] * im2col(band). */
static void
band_gemm(cg_fn *f, const cplan *p, cg_gemm *m, LLVMValueRef x0,
	  LLVMValueRef c0, const cspan *s, const cband *b)
{
	cg_unit u;

	m->n = m->sbk = b->bh * b->bw;
	/* the copy, into the task's scratch, for the tasks that own one of
	 * the band's tiles */
	cg_group_begin(f, cg_gemm_work(f->c, m), &u);
	im2col(f, p, x0, m->b, s, b);
	cg_unit_end(f, &u);
	m->c0 = LLVMBuildNSWAdd(f->b, add_mul(f, c0, b->oh0, p->g.out[2]),
				b->ow0, "");
	m->res0 = m->c0;
	cg_gemm_emit(f, m);
	cg_group_end(f, &u);
}

/* The bands of span s at depth od: bh rows at a time and a last band of
 * the rows left, or row by row in bands of bw columns. */
static void
span_gemm(cg_fn *f, const cplan *p, cg_gemm *m, LLVMValueRef x0,
	  LLVMValueRef c0, const cspan *s, LLVMValueRef od)
{
	int64_t nr = s->hi - s->lo, ow = p->g.out[2], full, left;
	cband b = {od, NULL, cg_i64(f, 0), 0, ow};
	cg_loop lr, lc;

	band_of(p, span_k(p, s), nr, &b.bh, &b.bw);
	if (b.bw == ow) {
		full = nr / b.bh, left = nr % b.bh;
		if (full > 0) {
			b.oh0 = add_mul(f, cg_i64(f, s->lo), cg_loop_begin(f,
				full, &lr), b.bh);
			band_gemm(f, p, m, x0, c0, s, &b);
			cg_loop_end_nounroll(f, &lr);
		}
		b.oh0 = cg_i64(f, s->lo + full * b.bh), b.bh = left;
		if (left > 0)
			band_gemm(f, p, m, x0, c0, s, &b);
		return;
	}
	full = ow / b.bw, left = ow % b.bw;
	b.oh0 = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, nr, &lr),
				cg_i64(f, s->lo), "");
	b.ow0 = LLVMBuildNSWMul(f->b, cg_loop_begin(f, full, &lc),
				cg_i64(f, b.bw), "");
	band_gemm(f, p, m, x0, c0, s, &b);
	cg_loop_end_nounroll(f, &lc);
	b.ow0 = cg_i64(f, full * b.bw), b.bw = left;
	if (left > 0)
		band_gemm(f, p, m, x0, c0, s, &b);
	cg_loop_end_nounroll(f, &lr);
}

/* Per image and group, C[mg][cols] = W[mg][K] * B[K][cols]: B the input
 * itself (1x1), or per output depth, span of kernel rows and band, the
 * im2col copy of the span's taps in the scratch (taps that read only
 * padding are not copied, and their k not multiplied: the kmap lists the
 * others; in A's order, so the sums keep the interpreter's). */
static bool
conv_gemm(cg_fn *f, const cplan *p)
{
	const geo *g = &p->g;
	int64_t k = p->cg * g->kvol, bh, bw, mb;
	LLVMValueRef bi, gi, x0, c0, od = cg_i64(f, 0), *kmap = NULL;
	cg_loop lb, lg, ld;
	cg_gemm m = {0};
	cspan one = {0, g->out[1], 0, g->k[1]}, *sp = &one;
	int nsp = 1;

	if (p->kind == CK_IM2COL) {
		sp = cg_conv_spans(p, 1, &nsp);
		band_of(p, span_k(p, &sp[0]), sp[0].hi - sp[0].lo, &bh, &bw);
		kmap = nn_xmalloc((size_t)nsp * sizeof *kmap);
		for (int i = 0; i < nsp; i++)
			kmap[i] = span_kmap(f, p, &sp[i]);
	} else {
		bh = 1, bw = g->osz;
	}
	m.m = p->mg, m.n = bh * bw, m.k = k;
	cg_gemm_tile(f->c, m.m, m.n, &m.mr, &m.nv);
	pack_a(f, p, k, &m);
	mb = (p->mg + m.mr - 1) / m.mr;
	m.sam = 1, m.sak = m.mr, m.amb = k * m.mr;
	m.sbk = m.n, m.bnb = (int64_t)m.nv * f->c->vl;
	m.scm = g->osz;
	m.alpha = m.beta = 1.0;
	cg_conv_epilogue(f, &m.act, &m.lo, &m.hi, &m.res);
	if (f->n->nin > 2 && f->in[2])
		m.bias = f->in[2], m.sbi = 1;
	m.c = f->out[0];
	bi = cg_loop_begin(f, p->nb, &lb);
	gi = cg_loop_begin(f, p->grp, &lg);
	x0 = LLVMBuildNSWMul(f->b, add_mul(f, gi, bi, p->grp),
			     cg_i64(f, p->cg * g->isz), "");
	m.a0 = LLVMBuildNSWMul(f->b, gi, cg_i64(f, mb * k * m.mr), "");
	c0 = LLVMBuildNSWMul(f->b, add_mul(f, gi, bi, p->grp),
			     cg_i64(f, p->mg * g->osz), "");
	m.bias0 = LLVMBuildNSWMul(f->b, gi, cg_i64(f, p->mg), "");
	if (p->kind != CK_IM2COL) {
		m.c0 = m.res0 = c0;
		m.b = f->in[0], m.b0 = x0;
		cg_gemm_emit(f, &m);
	} else {
		m.b = fptr(f, f->scratch), m.b0 = cg_i64(f, 0);
		if (g->out[0] > 1)
			od = cg_loop_begin(f, g->out[0], &ld);
		for (int i = 0; i < nsp; i++) {
			m.k = span_k(p, &sp[i]);
			m.kmap = kmap[i];
			span_gemm(f, p, &m, x0, add_mul(f, c0, od, g->out[1] *
				g->out[2]), &sp[i], od);
		}
		if (g->out[0] > 1)
			cg_loop_end_nounroll(f, &ld);
		free(sp);
		free(kmap);
	}
	cg_loop_end(f, &lg);
	cg_loop_end(f, &lb);
	return true;
}

bool
cg_lower_conv(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->out[0]->dtype;
	cplan p;

	if (t != IR_F32 && t != IR_F64)
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	/* an empty weight (no input channels) has no buffer to read */
	if (ir_shape_numel(&n->in[1]->shape) == 0)
		return cg_fail(f, "an empty weight %s is not supported",
			       ir_value_label(n->in[1]));
	conv_plan(n, &p);
	/* (f->scratch is there whenever cg_scratch_bytes asks for it) */
	if (form_of(&p) == CK_GENERIC || (plan_bytes(&p) > 0 && !f->scratch))
		return cg_conv_generic(f);
	if (p.kind == CK_DW)
		return cg_conv_dw(f, &p);
	return conv_gemm(f, &p);
}
