/* Non-finite inputs meeting skipped zero weights. The dense product gives
 * 0 * Inf = NaN, but a sparse kernel never multiplies by a weight that is
 * exactly zero; so after the kernel (lower_sparse_fc.c, lower_sparse_conv.c)
 * one scan of the input looks for NaN or Inf, and only when it finds one a
 * slow path marks NaN every output whose row of weights has a zero where
 * the input it meets is non-finite: the count of non-finite inputs the
 * output's whole row (or receptive field) meets differs from the count at
 * its stored columns. The -Os table kernel does the same inside its shared
 * routine (lower_sparse_compact.c). */
#include <math.h>
#include <stdlib.h>

#include "sparse.h"

LLVMValueRef
sp_nonfinite(cg_fn *f, LLVMValueRef v, LLVMTypeRef t)
{
	LLVMValueRef a = cg_intrin(f, "fabs", IR_F32, 1, &v);

	return LLVMBuildZExt(f->b, LLVMBuildFCmp(f->b, LLVMRealUEQ, a,
		cg_fconst(f, IR_F32, INFINITY), ""), t, "");
}

/* An i64 counter in a slot (promoted to a register by LLVM). */
static LLVMValueRef
counter(cg_fn *f)
{
	LLVMValueRef s = cg_alloca(f, f->c->i64);

	LLVMBuildStore(f->b, cg_i64(f, 0), s);
	return s;
}

static void
count_add(cg_fn *f, LLVMValueRef s, LLVMValueRef v)
{
	LLVMBuildStore(f->b, LLVMBuildAdd(f->b, LLVMBuildLoad2(f->b,
		f->c->i64, s, ""), v, ""), s);
}

/* y[yi] = NaN where the counts differ. */
static void
mark(cg_fn *f, LLVMValueRef y, LLVMValueRef yi, LLVMValueRef k,
     LLVMValueRef total)
{
	LLVMValueRef cur = cg_load(f, y, yi);

	cg_store(f, y, yi, LLVMBuildSelect(f->b, LLVMBuildICmp(f->b,
		LLVMIntNE, k, total, ""), cg_fconst(f, IR_F32, NAN), cur, ""));
}

/* FC: per batch row u, the non-finite inputs of the row against those at
 * each output row's stored columns. */
static void
fc_slow(cg_fn *f, const sp_layer *L, LLVMValueRef x, LLVMValueRef y,
	LLVMValueRef ptr, LLVMValueRef col)
{
	LLVMValueRef u, c, r, j, xu, K, k, lo, hi;
	cg_loop lu, lc, lr, lj;

	u = cg_loop_begin(f, L->m, &lu);
	xu = cg_gep(f, x, LLVMBuildNSWMul(f->b, u, cg_i64(f, L->cols), ""));
	K = counter(f);
	c = cg_loop_begin(f, L->cols, &lc);
	count_add(f, K, sp_nonfinite(f, cg_load(f, xu, c), f->c->i64));
	cg_loop_end(f, &lc);
	K = LLVMBuildLoad2(f->b, f->c->i64, K, "");
	r = cg_loop_begin(f, L->rows, &lr);
	lo = sp_index(f, ptr, r);
	hi = sp_index(f, ptr, LLVMBuildNSWAdd(f->b, r, cg_i64(f, 1), ""));
	k = counter(f);
	j = cg_loop_begin_dyn(f, lo, hi, &lj);
	count_add(f, k, sp_nonfinite(f, cg_load(f, xu, sp_index(f, col, j)),
				     f->c->i64));
	cg_loop_end_dyn(f, &lj);
	mark(f, y, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, u,
		cg_i64(f, L->rows), ""), r, ""), LLVMBuildLoad2(f->b, f->c->i64,
		k, ""), K);
	cg_loop_end(f, &lr);
	cg_loop_end(f, &lu);
}

/* The conv output position (n, g, oy, ox) being fixed. */
typedef struct cpos {
	LLVMValueRef n, g, oy, ox;
} cpos;

/* 1 when column c (input channel of the group, tap) of position p reads
 * a non-finite input; 0 for a tap in the padding. */
static LLVMValueRef
tap(cg_fn *f, const sp_layer *L, LLVMValueRef x, const cpos *p,
    LLVMValueRef c)
{
	int64_t khw = L->kh * L->kw, cg = L->cols / khw;
	LLVMValueRef icl = LLVMBuildUDiv(f->b, c, cg_i64(f, khw), "");
	LLVMValueRef rem = LLVMBuildURem(f->b, c, cg_i64(f, khw), "");
	LLVMValueRef ky = LLVMBuildUDiv(f->b, rem, cg_i64(f, L->kw), "");
	LLVMValueRef kx = LLVMBuildURem(f->b, rem, cg_i64(f, L->kw), "");
	LLVMValueRef iy, ix, in, ic, idx;

	iy = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, p->oy, cg_i64(f, L->sh), ""),
		LLVMBuildSub(f->b, LLVMBuildMul(f->b, ky, cg_i64(f, L->dh), ""),
			     cg_i64(f, L->pt), ""), "");
	ix = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, p->ox, cg_i64(f, L->sw), ""),
		LLVMBuildSub(f->b, LLVMBuildMul(f->b, kx, cg_i64(f, L->dw), ""),
			     cg_i64(f, L->pl), ""), "");
	/* unsigned compares: a negative coordinate is out of range too */
	in = LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntULT, iy,
		cg_i64(f, L->h), ""), LLVMBuildICmp(f->b, LLVMIntULT, ix,
		cg_i64(f, L->wd), ""), "");
	ic = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, p->g, cg_i64(f, cg), ""),
			  icl, "");
	idx = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, LLVMBuildAdd(f->b,
		LLVMBuildMul(f->b, LLVMBuildAdd(f->b, LLVMBuildMul(f->b, p->n,
		cg_i64(f, L->c), ""), ic, ""), cg_i64(f, L->h), ""), iy, ""),
		cg_i64(f, L->wd), ""), ix, "");
	idx = LLVMBuildSelect(f->b, in, idx, cg_i64(f, 0), "");
	return LLVMBuildAnd(f->b, sp_nonfinite(f, cg_load(f, x, idx),
		f->c->i64), LLVMBuildZExt(f->b, in, f->c->i64, ""), "");
}

/* Conv: per output position, the non-finite inputs of the receptive
 * field (the same for every output channel of the group); only where
 * there are some, each channel's count at its stored taps. */
static void
conv_slow(cg_fn *f, const sp_layer *L, LLVMValueRef x, LLVMValueRef y,
	  LLVMValueRef ptr, LLVMValueRef col)
{
	int64_t mg = L->rows / L->group;
	LLVMValueRef c, T, k, j, o, oc, some;
	LLVMBasicBlockRef fix, skip;
	cg_loop ln, lg, ly, lx, lc, lo, lj;
	cpos p;

	p.n = cg_loop_begin(f, L->nb, &ln);
	p.g = cg_loop_begin(f, L->group, &lg);
	p.oy = cg_loop_begin(f, L->oh, &ly);
	p.ox = cg_loop_begin(f, L->ow, &lx);
	T = counter(f);
	c = cg_loop_begin(f, L->cols, &lc);
	count_add(f, T, tap(f, L, x, &p, c));
	cg_loop_end(f, &lc);
	T = LLVMBuildLoad2(f->b, f->c->i64, T, "");
	fix = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "fix");
	skip = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "skip");
	some = LLVMBuildICmp(f->b, LLVMIntNE, T, cg_i64(f, 0), "");
	LLVMBuildCondBr(f->b, some, fix, skip);
	LLVMPositionBuilderAtEnd(f->b, fix);
	o = cg_loop_begin(f, mg, &lo);
	oc = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, p.g, cg_i64(f, mg),
						   ""), o, "");
	k = counter(f);
	j = cg_loop_begin_dyn(f, sp_index(f, ptr, oc), sp_index(f, ptr,
		LLVMBuildNSWAdd(f->b, oc, cg_i64(f, 1), "")), &lj);
	count_add(f, k, tap(f, L, x, &p, sp_index(f, col, j)));
	cg_loop_end_dyn(f, &lj);
	mark(f, y, LLVMBuildAdd(f->b, LLVMBuildMul(f->b, LLVMBuildAdd(f->b,
		LLVMBuildMul(f->b, LLVMBuildAdd(f->b, LLVMBuildMul(f->b, p.n,
		cg_i64(f, L->rows), ""), oc, ""), cg_i64(f, L->oh), ""), p.oy,
		""), cg_i64(f, L->ow), ""), p.ox, ""), LLVMBuildLoad2(f->b,
		f->c->i64, k, ""), T);
	cg_loop_end(f, &lo);
	LLVMBuildBr(f->b, skip);
	LLVMPositionBuilderAtEnd(f->b, skip);
	cg_loop_end(f, &lx);
	cg_loop_end(f, &ly);
	cg_loop_end(f, &lg);
	cg_loop_end(f, &ln);
}

/* Whether any of the n floats at x is non-finite (an or-reduction LLVM
 * vectorizes: the only cost finite inputs pay). */
static LLVMValueRef
any_nonfinite(cg_fn *f, LLVMValueRef x, int64_t n)
{
	LLVMValueRef s = cg_alloca(f, f->c->i32), i;
	cg_loop l;

	LLVMBuildStore(f->b, LLVMConstInt(f->c->i32, 0, 0), s);
	i = cg_loop_begin(f, n, &l);
	LLVMBuildStore(f->b, LLVMBuildOr(f->b, LLVMBuildLoad2(f->b, f->c->i32,
		s, ""), sp_nonfinite(f, cg_load(f, x, i), f->c->i32), ""), s);
	cg_loop_end(f, &l);
	return LLVMBuildICmp(f->b, LLVMIntNE, LLVMBuildLoad2(f->b, f->c->i32,
		s, ""), LLVMConstInt(f->c->i32, 0, 0), "");
}

void
sp_fix_nonfinite(cg_fn *f, const sp_layer *L, LLVMValueRef x0,
		 LLVMValueRef y0)
{
	bool narrow = L->cols <= 65536;
	int64_t k = 0, n = L->nnz > 0 ? L->nnz : 1;
	int32_t *ptr = nn_xmalloc((size_t)(L->rows + 1) * sizeof *ptr);
	void *col = nn_xcalloc((size_t)n, narrow ? 2 : 4);
	LLVMTypeRef pf = LLVMPointerType(f->c->f32, 0);
	LLVMValueRef fn, args[4], x, y, tp, tc;
	LLVMBasicBlockRef slow, done;
	LLVMBuilderRef b;
	cg_fn s;

	for (int64_t r = 0; r < L->rows; r++) {
		ptr[r] = (int32_t)k;
		for (int64_t c = 0; c < L->cols; c++) {
			if (sp_weight(L, r, c) == 0)
				continue;
			NN_ASSERT(k < n);
			if (narrow)
				((uint16_t *)col)[k++] = (uint16_t)c;
			else
				((int32_t *)col)[k++] = (int32_t)c;
		}
	}
	ptr[L->rows] = (int32_t)k;
	args[0] = LLVMBuildBitCast(f->b, x0, f->c->ptr, "");
	args[1] = LLVMBuildBitCast(f->b, y0, f->c->ptr, "");
	args[2] = LLVMBuildBitCast(f->b, sp_table(f, ptr, L->rows + 1, 4),
				   f->c->ptr, "");
	args[3] = LLVMBuildBitCast(f->b, sp_table(f, col, n, narrow ? 2 : 4),
				   f->c->ptr, "");
	free(ptr);
	free(col);
	/* the scan in the node function (no call, no saved registers on
	 * the fast path), the rest in a function of its own */
	slow = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "nonfinite");
	done = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "finite");
	LLVMBuildCondBr(f->b, any_nonfinite(f, x0, L->conv ? L->nb *
		L->c * L->h * L->wd : L->m * L->cols), slow, done);
	LLVMPositionBuilderAtEnd(f->b, slow);
	fn = sp_sub_begin(f, &s, 4, &b);
	x = LLVMBuildBitCast(b, LLVMGetParam(fn, 0), pf, "");
	y = LLVMBuildBitCast(b, LLVMGetParam(fn, 1), pf, "");
	tp = LLVMBuildBitCast(b, LLVMGetParam(fn, 2), LLVMPointerType(
		f->c->i32, 0), "");
	tc = LLVMBuildBitCast(b, LLVMGetParam(fn, 3), LLVMPointerType(
		narrow ? f->c->i16 : f->c->i32, 0), "");
	if (L->conv)
		conv_slow(&s, L, x, y, tp, tc);
	else
		fc_slow(&s, L, x, y, tp, tc);
	sp_sub_end(&s, b);
	LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn, args, 4,
		       "");
	LLVMBuildBr(f->b, done);
	LLVMPositionBuilderAtEnd(f->b, done);
}
