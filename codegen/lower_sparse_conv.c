/* Sparse 2-D convolution (Conv, nncc.FusedConv with a constant weight),
 * output-stationary: the input is copied once into zero-padded stride
 * phase planes, so that every non-zero (ic, kh, kw) of an output channel
 * reads a contiguous run at a constant offset. A tile of SP_TILE output pixels
 * (of the plane computed Wq wide, junk columns dropped) stays in four
 * vector registers while each non-zero adds a broadcast weight times a
 * vector load: one FMA per SP_VEC pixels and non-zero. */
#include <stdlib.h>

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
			e->off[k] = (int32_t)(((ic * L->sh + ph) * L->sw + pw) *
				plane + y * L->dh / L->sh * L->wq +
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

/* Input channels per block of the blocked table kernel: the phase-plane
 * floats one tile reads per input channel, times the block, should stay
 * in L1 (16 KiB) across all output channels. */
static int64_t
block_channels(const sp_layer *L)
{
	int64_t per = (SP_TILE + (L->kh - 1) * L->dh / L->sh * L->wq +
		       (L->kw - 1) * L->dw / L->sw) * L->sh * L->sw, cg, b;

	if (per > L->hq * L->wq * L->sh * L->sw)
		per = L->hq * L->wq * L->sh * L->sw;
	cg = L->cols / (L->kh * L->kw);
	b = 4096 / per;
	return b < 1 ? 1 : b > cg ? cg : b;
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

/* Zero-padded phase planes of image x0 at ph[0..]. */
static void
fill_phases(cg_fn *f, const sp_layer *L, LLVMValueRef x0, LLVMValueRef ph)
{
	int64_t dims[3] = {L->c, L->h, L->wd}, st[3] = {L->h * L->wd, L->wd, 1};
	int64_t nph = L->c * L->sh * L->sw * L->hq * L->wq + SP_TILE + L->wq;
	LLVMValueRef ivs[3], hp, wp, idx, p8;
	cg_loop loops[3];

	p8 = LLVMBuildBitCast(f->b, ph, f->c->ptr, "");
	LLVMBuildMemSet(f->b, p8, LLVMConstInt(f->c->i8, 0, 0),
			cg_i64(f, nph * 4), 4);
	cg_nest_begin(f, 3, dims, ivs, loops);
	hp = LLVMBuildNSWAdd(f->b, ivs[1], cg_i64(f, L->pt), "");
	wp = LLVMBuildNSWAdd(f->b, ivs[2], cg_i64(f, L->pl), "");
	idx = LLVMBuildNSWMul(f->b, ivs[0], cg_i64(f, L->sh), "");
	idx = LLVMBuildNSWAdd(f->b, idx, LLVMBuildURem(f->b, hp,
		cg_i64(f, L->sh), ""), "");
	idx = LLVMBuildNSWMul(f->b, idx, cg_i64(f, L->sw), "");
	idx = LLVMBuildNSWAdd(f->b, idx, LLVMBuildURem(f->b, wp,
		cg_i64(f, L->sw), ""), "");
	idx = LLVMBuildNSWMul(f->b, idx, cg_i64(f, L->hq * L->wq), "");
	idx = LLVMBuildNSWAdd(f->b, idx, LLVMBuildNSWMul(f->b, LLVMBuildUDiv(
		f->b, hp, cg_i64(f, L->sh), ""), cg_i64(f, L->wq), ""), "");
	idx = LLVMBuildNSWAdd(f->b, idx, LLVMBuildUDiv(f->b, wp,
		cg_i64(f, L->sw), ""), "");
	cg_store(f, ph, idx, cg_load(f, x0, cg_linear(f, 3, ivs, st, 0)));
	cg_nest_end(f, 3, loops);
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
	int64_t n = L->nnz ? L->nnz : 1;
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, SP_VEC);
	LLVMValueRef ptr = sp_table(f, e->ptr, L->rows + 1, 4);
	LLVMValueRef off = sp_table(f, e->off, n, 4), val, cb = NULL;
	LLVMValueRef acc[SP_NV], oc, t, j, b0, base, w;
	cg_loop lo, lt, lj;

	val = codes ? sp_table(f, e->code, n, 1) : cg_f32_table(f, e->val, n);
	if (codes)
		cb = cg_f32_table(f, L->w->codebook, L->w->ncodes);
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
	w = codes ? cg_load(f, cb, sp_index(f, val, j)) : cg_load(f, val, j);
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

/* Blocked table kernel (group 1, several input-channel blocks): for each
 * tile, for each block of input channels, every output channel adds its
 * non-zeros of that block into its accumulators, kept in the wide planes
 * of all channels; the block's input rows stay in L1 across channels
 * instead of streaming from L2 once per output channel. */
static void
table_blocked(cg_fn *f, const sp_layer *L, const centries *e, int64_t nblk,
	      LLVMValueRef ph, LLVMValueRef wide, LLVMValueRef y,
	      LLVMValueRef bias)
{
	bool codes = L->w->ncodes > 0;
	int64_t n = L->nnz ? L->nnz : 1, plane = L->ntiles * SP_TILE;
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, SP_VEC);
	LLVMValueRef ptr = sp_table(f, e->ptr, nblk * L->rows + 1, 4);
	LLVMValueRef off = sp_table(f, e->off, n, 4), val, cb = NULL;
	LLVMValueRef acc[SP_NV], oc, t, j, b, sg, base, w, o;
	cg_loop lo, lt, lj, lb;

	val = codes ? sp_table(f, e->code, n, 1) : cg_f32_table(f, e->val, n);
	if (codes)
		cb = cg_f32_table(f, L->w->codebook, L->w->ncodes);
	for (int v = 0; v < SP_NV; v++)
		acc[v] = cg_alloca(f, vt);
	t = cg_loop_begin(f, L->ntiles, &lt);
	t = LLVMBuildNSWMul(f->b, t, cg_i64(f, SP_TILE), "");
	oc = cg_loop_begin(f, L->rows, &lo);
	o = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oc, cg_i64(f, plane),
		""), t, "");
	w = sp_splat(f, bias_of(f, bias, oc), SP_VEC);
	for (int v = 0; v < SP_NV; v++)
		sp_vstore(f, wide, LLVMBuildNSWAdd(f->b, o, cg_i64(f,
			  SP_VEC * v), ""), w);
	cg_loop_end(f, &lo);
	b = cg_loop_begin(f, nblk, &lb);
	oc = cg_loop_begin(f, L->rows, &lo);
	o = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, oc, cg_i64(f, plane),
		""), t, "");
	for (int v = 0; v < SP_NV; v++)
		LLVMBuildStore(f->b, sp_vload(f, wide, LLVMBuildNSWAdd(f->b, o,
			cg_i64(f, SP_VEC * v), ""), SP_VEC), acc[v]);
	sg = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, b, cg_i64(f,
		L->rows), ""), oc, "");
	j = cg_loop_begin_dyn(f, LLVMBuildSExt(f->b, cg_load(f, ptr, sg),
		f->c->i64, ""), LLVMBuildSExt(f->b, cg_load(f, ptr,
		LLVMBuildNSWAdd(f->b, sg, cg_i64(f, 1), "")), f->c->i64, ""),
		&lj);
	base = LLVMBuildNSWAdd(f->b, LLVMBuildSExt(f->b, cg_load(f, off, j),
		f->c->i64, ""), t, "");
	w = codes ? cg_load(f, cb, sp_index(f, val, j)) : cg_load(f, val, j);
	w = sp_splat(f, w, SP_VEC);
	for (int v = 0; v < SP_NV; v++)
		LLVMBuildStore(f->b, sp_fmuladd(f, w, sp_vload(f, ph,
			LLVMBuildNSWAdd(f->b, base, cg_i64(f, SP_VEC * v), ""),
			SP_VEC), LLVMBuildLoad2(f->b, vt, acc[v], "")), acc[v]);
	cg_loop_end_dyn(f, &lj);
	for (int v = 0; v < SP_NV; v++)
		sp_vstore(f, wide, LLVMBuildNSWAdd(f->b, o, cg_i64(f,
			  SP_VEC * v), ""), LLVMBuildLoad2(f->b, vt, acc[v], ""));
	cg_loop_end(f, &lo);
	cg_loop_end(f, &lb);
	cg_loop_end(f, &lt);
	oc = cg_loop_begin(f, L->rows, &lo);
	copy_out(f, L, cg_gep(f, wide, LLVMBuildNSWMul(f->b, oc,
		 cg_i64(f, plane), "")), y, oc);
	cg_loop_end(f, &lo);
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

bool
cg_lower_sparse_conv(cg_fn *f, const sp_layer *L, cg_kernel k)
{
	centries e;
	int64_t nph = L->c * L->sh * L->sw * L->hq * L->wq + SP_TILE + L->wq;
	LLVMValueRef sc, ph, wide, bias, i, x0, y0;
	int64_t icb, nblk, nsc;
	bool blocked;
	cg_loop li;

	entries_build(L, &e);
	icb = block_channels(L);
	nblk = (L->cols / (L->kh * L->kw) + icb - 1) / icb;
	nsc = L->scratch + (L->rows - 1) * L->ntiles * SP_TILE;
	blocked = k == CG_KERNEL_TABLE && L->group == 1 && nblk > 1 &&
		  nsc <= SP_MAX_SCRATCH;
	if (blocked)
		entries_block(L, &e, icb, nblk);
	/* The input copy lives in the node's workspace scratch, never on the
	 * stack: it can be megabytes, and callers' threads may have small
	 * stacks. The planner sized it (cg_node_scratch_bytes). */
	NN_ASSERT(f->scratch && cg_sparse_scratch_bytes(f->n) >=
		  4 * (blocked ? nsc : L->scratch));
	sc = f->scratch;
	ph = LLVMBuildBitCast(f->b, sc, LLVMPointerType(f->c->f32, 0), "");
	wide = cg_gep(f, ph, cg_i64(f, nph));
	bias = f->n->nin > 2 && f->n->in[2] ? f->in[2] : NULL;
	i = cg_loop_begin(f, L->nb, &li);
	x0 = cg_gep(f, f->in[0], LLVMBuildNSWMul(f->b, i,
		cg_i64(f, L->c * L->h * L->wd), ""));
	y0 = cg_gep(f, f->out[0], LLVMBuildNSWMul(f->b, i,
		cg_i64(f, L->rows * L->oh * L->ow), ""));
	fill_phases(f, L, x0, ph);
	if (blocked) {
		table_blocked(f, L, &e, nblk, ph, wide, y0, bias);
	} else if (k == CG_KERNEL_TABLE) {
		table_channels(f, L, &e, ph, wide, y0, bias);
	} else {
		LLVMValueRef args[4] = {ph, wide, y0, bias};
		unrolled_channels(f, L, &e, args);
	}
	cg_loop_end(f, &li);
	entries_free(&e);
	return true;
}
