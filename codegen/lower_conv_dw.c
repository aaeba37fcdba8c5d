/* The depthwise kernel (groups of one input channel, f32, constant
 * weights, 1-D or 2-D): each channel plane is copied once into a
 * zero-bordered plane split by column stride phase, then every output
 * row is vectors of output columns, one FMA per tap that reads the input
 * (taps that read only padding are left out, per span of rows and
 * columns: dilated layers). */
#include <stdlib.h>

#include "conv.h"

#define SLACK CG_CONV_SLACK
#define add_mul cg_conv_add_mul
#define fptr cg_conv_fptr

/* Padded columns [j0 * sw, (j0 + vl) * sw) of input row src, loaded as
 * one vector of sw * vl floats and split by lane into the sw phases at
 * dst + q * wq + j0 (a strided element copy was vectorized by LLVM into
 * gathers and scatters, and a short row's scalar copy cost a 7x7
 * stride-2 layer more than its FMAs). The lanes outside the row (mask:
 * the first and last chunks; NULL: none) are not read and store the
 * padding's 0. */
static void
pack_vector(cg_fn *f, const cplan *p, LLVMValueRef src, LLVMValueRef dst,
	    LLVMValueRef j0, LLVMValueRef mask, LLVMValueRef pl)
{
	int vl = f->c->vl, sw = (int)p->sw;
	LLVMTypeRef wt = LLVMVectorType(f->c->f32, (unsigned)(sw * vl));
	LLVMValueRef col, ptr, wide, lanes[64], v, args[4];
	char name[64];

	col = LLVMBuildNSWSub(f->b, LLVMBuildNSWMul(f->b, j0,
		cg_i64(f, sw), ""), cg_i64(f, p->g.p[2]), "");
	ptr = LLVMBuildBitCast(f->b, LLVMBuildGEP2(f->b, f->c->f32,
		f->in[0], (LLVMValueRef[]){LLVMBuildAdd(f->b, src, col, "")},
		1, ""), LLVMPointerType(wt, 0), "");
	if (mask) {
		snprintf(name, sizeof name, "llvm.masked.load.v%df32.p0v%df32",
			 sw * vl, sw * vl);
		args[0] = ptr;
		args[1] = LLVMConstInt(f->c->i32, 4, 0);
		args[2] = mask;
		args[3] = LLVMConstNull(wt);
		wide = cg_call(f, name, wt, args, 4);
	} else {
		wide = LLVMBuildLoad2(f->b, wt, ptr, "");
		LLVMSetAlignment(wide, 4);
	}
	for (int q = 0; q < sw; q++) {
		for (int i = 0; i < vl; i++)
			lanes[i] = LLVMConstInt(f->c->i32,
						(unsigned)(i * sw + q), 0);
		v = sw == 1 ? wide : LLVMBuildShuffleVector(f->b, wide,
			LLVMGetUndef(wt), LLVMConstVector(lanes,
			(unsigned)vl), "");
		cg_vstore(f, pl, LLVMBuildNSWAdd(f->b, dst, LLVMBuildNSWAdd(
			f->b, j0, cg_i64(f, q * p->wq), ""), ""), v, vl);
	}
}

/* The lanes of chunk j0 inside the input row, NULL when all are. */
static LLVMValueRef
chunk_mask(cg_fn *f, const cplan *p, int64_t j0)
{
	int64_t n = p->sw * f->c->vl, c0 = j0 * p->sw - p->g.p[2];
	LLVMValueRef bits[64];
	bool all = true;

	for (int64_t i = 0; i < n; i++) {
		bool in = c0 + i >= 0 && c0 + i < p->g.in[2];
		bits[i] = LLVMConstInt(f->c->i1, in, 0);
		all = all && in;
	}
	return all ? NULL : LLVMConstVector(bits, (unsigned)n);
}

/* Phase q's columns [lo, hi) of one row, element by element. */
static void
pack_scalar(cg_fn *f, const cplan *p, LLVMValueRef src, LLVMValueRef dst,
	    int64_t q, int64_t lo, int64_t hi, LLVMValueRef pl)
{
	LLVMValueRef j;
	cg_loop l;

	if (hi <= lo)
		return;
	j = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, hi - lo, &l),
			    cg_i64(f, lo), "");
	cg_store(f, pl, LLVMBuildNSWAdd(f->b, dst, LLVMBuildNSWAdd(f->b, j,
		cg_i64(f, q * p->wq), ""), ""), cg_load(f, f->in[0],
		LLVMBuildNSWAdd(f->b, add_mul(f, src, j, p->sw),
		cg_i64(f, q - p->g.p[2]), "")));
	cg_loop_end(f, &l);
}

/* Input channel plane x0 into the zero-bordered plane: padded column
 * c = j*sw + q lives in phase q at j, so stride-sw taps read contiguous
 * vectors. Borders are zeroed once per layer; chunks of vl columns j
 * write the data and, at the ends, zeros into the borders (the slack
 * after each phase row holds a chunk's overhang). */
static void
dw_pack(cg_fn *f, const cplan *p, LLVMValueRef x0, LLVMValueRef pl)
{
	const geo *g = &p->g;
	int64_t rows = g->in[1], rs = p->sw * p->wq, vl = f->c->vl;
	int64_t nj = (g->in[2] + g->p[2] + p->sw - 1) / p->sw, nc, c, c1;
	LLVMValueRef ih, src, dst, mask;
	cg_loop lh, lv;

	if (rows > p->hp - g->p[1])
		rows = p->hp - g->p[1];
	nj = nj < p->wq - SLACK ? nj : p->wq - SLACK;
	if (rows <= 0 || nj <= 0)
		return;
	nc = (nj + vl - 1) / vl;
	ih = cg_loop_begin(f, rows, &lh);
	src = add_mul(f, x0, ih, g->in[2]);
	dst = add_mul(f, cg_i64(f, g->p[1] * rs), ih, rs);
	if (p->sw * vl > 64) { /* wider than a chunk's lane tables */
		for (int64_t q = 0, lo, hi; q < p->sw; q++) {
			cg_conv_range(nj, g->in[2], p->sw, q, g->p[2], &lo, &hi);
			pack_scalar(f, p, src, dst, q, lo, hi, pl);
		}
		cg_loop_end(f, &lh);
		return;
	}
	/* masked chunks at the start, a loop over the whole ones, the end */
	for (c = 0; c < nc && (mask = chunk_mask(f, p, c * vl)); c++)
		pack_vector(f, p, src, dst, cg_i64(f, c * vl), mask, pl);
	for (c1 = c; c1 < nc && !chunk_mask(f, p, c1 * vl); c1++)
		;
	if (c1 > c) {
		LLVMValueRef j = add_mul(f, cg_i64(f, c * vl), cg_loop_begin(f,
			c1 - c, &lv), vl);
		pack_vector(f, p, src, dst, j, NULL, pl);
		cg_loop_end_novec(f, &lv, false);
	}
	for (c = c1; c < nc; c++)
		pack_vector(f, p, src, dst, cg_i64(f, c * vl),
			    chunk_mask(f, p, c * vl), pl);
	cg_loop_end(f, &lh);
}

typedef struct dwrow {
	LLVMValueRef row, y0, bias, w[64];
	cg_act act;
	double lo, hi;
	LLVMValueRef res;
	int64_t ka[2], kb[2]; /* the taps of the span: rows, columns */
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
		col = LLVMBuildNSWAdd(f->b, ow0, cg_i64(f, v * vl), "");
		for (int64_t kh = r->ka[0]; kh < r->kb[0]; kh++)
			for (int64_t kw = r->ka[1]; kw < r->kb[1]; kw++) {
				int64_t c = kw * g->d[2];
				int64_t off = kh * g->d[1] * p->sw * p->wq +
					      c % p->sw * p->wq + c / p->sw;
				LLVMValueRef x = cg_vload(f, fptr(f, f->scratch),
					LLVMBuildNSWAdd(f->b, r->row,
					LLVMBuildNSWAdd(f->b, col,
					cg_i64(f, off), ""), ""), vl);
				acc = cg_vfma(f, r->w[kh * g->k[2] + kw], x,
					      acc);
			}
		y = LLVMBuildNSWAdd(f->b, r->y0, col, "");
		if (r->res)
			acc = LLVMBuildFAdd(f->b, acc, cg_vload(f, r->res, y,
				v == nvec - 1 ? lanes : vl), "");
		acc = cg_vact(f, acc, r->act, r->lo, r->hi);
		cg_vstore(f, f->out[0], y, acc, v == nvec - 1 ? lanes : vl);
	}
}

/* Columns [lo, hi) of the current row: groups of four vectors, then the
 * tail. */
static void
dw_cols(cg_fn *f, const cplan *p, dwrow *r, int64_t lo, int64_t hi)
{
	int vl = f->c->vl;
	int64_t n = hi - lo, ng = n / (4 * vl), rem = n - ng * 4 * vl;
	cg_loop lg;

	if (ng > 0) {
		LLVMValueRef gi = cg_loop_begin(f, ng, &lg);
		dw_vectors(f, p, r, add_mul(f, cg_i64(f, lo), gi, 4 * vl), 4,
			   vl);
		cg_loop_end_nounroll(f, &lg);
	}
	if (rem > 0) {
		int nvec = (int)((rem + vl - 1) / vl);
		dw_vectors(f, p, r, cg_i64(f, lo + ng * 4 * vl), nvec,
			   (int)(rem - (nvec - 1) * vl));
	}
}

/* One output plane: per span of rows, its rows, per span of columns
 * their vectors, each with the taps of both spans. */
static void
dw_plane(cg_fn *f, const cplan *p, dwrow *r, LLVMValueRef y0,
	 const cspan *rs, int nr, const cspan *cs, int nc)
{
	const geo *g = &p->g;
	LLVMValueRef oh;
	cg_loop lh;

	for (int i = 0; i < nr; i++) {
		oh = LLVMBuildNSWAdd(f->b, cg_loop_begin(f, rs[i].hi - rs[i].lo,
			&lh), cg_i64(f, rs[i].lo), "");
		r->row = LLVMBuildNSWMul(f->b, oh, cg_i64(f, g->s[1] * p->sw *
							     p->wq), "");
		r->y0 = add_mul(f, y0, oh, g->out[2]);
		r->ka[0] = rs[i].ka, r->kb[0] = rs[i].kb;
		for (int j = 0; j < nc; j++) {
			r->ka[1] = cs[j].ka, r->kb[1] = cs[j].kb;
			dw_cols(f, p, r, cs[j].lo, cs[j].hi);
		}
		cg_loop_end_nounroll(f, &lh);
	}
}

bool
cg_conv_dw(cg_fn *f, const cplan *p)
{
	const geo *g = &p->g;
	LLVMValueRef bi, ci, mi, oc, pl = fptr(f, f->scratch);
	cg_loop lb, lc, lm;
	cspan *rs, *cs;
	int nr, nc;
	dwrow r;
	cg_unit u;

	if (g->kvol > 64)
		return cg_conv_generic(f);
	cg_conv_epilogue(f, &r.act, &r.lo, &r.hi, &r.res);
	rs = cg_conv_spans(p, 1, &nr);
	cs = cg_conv_spans(p, 2, &nc);
	cg_conv_zero(f, pl, cg_i64(f, 0), p->hp * p->sw * p->wq);
	bi = cg_loop_begin(f, p->nb, &lb);
	ci = cg_loop_begin(f, p->cin, &lc);
	/* a channel (its copy and its output planes) is a task's work unit
	 * (tasks.c); every task zeroed its own scratch slot above */
	cg_unit_begin(f, p->mg * g->osz * g->kvol + g->isz, &u);
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
					   cg_i64(f, g->osz), ""), rs, nr, cs,
		 nc);
	cg_loop_end(f, &lm);
	cg_unit_end(f, &u);
	cg_loop_end(f, &lc);
	cg_loop_end(f, &lb);
	free(rs);
	free(cs);
	return true;
}
