/* Lowering of Conv and ConvTranspose. conv_kind picks the kernel of each
 * layer: 2-D f32 convolutions with constant weights become the blocked
 * GEMM of gemm_kernel.c (1x1 directly on the input, others on an im2col
 * copy in the workspace) or a vector depthwise kernel over a padded copy;
 * the rest (1-D/3-D, f64, ConvTranspose) get the generic loop nests. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

typedef struct geo {
	int64_t in[3], out[3], k[3], s[3], d[3], p[3];
	int64_t kvol, isz, osz;
} geo;

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
	const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
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
				LLVMValueRef w = cg_weight_load(f,
					LLVMBuildNSWAdd(f->b, wbase,
						cg_i64(f, kidx), ""));
				kernel_pos(f, g, kk, tr, f->out[0], y0,
					   f->in[0], x0, w, t);
			}
}

static bool
generic_conv(cg_fn *f)
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
	/* a ConvTranspose vectorized across its output channels came out
	 * wrong at -O2/-O3 (LLVM 14; found by fuzz-compile) */
	cg_loop_end_novec(f, &lc, false);
	for (int a = 2; a >= 0; a--)
		cg_loop_end_novec(f, &loops[a], false);
	return true;
}

/* The fast kernels (2-D, f32, constant weights). */
typedef enum conv_kind { CK_GENERIC, CK_GEMM, CK_IM2COL, CK_DW } conv_kind;

typedef struct cplan {
	conv_kind kind;
	geo g;
	int64_t nb, cin, cout, grp, cg, mg;
	int64_t hp, wq, sw; /* depthwise: padded rows, phase width, phases */
} cplan;

#define SLACK 64 /* floats a vector may read past a padded row */
#define MAX_SCRATCH ((int64_t)1 << 30)

static conv_kind
kind_of(const ir_node *n, cplan *p)
{
	const geo *g = &p->g;
	bool one;

	if ((n->op != OP_Conv && n->op != OP_FusedConv) ||
	    n->out[0]->dtype != IR_F32 || n->in[0]->shape.rank != 4 ||
	    !n->in[1]->data || !geo_of(n, &p->g, false) || p->g.osz == 0)
		return CK_GENERIC;
	one = g->k[1] == 1 && g->k[2] == 1 && g->s[1] == 1 && g->s[2] == 1 &&
	      g->p[1] == 0 && g->p[2] == 0;
	if (p->cg == 1 && p->grp > 1)
		return CK_DW;
	/* ONNX pads may differ at the end; one=true needs none at all */
	if (one && g->out[1] == g->in[1] && g->out[2] == g->in[2])
		return CK_GEMM;
	return CK_IM2COL;
}

static void
conv_plan(const ir_node *n, cplan *p)
{
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;

	memset(p, 0, sizeof *p);
	p->nb = x->dim[0];
	p->cin = x->dim[1];
	p->cout = y->dim[1];
	p->grp = ir_attr_int(n, "group", 1);
	p->cg = p->grp > 0 ? p->cin / p->grp : 0;
	p->mg = p->grp > 0 ? p->cout / p->grp : 0;
	p->kind = p->grp > 0 ? kind_of(n, p) : CK_GENERIC;
	if (p->kind == CK_DW) {
		const geo *g = &p->g;
		int64_t wp = (g->out[2] - 1) * g->s[2] + (g->k[2] - 1) * g->d[2]
			     + 1;
		p->sw = g->s[2];
		p->hp = (g->out[1] - 1) * g->s[1] + (g->k[1] - 1) * g->d[1] + 1;
		p->wq = (wp + p->sw - 1) / p->sw + SLACK;
	}
}

static int64_t
plan_bytes(const cplan *p)
{
	if (p->kind == CK_IM2COL)
		return p->cg * p->g.kvol * p->g.osz * 4;
	if (p->kind == CK_DW)
		return p->hp * p->sw * p->wq * 4;
	return 0;
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

static LLVMValueRef
fptr(cg_fn *f, LLVMValueRef p)
{
	return LLVMBuildBitCast(f->b, p, LLVMPointerType(f->c->f32, 0), "");
}

static LLVMValueRef
add_mul(cg_fn *f, LLVMValueRef base, LLVMValueRef i, int64_t k)
{
	return LLVMBuildNSWAdd(f->b, base, LLVMBuildNSWMul(f->b, i,
		cg_i64(f, k), ""), "");
}

static void
zero_fill(cg_fn *f, LLVMValueRef p, LLVMValueRef idx, int64_t n)
{
	if (n <= 0)
		return;
	LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, cg_gep(f, p, idx),
		f->c->ptr, ""), LLVMConstInt(f->c->i8, 0, 0),
		cg_i64(f, n * 4), 4);
}

/* n floats of zeros at p[idx], n a runtime count (may be 0). */
static void
zero_fill_dyn(cg_fn *f, LLVMValueRef p, LLVMValueRef idx, LLVMValueRef n)
{
	LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, cg_gep(f, p, idx),
		f->c->ptr, ""), LLVMConstInt(f->c->i8, 0, 0),
		LLVMBuildNSWMul(f->b, n, cg_i64(f, 4), ""), 4);
}

/* Row (ic, kh, kw) of the im2col matrix over the band of output rows
 * [oh0, oh0 + bh): B[row][(oh - oh0)*OW + ow] =
 * X[ic][oh*sh + kh*dh - ph][ow*sw + kw*dw - pw], 0 outside; the in-range
 * columns are compile-time intervals, the rows clamped to the band. */
static void
im2col_row(cg_fn *f, const geo *g, const LLVMValueRef *xd, LLVMValueRef d0,
	   int64_t kh, int64_t kw, LLVMValueRef oh0, int64_t bh)
{
	int64_t olo, ohi, wlo, whi, ow = g->out[2], iw = g->in[2];
	LLVMValueRef oh, drow, srow, j, lo, hi, end, x = xd[0], dst = xd[2];
	cg_loop lh, lw;

	range(g->out[1], g->in[1], g->s[1], kh * g->d[1], g->p[1], &olo, &ohi);
	range(ow, iw, g->s[2], kw * g->d[2], g->p[2], &wlo, &whi);
	if (ohi <= olo || whi <= wlo) {
		zero_fill(f, dst, d0, bh * ow);
		return;
	}
	end = LLVMBuildNSWAdd(f->b, oh0, cg_i64(f, bh), "");
	lo = cg_max(f, IR_I64, oh0, cg_i64(f, olo));
	hi = cg_max(f, IR_I64, lo, cg_min(f, IR_I64, end, cg_i64(f, ohi)));
	zero_fill_dyn(f, dst, d0, LLVMBuildNSWMul(f->b, LLVMBuildNSWSub(f->b,
		lo, oh0, ""), cg_i64(f, ow), ""));
	zero_fill_dyn(f, dst, add_mul(f, d0, LLVMBuildNSWSub(f->b, hi, oh0, ""),
		ow), LLVMBuildNSWMul(f->b, LLVMBuildNSWSub(f->b, end, hi, ""),
		cg_i64(f, ow), ""));
	oh = cg_loop_begin_dyn(f, lo, hi, &lh);
	drow = add_mul(f, d0, LLVMBuildNSWSub(f->b, oh, oh0, ""), ow);
	srow = add_mul(f, LLVMBuildNSWAdd(f->b, xd[1], cg_i64(f,
		(kh * g->d[1] - g->p[1]) * iw + kw * g->d[2] - g->p[2]), ""),
		oh, g->s[1] * iw);
	zero_fill(f, dst, drow, wlo);
	zero_fill(f, dst, LLVMBuildNSWAdd(f->b, drow, cg_i64(f, whi), ""),
		  ow - whi);
	j = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, whi - wlo, &lw),
			    cg_i64(f, wlo), "");
	cg_store(f, dst, LLVMBuildNSWAdd(f->b, drow, j, ""), cg_load(f, x,
		add_mul(f, srow, j, g->s[2])));
	cg_loop_end(f, &lw);
	cg_loop_end_dyn(f, &lh);
	/* runtime-unrolled copies of every row loop tripled LLVM's time */
	cg_no_unroll(f, LLVMGetBasicBlockTerminator(LLVMGetIncomingBlock(
		lh.iv, 1)));
}

/* The band [oh0, oh0 + bh) of the im2col matrix (row stride bh*OW). */
static void
im2col(cg_fn *f, const cplan *p, LLVMValueRef x0, LLVMValueRef dst,
       LLVMValueRef oh0, int64_t bh)
{
	const geo *g = &p->g;
	int64_t kidx = 0, bc = bh * g->out[2];
	LLVMValueRef ic, xd[3], d0;
	cg_loop l;

	ic = cg_loop_begin(f, p->cg, &l);
	xd[0] = f->in[0];
	xd[1] = add_mul(f, x0, ic, g->isz);
	xd[2] = dst;
	d0 = LLVMBuildNSWMul(f->b, ic, cg_i64(f, g->kvol * bc), "");
	for (int64_t kh = 0; kh < g->k[1]; kh++)
		for (int64_t kw = 0; kw < g->k[2]; kw++, kidx++)
			im2col_row(f, g, xd, LLVMBuildNSWAdd(f->b, d0,
				cg_i64(f, kidx * bc), ""), kh, kw, oh0, bh);
	cg_loop_end(f, &l);
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
static void
conv_epilogue(cg_fn *f, cg_act *act, double *lo, double *hi,
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

#define BAND_BYTES (640 << 10) /* im2col band kept in L2 for its GEMM */
#define BAND_COLS 96           /* narrower bands waste the column tiles */

/* Output rows per im2col band: the whole plane when its matrix fits the
 * budget, else the largest divisor of OH whose band does and is still
 * wide; written and read back from L2 instead of memory. */
static int64_t
band_rows(const cplan *p)
{
	const geo *g = &p->g;
	int64_t row = p->cg * g->kvol * g->out[2] * 4;

	if (p->kind != CK_IM2COL || row * g->out[1] <= BAND_BYTES)
		return g->out[1];
	for (int64_t bh = g->out[1] - 1; bh >= 1; bh--)
		if (g->out[1] % bh == 0 && bh * row <= BAND_BYTES)
			return bh * g->out[2] >= BAND_COLS ? bh : g->out[1];
	return g->out[1];
}

/* Per image, group and band of output rows: C[mg][cols] = W[mg][K] *
 * B[K][cols], B being the input itself (1x1) or its im2col copy in the
 * scratch. */
static bool
conv_gemm(cg_fn *f, const cplan *p)
{
	const geo *g = &p->g;
	int64_t k = p->kind == CK_GEMM ? p->cg : p->cg * g->kvol;
	int64_t bh = band_rows(p), bc = bh * g->out[2];
	LLVMValueRef bi, gi, x0, oh0, sc = NULL;
	cg_loop lb, lg, lr;
	cg_gemm m = {0};

	m.m = p->mg, m.n = bc, m.k = k;
	cg_gemm_tile(f->c, m.m, m.n, &m.mr, &m.nv);
	pack_a(f, p, k, &m);
	m.sam = 1, m.sak = m.mr, m.amb = k * m.mr;
	m.sbk = bc, m.bnb = (int64_t)m.nv * f->c->vl;
	m.scm = g->osz;
	m.alpha = m.beta = 1.0;
	conv_epilogue(f, &m.act, &m.lo, &m.hi, &m.res);
	if (f->n->nin > 2 && f->in[2])
		m.bias = f->in[2], m.sbi = 1;
	if (p->kind == CK_IM2COL)
		sc = fptr(f, f->scratch);
	bi = cg_loop_begin(f, p->nb, &lb);
	gi = cg_loop_begin(f, p->grp, &lg);
	x0 = LLVMBuildNSWMul(f->b, add_mul(f, gi, bi, p->grp),
			     cg_i64(f, p->cg * g->isz), "");
	m.a0 = LLVMBuildNSWMul(f->b, gi, cg_i64(f, (p->mg + m.mr - 1) / m.mr *
						k * m.mr), "");
	oh0 = LLVMBuildNSWMul(f->b, cg_loop_begin(f, g->out[1] / bh, &lr),
			      cg_i64(f, bh), "");
	m.c0 = add_mul(f, LLVMBuildNSWMul(f->b, add_mul(f, gi, bi, p->grp),
		cg_i64(f, p->mg * g->osz), ""), oh0, g->out[2]);
	m.res0 = m.c0;
	m.bias0 = LLVMBuildNSWMul(f->b, gi, cg_i64(f, p->mg), "");
	m.c = f->out[0];
	if (p->kind == CK_IM2COL) {
		im2col(f, p, x0, sc, oh0, bh);
		m.b = sc, m.b0 = cg_i64(f, 0);
	} else {
		m.b = f->in[0], m.b0 = x0;
	}
	cg_gemm_emit(f, &m);
	cg_loop_end_nounroll(f, &lr);
	cg_loop_end(f, &lg);
	cg_loop_end(f, &lb);
	return true;
}

/* Input channel plane x0 into the zero-bordered plane: padded column
 * c = j*sw + q lives in phase q at j, so stride-sw taps read contiguous
 * vectors. Borders are zeroed once per layer and never written. */
static void
dw_pack(cg_fn *f, const cplan *p, LLVMValueRef x0, LLVMValueRef pl)
{
	const geo *g = &p->g;
	int64_t rows = g->in[1], rs = p->sw * p->wq;
	LLVMValueRef ih, src, dst, j;
	cg_loop lh, lj;

	if (rows > p->hp - g->p[1])
		rows = p->hp - g->p[1];
	if (rows <= 0)
		return;
	ih = cg_loop_begin(f, rows, &lh);
	src = add_mul(f, x0, ih, g->in[2]);
	dst = add_mul(f, cg_i64(f, g->p[1] * rs), ih, rs);
	for (int64_t q = 0; q < p->sw; q++) {
		int64_t lo, hi;
		range(p->wq - SLACK, g->in[2], p->sw, q, g->p[2], &lo, &hi);
		if (hi <= lo)
			continue;
		j = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, hi - lo, &lj),
				    cg_i64(f, lo), "");
		cg_store(f, pl, LLVMBuildNSWAdd(f->b, dst, LLVMBuildNSWAdd(f->b,
			j, cg_i64(f, q * p->wq), ""), ""), cg_load(f, f->in[0],
			LLVMBuildNSWAdd(f->b, add_mul(f, src, j, p->sw),
			cg_i64(f, q - g->p[2]), "")));
		cg_loop_end(f, &lj);
	}
	cg_loop_end(f, &lh);
}

typedef struct dwrow {
	LLVMValueRef row, y0, bias, w[64];
	cg_act act;
	double lo, hi;
	LLVMValueRef res;
} dwrow;

/* nvec vectors of output row (plane row base r->row, output y0) from
 * column ow0; the last one has `lanes` lanes. */
static void
dw_vectors(cg_fn *f, const cplan *p, const dwrow *r, LLVMValueRef ow0,
	   int nvec, int lanes)
{
	const geo *g = &p->g;
	int vl = f->c->vl;

	for (int v = 0; v < nvec; v++) {
		LLVMValueRef acc = r->bias, col, y;
		int64_t kidx = 0;
		col = LLVMBuildNSWAdd(f->b, ow0, cg_i64(f, v * vl), "");
		for (int64_t kh = 0; kh < g->k[1]; kh++)
			for (int64_t kw = 0; kw < g->k[2]; kw++, kidx++) {
				int64_t c = kw * g->d[2];
				int64_t off = kh * g->d[1] * p->sw * p->wq +
					      c % p->sw * p->wq + c / p->sw;
				LLVMValueRef x = cg_vload(f, fptr(f, f->scratch),
					LLVMBuildNSWAdd(f->b, r->row,
					LLVMBuildNSWAdd(f->b, col,
					cg_i64(f, off), ""), ""), vl);
				acc = cg_vfma(f, r->w[kidx], x, acc);
			}
		y = LLVMBuildNSWAdd(f->b, r->y0, col, "");
		if (r->res)
			acc = LLVMBuildFAdd(f->b, acc, cg_vload(f, r->res, y,
				v == nvec - 1 ? lanes : vl), "");
		acc = cg_vact(f, acc, r->act, r->lo, r->hi);
		cg_vstore(f, f->out[0], y, acc, v == nvec - 1 ? lanes : vl);
	}
}

/* One output plane: rows, groups of four vectors, then the tail. */
static void
dw_plane(cg_fn *f, const cplan *p, dwrow *r, LLVMValueRef y0)
{
	const geo *g = &p->g;
	int vl = f->c->vl;
	int64_t ow = g->out[2], ng = ow / (4 * vl), rem = ow - ng * 4 * vl;
	LLVMValueRef oh;
	cg_loop lh, lg;

	oh = cg_loop_begin(f, g->out[1], &lh);
	r->row = LLVMBuildNSWMul(f->b, oh, cg_i64(f, g->s[1] * p->sw * p->wq),
				 "");
	r->y0 = add_mul(f, y0, oh, ow);
	if (ng > 0) {
		LLVMValueRef gi = cg_loop_begin(f, ng, &lg);
		dw_vectors(f, p, r, LLVMBuildNSWMul(f->b, gi,
			cg_i64(f, 4 * vl), ""), 4, vl);
		cg_loop_end_nounroll(f, &lg);
	}
	if (rem > 0) {
		int nvec = (int)((rem + vl - 1) / vl);
		dw_vectors(f, p, r, cg_i64(f, ng * 4 * vl), nvec,
			   (int)(rem - (nvec - 1) * vl));
	}
	cg_loop_end_nounroll(f, &lh);
}

static bool
conv_dw(cg_fn *f, const cplan *p)
{
	const geo *g = &p->g;
	LLVMValueRef bi, ci, mi, oc, pl = fptr(f, f->scratch);
	cg_loop lb, lc, lm;
	dwrow r;

	if (g->kvol > 64)
		return generic_conv(f);
	conv_epilogue(f, &r.act, &r.lo, &r.hi, &r.res);
	zero_fill(f, pl, cg_i64(f, 0), p->hp * p->sw * p->wq);
	bi = cg_loop_begin(f, p->nb, &lb);
	ci = cg_loop_begin(f, p->cin, &lc);
	dw_pack(f, p, add_mul(f, cg_i64(f, 0), add_mul(f, ci, bi, p->cin),
			      g->isz), pl);
	mi = cg_loop_begin(f, p->mg, &lm);
	oc = add_mul(f, mi, ci, p->mg);
	for (int64_t k = 0; k < g->kvol; k++)
		r.w[k] = cg_vsplat(f, cg_weight_load(f, add_mul(f,
			cg_i64(f, k), oc, g->kvol)));
	r.bias = f->n->nin > 2 && f->in[2]
		 ? cg_vsplat(f, cg_load(f, f->in[2], oc))
		 : LLVMConstNull(cg_vtype(f->c));
	dw_plane(f, p, &r, LLVMBuildNSWMul(f->b, add_mul(f, oc, bi, p->cout),
					   cg_i64(f, g->osz), ""));
	cg_loop_end(f, &lm);
	cg_loop_end(f, &lc);
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
	if (p.kind == CK_GENERIC || plan_bytes(&p) > MAX_SCRATCH ||
	    (plan_bytes(&p) > 0 && !f->scratch))
		return generic_conv(f);
	if (p.kind == CK_DW)
		return conv_dw(f, &p);
	return conv_gemm(f, &p);
}
