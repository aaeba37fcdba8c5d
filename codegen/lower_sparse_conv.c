/* Sparse 2-D convolution (Conv, nncc.FusedConv with a constant weight),
 * output-stationary: the input is copied once into zero-padded stride
 * phase planes, so that every non-zero (ic, kh, kw) of an output channel
 * reads a contiguous run at a constant offset. A tile of SP_TILE output
 * pixels (of the plane computed Wq wide, junk columns dropped) stays in
 * SP_NV vector registers while each non-zero adds a broadcast weight
 * times a vector load: one FMA per SP_VEC pixels and non-zero. */
#include <math.h>
#include <stdlib.h>

#include <llvm-c/DebugInfo.h>

#include "sparse.h"

typedef struct centries {
	int32_t *ptr; /* [rows + 1] */
	int32_t *off; /* offset into the phase planes */
	float *val;
	uint8_t *code;
	int32_t *icl; /* input channel within the group */
} centries;

static void
entries_build(const sp_layer *L, centries *e)
{
	int64_t k = 0, cg = L->cols / (L->kh * L->kw), mg = L->rows / L->group;
	int64_t plane = L->hq * L->wq;

	e->ptr = nn_xmalloc((size_t)(L->rows + 1) * sizeof *e->ptr);
	e->off = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *e->off);
	e->val = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *e->val);
	e->code = nn_xmalloc((size_t)(L->nnz + 1));
	e->icl = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *e->icl);
	for (int64_t r = 0; r < L->rows; r++) {
		e->ptr[r] = (int32_t)k;
		for (int64_t c = 0; c < L->cols; c++) {
			float w = sp_weight(L, r, c);
			int64_t icl = c / (L->kh * L->kw), y = c / L->kw % L->kh;
			int64_t x = c % L->kw, ic = r / mg * cg + icl;
			int64_t ph = y * L->dh % L->sh, pw = x * L->dw % L->sw;
			if (w == 0)
				continue;
			e->off[k] = (int32_t)(((ic * L->nph + sp_phase(L->kh,
				L->dh, L->sh, ph)) * L->npw + sp_phase(L->kw,
				L->dw, L->sw, pw)) * plane + y * L->dh / L->sh * L->wq +
				x * L->dw / L->sw);
			e->val[k] = w;
			e->icl[k] = (int32_t)icl;
			e->code[k++] = L->w->ncodes ? (uint8_t)sp_code(L, r, c)
						    : 0;
		}
	}
	e->ptr[L->rows] = (int32_t)k;
}

static void
entries_free(centries *e)
{
	free(e->ptr);
	free(e->off);
	free(e->val);
	free(e->code);
	free(e->icl);
}

/* Reorders the entries block-major: segment (b, oc) holds the entries of
 * oc whose input channel lies in block b; ptr becomes [nblk * rows + 1]. */
static void
entries_block(const sp_layer *L, centries *e, int64_t icb, int64_t nblk)
{
	centries o;
	int64_t k = 0;

	o.ptr = nn_xmalloc((size_t)(nblk * L->rows + 1) * sizeof *o.ptr);
	o.off = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *o.off);
	o.val = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *o.val);
	o.code = nn_xmalloc((size_t)(L->nnz + 1));
	o.icl = nn_xmalloc((size_t)(L->nnz + 1) * sizeof *o.icl);
	for (int64_t b = 0; b < nblk; b++)
		for (int64_t r = 0; r < L->rows; r++) {
			o.ptr[b * L->rows + r] = (int32_t)k;
			for (int32_t j = e->ptr[r]; j < e->ptr[r + 1]; j++) {
				if (e->icl[j] / icb != b)
					continue;
				o.off[k] = e->off[j], o.val[k] = e->val[j];
				o.code[k] = e->code[j], o.icl[k++] = e->icl[j];
			}
		}
	o.ptr[nblk * L->rows] = (int32_t)k;
	entries_free(e);
	*e = o;
}

/* Range [*lo, *hi) of plane index i whose input row i * s + p - pad
 * lies in [0, n). */
static void
phase_range(int64_t n, int64_t s, int64_t p, int64_t pad, int64_t *lo,
	    int64_t *hi)
{
	*lo = pad > p ? (pad - p + s - 1) / s : 0;
	*hi = (n + pad - p + s - 1) / s;
}

static bool
used(int64_t k, int64_t d, int64_t s, int64_t p)
{
	return sp_phase(k, d, s, p + 1) > sp_phase(k, d, s, p);
}

/* Padded column J of input row xr into plane row pr of its phase. */
static void
fill_one(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef xr,
	 LLVMValueRef pl, LLVMValueRef pr, int64_t J)
{
	int64_t q = J % L->sw;

	if (!used(L->kw, L->dw, L->sw, q))
		return;
	cg_store(f, pl, LLVMBuildNSWAdd(f->b, pr, cg_i64(f, sp_phase(L->kw,
		 L->dw, L->sw, q) * L->hq * L->wq + J / L->sw), ""),
		 cg_load(f, x0, LLVMBuildNSWAdd(f->b, xr, cg_i64(f,
		 J - L->pl), "")));
}

/* Padded columns [J, J + span) of a row, span = sw * SP_VEC, J a
 * multiple of sw: one load, split by lane into the column phases. */
static void
fill_vec(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef xr,
	 LLVMValueRef pl, LLVMValueRef pr, LLVMValueRef J)
{
	unsigned span = (unsigned)(L->sw * SP_VEC);
	LLVMValueRef v, m[SP_VEC], j, o;

	v = sp_vload(f, x0, LLVMBuildNSWAdd(f->b, xr, LLVMBuildNSWSub(f->b, J,
		cg_i64(f, L->pl), ""), ""), span);
	j = LLVMBuildUDiv(f->b, J, cg_i64(f, L->sw), "");
	for (int64_t q = 0; q < L->sw; q++) {
		if (!used(L->kw, L->dw, L->sw, q))
			continue;
		for (int l = 0; l < SP_VEC; l++)
			m[l] = LLVMConstInt(f->c->i32, (unsigned long long)(q +
					    L->sw * l), 0);
		o = LLVMBuildNSWAdd(f->b, pr, cg_i64(f, sp_phase(L->kw, L->dw,
			L->sw, q) * L->hq * L->wq), "");
		sp_vstore(f, pl, LLVMBuildNSWAdd(f->b, o, j, ""), span == SP_VEC
			  ? v : LLVMBuildShuffleVector(f->b, v, LLVMGetUndef(
			  LLVMTypeOf(v)), LLVMConstVector(m, SP_VEC), ""));
	}
}

/* The data columns [pl, J1) of a row: vectors from the first multiple of
 * sw, the last one overlapping the one before so that it ends within sw
 * columns of the row's end; single columns around them. Rows too short
 * for a vector go column by column. */
static void
fill_row(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef xr,
	 LLVMValueRef pl, LLVMValueRef pr)
{
	int64_t span = L->sw * SP_VEC, J1 = L->wd + L->pl, n, Jl;
	int64_t J0 = (L->pl + L->sw - 1) / L->sw * L->sw;
	LLVMValueRef k;
	cg_loop lk;

	if (J1 - J0 < span) {
		for (int64_t J = L->pl; J < J1; J++)
			fill_one(f, L, x0, xr, pl, pr, J);
		return;
	}
	n = (J1 - J0) / span;
	Jl = (J1 - span) / L->sw * L->sw;
	k = cg_loop_begin(f, n, &lk);
	fill_vec(f, L, x0, xr, pl, pr, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(
		 f->b, k, cg_i64(f, span), ""), cg_i64(f, J0), ""));
	cg_loop_end(f, &lk);
	if (Jl > J0 + (n - 1) * span)
		fill_vec(f, L, x0, xr, pl, pr, cg_i64(f, Jl));
	for (int64_t J = L->pl; J < J0; J++)
		fill_one(f, L, x0, xr, pl, pr, J);
	for (int64_t J = Jl + span; J < J1; J++)
		fill_one(f, L, x0, xr, pl, pr, J);
}

/* Plane rows of row phase ph, every channel and column phase. */
static void
fill_phase(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef pl,
	   int64_t ph)
{
	int64_t i0, i1, dims[2], xs[2], ps[2];
	LLVMValueRef ivs[2], xr, pr;
	cg_loop loops[2];

	phase_range(L->h, L->sh, ph, L->pt, &i0, &i1);
	if (i1 <= i0)
		return;
	dims[0] = L->c, dims[1] = i1 - i0;
	xs[0] = L->h * L->wd, xs[1] = L->sh * L->wd;
	ps[0] = L->nph * L->npw * L->hq * L->wq, ps[1] = L->wq;
	cg_nest_begin(f, 2, dims, ivs, loops);
	xr = cg_linear(f, 2, ivs, xs, (i0 * L->sh + ph - L->pt) * L->wd);
	pr = cg_linear(f, 2, ivs, ps, sp_phase(L->kh, L->dh, L->sh, ph) *
		       L->npw * L->hq * L->wq + i0 * L->wq);
	fill_row(f, L, x0, xr, pl, pr);
	cg_loop_end_novec(f, &loops[1], false);
	cg_loop_end_novec(f, &loops[0], false);
}

/* Zero-padded phase planes of image x0 at ph[0..]: only the phases some
 * tap reads (one for a 1x1 conv of any stride). */
static void
fill_phases(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef ph)
{
	LLVMValueRef p8 = LLVMBuildBitCast(f->b, ph, f->c->ptr, "");

	LLVMBuildMemSet(f->b, p8, LLVMConstInt(f->c->i8, 0, 0),
			cg_i64(f, L->planes * 4), 4);
	for (int64_t p = 0; p < L->sh; p++)
		if (used(L->kh, L->dh, L->sh, p))
			fill_phase(f, L, x0, ph, p);
}

/* y[oc, oh, ow] = wide[oh * wq + ow]. */
static void
copy_out(cg_fn *f, const sp_layer *L, LLVMValueRef wide, LLVMValueRef y,
	 LLVMValueRef oc)
{
	int64_t dims[2] = {L->oh, L->ow}, ws[2] = {L->wq, 1},
		ys[2] = {L->ow, 1};
	LLVMValueRef ivs[2], y0;
	cg_loop loops[2];

	y0 = LLVMBuildNSWMul(f->b, oc, cg_i64(f, L->oh * L->ow), "");
	cg_nest_begin(f, 2, dims, ivs, loops);
	cg_store(f, y, LLVMBuildNSWAdd(f->b, y0, cg_linear(f, 2, ivs, ys, 0),
		 ""), cg_load(f, wide, cg_linear(f, 2, ivs, ws, 0)));
	cg_nest_end(f, 2, loops);
}

static LLVMValueRef
bias_of(cg_fn *f, LLVMValueRef bias, LLVMValueRef oc)
{
	return bias ? cg_load(f, bias, oc) : cg_fconst(f, IR_F32, 0);
}

/* Table kernel: every output channel of one image. */
static void
table_channels(cg_fn *f, const sp_layer *L, const centries *e,
	       LLVMValueRef ph, LLVMValueRef wide, LLVMValueRef y,
	       LLVMValueRef bias)
{
	bool codes = L->w->ncodes > 0;
	int bits = ir_code_bits(L->w->ncodes);
	int64_t n = L->nnz ? L->nnz : 1;
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, SP_VEC);
	LLVMValueRef ptr = sp_table(f, e->ptr, L->rows + 1, 4);
	LLVMValueRef off = sp_table(f, e->off, n, 4), val, cb = NULL;
	LLVMValueRef acc[SP_NV], oc, t, j, b0, base, w;
	cg_loop lo, lt, lj;

	val = codes ? cg_code_table(f, e->code, n, bits)
		    : cg_f32_table(f, e->val, n);
	if (codes)
		cb = cg_codebook(f, L->w);
	for (int v = 0; v < SP_NV; v++)
		acc[v] = cg_alloca(f, vt);
	oc = cg_loop_begin(f, L->rows, &lo);
	b0 = sp_splat(f, bias_of(f, bias, oc), SP_VEC);
	t = cg_loop_begin(f, L->ntiles, &lt);
	t = LLVMBuildNSWMul(f->b, t, cg_i64(f, SP_TILE), "");
	for (int v = 0; v < SP_NV; v++)
		LLVMBuildStore(f->b, b0, acc[v]);
	j = cg_loop_begin_dyn(f, LLVMBuildSExt(f->b, cg_load(f, ptr, oc),
		f->c->i64, ""), LLVMBuildSExt(f->b, cg_load(f, ptr,
		LLVMBuildNSWAdd(f->b, oc, cg_i64(f, 1), "")), f->c->i64, ""),
		&lj);
	base = LLVMBuildNSWAdd(f->b, LLVMBuildSExt(f->b, cg_load(f, off, j),
		f->c->i64, ""), t, "");
	w = codes ? cg_load(f, cb, cg_code_load(f, val, j, bits))
		  : cg_load(f, val, j);
	w = sp_splat(f, w, SP_VEC);
	for (int v = 0; v < SP_NV; v++)
		LLVMBuildStore(f->b, sp_fmuladd(f, w, sp_vload(f, ph,
			LLVMBuildNSWAdd(f->b, base, cg_i64(f, SP_VEC * v), ""), SP_VEC),
			LLVMBuildLoad2(f->b, vt, acc[v], "")), acc[v]);
	cg_loop_end_dyn(f, &lj);
	for (int v = 0; v < SP_NV; v++)
		sp_vstore(f, wide, LLVMBuildNSWAdd(f->b, t, cg_i64(f, SP_VEC * v),
			  ""), LLVMBuildLoad2(f->b, vt, acc[v], ""));
	cg_loop_end(f, &lt);
	copy_out(f, L, wide, y, oc);
	cg_loop_end(f, &lo);
}

/* The fused residual add and activation (the VACT rows), applied while
 * a tile is copied out; other activations run after, as for dense. */
typedef struct cepi {
	LLVMValueRef res;
	cg_act act;
	double lo, hi;
} cepi;

static LLVMValueRef
fsel(cg_fn *f, LLVMRealPredicate p, LLVMValueRef v, double k)
{
	LLVMValueRef c = cg_fconst(f, IR_F32, k);

	return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, p, v, c, ""), v, c,
			       "");
}

static LLVMValueRef
epi_apply(cg_fn *f, const cepi *ep, LLVMValueRef v, LLVMValueRef i)
{
	if (ep->res)
		v = LLVMBuildFAdd(f->b, v, cg_load(f, ep->res, i), "");
	if (ep->act == CG_ACT_OP)
		return cg_act_apply(f, v);
	if (ep->act == CG_ACT_RELU || ep->lo > -INFINITY)
		v = fsel(f, LLVMRealUGT, v, ep->act == CG_ACT_RELU ? 0 : ep->lo);
	if (ep->act == CG_ACT_CLIP && ep->hi < INFINITY)
		v = fsel(f, LLVMRealULT, v, ep->hi);
	return v;
}

/* y[oc] = epilogue(buf[oc]) for the output pixels of the wide tile at t
 * (px pixels): for each plane row r it touches, the columns [c0, c1)
 * that are real (junk columns past ow dropped). */
static void
tile_out(cg_fn *f, const sp_layer *L, const cepi *ep, LLVMValueRef buf,
	 LLVMValueRef t, int64_t px, LLVMValueRef y)
{
	LLVMValueRef r, d, c0, c1, c, oc, i, v, wq = cg_i64(f, L->wq);
	cg_loop lr, lo, lc;

	oc = cg_loop_begin(f, L->rows, &lo);
	r = cg_loop_begin_dyn(f, LLVMBuildUDiv(f->b, t, wq, ""), cg_min(f, IR_I64,
		LLVMBuildUDiv(f->b, LLVMBuildNSWAdd(f->b, t, cg_i64(f,
		px + L->wq - 1), ""), wq, ""), cg_i64(f, L->oh)), &lr);
	/* d: where row r starts, relative to the tile (<= 0 for the first) */
	d = LLVMBuildNSWSub(f->b, LLVMBuildNSWMul(f->b, r, wq, ""), t, "");
	c0 = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, d,
		cg_i64(f, 0), ""), LLVMBuildNSWNeg(f->b, d, ""), cg_i64(f, 0),
		"");
	c1 = cg_min(f, IR_I64, LLVMBuildNSWSub(f->b, cg_i64(f, px), d, ""),
		    cg_i64(f, L->ow));
	c = cg_loop_begin_dyn(f, c0, c1, &lc);
	i = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oc, cg_i64(f,
		L->oh * L->ow), ""), LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(
		f->b, r, cg_i64(f, L->ow), ""), c, ""), "");
	v = cg_load(f, buf, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oc,
		cg_i64(f, SP_TILE), ""), LLVMBuildNSWAdd(f->b, d, c, ""), ""));
	cg_store(f, y, i, epi_apply(f, ep, v, i));
	cg_loop_end_dyn(f, &lc);
	cg_loop_end_novec(f, &lr, true);
	cg_loop_end_novec(f, &lo, false);
}

/* What the blocked kernel's tiles share: tables, buffers, accumulators. */
typedef struct cblk {
	LLVMValueRef ptr, off, val, cb, ph, buf, y, bias;
	LLVMValueRef acc[SP_NV];
	const cepi *ep;
	int64_t nblk;
	int bits;       /* of the codes in val, when cb (shared weights) */
} cblk;

/* Tiles [t0, t0 + n) of nv vectors: per tile, bias into the buffer, then
 * per block, per output channel, the block's non-zeros, then out to y. */
static void
blocked_tiles(cg_fn *f, const sp_layer *L, const cblk *k, int64_t t0,
	      int64_t n, int nv)
{
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, SP_VEC);
	LLVMValueRef oc, t, j, b, sg, base, w, o;
	cg_loop lo, lt, lj, lb;

	t = cg_loop_begin(f, n, &lt);
	t = LLVMBuildNSWMul(f->b, LLVMBuildNSWAdd(f->b, t, cg_i64(f, t0), ""),
			    cg_i64(f, SP_TILE), "");
	oc = cg_loop_begin(f, L->rows, &lo);
	o = LLVMBuildNSWMul(f->b, oc, cg_i64(f, SP_TILE), "");
	w = sp_splat(f, bias_of(f, k->bias, oc), SP_VEC);
	for (int v = 0; v < nv; v++)
		sp_vstore(f, k->buf, LLVMBuildNSWAdd(f->b, o, cg_i64(f,
			  SP_VEC * v), ""), w);
	cg_loop_end(f, &lo);
	b = cg_loop_begin(f, k->nblk, &lb);
	oc = cg_loop_begin(f, L->rows, &lo);
	o = LLVMBuildNSWMul(f->b, oc, cg_i64(f, SP_TILE), "");
	for (int v = 0; v < nv; v++)
		LLVMBuildStore(f->b, sp_vload(f, k->buf, LLVMBuildNSWAdd(f->b,
			o, cg_i64(f, SP_VEC * v), ""), SP_VEC), k->acc[v]);
	sg = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, b, cg_i64(f,
		L->rows), ""), oc, "");
	j = cg_loop_begin_dyn(f, LLVMBuildSExt(f->b, cg_load(f, k->ptr, sg),
		f->c->i64, ""), LLVMBuildSExt(f->b, cg_load(f, k->ptr,
		LLVMBuildNSWAdd(f->b, sg, cg_i64(f, 1), "")), f->c->i64, ""),
		&lj);
	base = LLVMBuildNSWAdd(f->b, LLVMBuildSExt(f->b, cg_load(f, k->off,
		j), f->c->i64, ""), t, "");
	w = k->cb ? cg_load(f, k->cb, cg_code_load(f, k->val, j, k->bits))
		  : cg_load(f, k->val, j);
	w = sp_splat(f, w, SP_VEC);
	for (int v = 0; v < nv; v++)
		LLVMBuildStore(f->b, sp_fmuladd(f, w, sp_vload(f, k->ph,
			LLVMBuildNSWAdd(f->b, base, cg_i64(f, SP_VEC * v), ""),
			SP_VEC), LLVMBuildLoad2(f->b, vt, k->acc[v], "")),
			k->acc[v]);
	cg_loop_end_dyn(f, &lj);
	for (int v = 0; v < nv; v++)
		sp_vstore(f, k->buf, LLVMBuildNSWAdd(f->b, o, cg_i64(f,
			  SP_VEC * v), ""), LLVMBuildLoad2(f->b, vt, k->acc[v],
			  ""));
	cg_loop_end(f, &lo);
	cg_loop_end(f, &lb);
	tile_out(f, L, k->ep, k->buf, t, nv * SP_VEC, k->y);
	cg_loop_end(f, &lt);
}

/* Blocked table kernel: for each tile, for each block of input channels,
 * every output channel adds its non-zeros of that block into its
 * accumulators, kept in a per-tile buffer of all channels (L1/L2); the
 * block's input rows stay in L1 across channels instead of streaming
 * from L2 once per output channel. The finished tile goes straight to y
 * with the fused epilogue, and the last tile is only as wide as the
 * plane's real pixels need. */
static void
table_blocked(cg_fn *f, const sp_layer *L, const centries *e, int64_t nblk,
	      LLVMValueRef ph, LLVMValueRef buf, LLVMValueRef y,
	      LLVMValueRef bias, const cepi *ep)
{
	bool codes = L->w->ncodes > 0;
	int64_t n = L->nnz ? L->nnz : 1;
	cblk k = {.ph = ph, .buf = buf, .y = y, .bias = bias, .ep = ep,
		  .nblk = nblk};

	k.ptr = sp_table(f, e->ptr, nblk * L->rows + 1, 4);
	k.off = sp_table(f, e->off, n, 4);
	k.bits = ir_code_bits(L->w->ncodes);
	k.val = codes ? cg_code_table(f, e->code, n, k.bits)
		      : cg_f32_table(f, e->val, n);
	if (codes)
		k.cb = cg_codebook(f, L->w);
	for (int v = 0; v < SP_NV; v++)
		k.acc[v] = cg_alloca(f, LLVMVectorType(f->c->f32, SP_VEC));
	if (L->nvec / SP_NV)
		blocked_tiles(f, L, &k, 0, L->nvec / SP_NV, SP_NV);
	if (L->nvec % SP_NV)
		blocked_tiles(f, L, &k, L->nvec / SP_NV, 1,
			      (int)(L->nvec % SP_NV));
}

/* Unrolled kernel: channels [r0, r1) with their non-zeros' offsets as
 * immediates, in a function of (phases, wide, y, bias, weights); weights
 * through a base register (no relocation per non-zero). Shared weights:
 * the table is the codebook, indexed by the constant codes. */
static void
unrolled_part(cg_fn *f, const sp_layer *L, const centries *e, int64_t r0,
	      int64_t r1, LLVMValueRef *args)
{
	LLVMBuilderRef b;
	cg_fn s;
	LLVMValueRef fn = sp_sub_begin(f, &s, 5, &b), p[5];
	LLVMTypeRef pf = LLVMPointerType(f->c->f32, 0);
	int32_t j0 = e->ptr[r0];
	LLVMValueRef cbv[IR_MAX_CODES];

	for (int i = 0; i < 5; i++)
		p[i] = LLVMBuildBitCast(b, LLVMGetParam(fn, (unsigned)i), pf,
					"");
	for (int i = 0; i < L->w->ncodes; i++) /* the codebook in registers */
		cbv[i] = cg_load(&s, p[4], cg_i64(&s, i));
	for (int64_t r = r0; r < r1; r++) {
		LLVMValueRef acc[SP_NV], t, b0;
		cg_loop lt;
		b0 = sp_splat(&s, bias_of(&s, args[3] ? p[3] : NULL,
					  cg_i64(&s, r)), SP_VEC);
		t = cg_loop_begin(&s, L->ntiles, &lt);
		t = LLVMBuildNSWMul(s.b, t, cg_i64(&s, SP_TILE), "");
		for (int v = 0; v < SP_NV; v++)
			acc[v] = b0;
		for (int32_t j = e->ptr[r]; j < e->ptr[r + 1]; j++) {
			LLVMValueRef w = sp_splat(&s, L->w->ncodes ?
				cbv[e->code[j]] : cg_load(&s, p[4], cg_i64(&s,
				j - j0)), SP_VEC);
			for (int v = 0; v < SP_NV; v++)
				acc[v] = sp_fmuladd(&s, w, sp_vload(&s, p[0],
					LLVMBuildNSWAdd(s.b, t, cg_i64(&s,
					e->off[j] + SP_VEC * v), ""), SP_VEC),
					acc[v]);
		}
		for (int v = 0; v < SP_NV; v++)
			sp_vstore(&s, p[1], LLVMBuildNSWAdd(s.b, t, cg_i64(&s,
				  SP_VEC * v), ""), acc[v]);
		cg_loop_end(&s, &lt);
		copy_out(&s, L, p[1], p[2], cg_i64(&s, r));
	}
	sp_sub_end(&s, b);
	{
		LLVMValueRef a[5];
		for (int i = 0; i < 4; i++)
			a[i] = args[i] ? LLVMBuildBitCast(f->b, args[i],
				f->c->ptr, "") : LLVMConstNull(f->c->ptr);
		a[4] = LLVMBuildBitCast(f->b, L->w->ncodes ?
			cg_codebook(f, L->w) : sp_weights(f, e->val + j0,
			e->ptr[r1] > j0 ? e->ptr[r1] - j0 : 1), f->c->ptr, "");
		LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			       a, 5, "");
	}
}

static void
unrolled_channels(cg_fn *f, const sp_layer *L, const centries *e,
		  LLVMValueRef *args)
{
	int64_t r0 = 0;

	for (int64_t r = 0; r < L->rows; r++)
		if ((e->ptr[r + 1] - e->ptr[r0]) * SP_NV > SP_CHUNK && r > r0) {
			unrolled_part(f, L, e, r0, r, args);
			r0 = r;
		}
	unrolled_part(f, L, e, r0, L->rows, args);
}

/* The epilogue of a fused conv the blocked kernel applies itself (f->n is
 * the nncc.FusedConv node); false leaves it to cg_lower_fused_epilogue. */
static bool
conv_epilogue(cg_fn *f, cepi *ep)
{
	const ir_node *n = f->n;

	*ep = (cepi){.act = CG_ACT_NONE, .lo = -INFINITY, .hi = INFINITY};
	if (n->op != OP_FusedConv)
		return true;
	if (!cg_gemm_act(n, &ep->act, &ep->lo, &ep->hi))
		return false;
	ep->res = n->nin > 3 && n->in[3] ? f->in[3] : NULL;
	return true;
}

bool
cg_lower_sparse_conv(cg_fn *f, const sp_layer *L, cg_kernel k)
{
	centries e;
	LLVMValueRef sc, ph, wide, bias, i, x0, y0;
	int64_t icb, nblk;
	bool blocked;
	cepi ep;
	cg_loop li;

	entries_build(L, &e);
	icb = L->icb, nblk = L->nblk;
	blocked = k == CG_KERNEL_TABLE && L->bscratch <= SP_MAX_SCRATCH &&
		  conv_epilogue(f, &ep);
	if (blocked)
		entries_block(L, &e, icb, nblk);
	/* The input copy lives in the node's workspace scratch, never on the
	 * stack: it can be megabytes, and callers' threads may have small
	 * stacks. The planner sized it (cg_node_scratch_bytes). */
	NN_ASSERT(f->scratch && cg_sparse_scratch_bytes(f->n) >=
		  4 * (blocked ? L->bscratch : L->scratch));
	sc = f->scratch;
	ph = LLVMBuildBitCast(f->b, sc, LLVMPointerType(f->c->f32, 0), "");
	wide = cg_gep(f, ph, cg_i64(f, L->planes));
	bias = f->n->nin > 2 && f->n->in[2] ? f->in[2] : NULL;
	i = cg_loop_begin(f, L->nb, &li);
	x0 = cg_gep(f, f->in[0], LLVMBuildNSWMul(f->b, i,
		cg_i64(f, L->c * L->h * L->wd), ""));
	y0 = LLVMBuildNSWMul(f->b, i, cg_i64(f, L->rows * L->oh * L->ow), "");
	if (blocked && ep.res)
		ep.res = cg_gep(f, ep.res, y0);
	y0 = cg_gep(f, f->out[0], y0);
	fill_phases(f, L, x0, ph);
	if (blocked) {
		table_blocked(f, L, &e, nblk, ph, wide, y0, bias, &ep);
	} else if (k == CG_KERNEL_TABLE) {
		table_channels(f, L, &e, ph, wide, y0, bias);
	} else {
		LLVMValueRef args[4] = {ph, wide, y0, bias};
		unrolled_channels(f, L, &e, args);
	}
	cg_loop_end(f, &li);
	entries_free(&e);
	sp_fix_nonfinite(f, L, f->in[0], f->out[0]);
	f->epi_done = blocked;
	return true;
}
