/* Sparse fully-connected kernels (Gemm, MatMul, nncc.FusedGemm with a
 * constant weight): each output row is the dot product of its non-zeros
 * with the input. The batch is the dense dimension: the input is
 * transposed to [cols, batch] so each non-zero is one broadcast weight
 * times a vector of batch rows; at batch 1 four scalar accumulators.
 * Table kernel: CSR rows padded to 4 entries, 16-bit columns, f32 values
 * or 8-bit codebook codes; unrolled kernel: the same as straight-line code
 * with the weights as constants, split into functions of SP_CHUNK entries. */
#include <stdlib.h>
#include <string.h>

#include "sparse.h"

LLVMValueRef
sp_fmuladd(cg_fn *f, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	char name[48];
	LLVMValueRef fn, args[3] = {a, b, c};

	if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
		snprintf(name, sizeof name, "llvm.fmuladd.v%uf32",
			 LLVMGetVectorSize(t));
	else
		snprintf(name, sizeof name, "llvm.fmuladd.f32");
	fn = LLVMGetNamedFunction(f->c->mod, name);
	if (!fn) {
		LLVMTypeRef p[3] = {t, t, t};
		fn = LLVMAddFunction(f->c->mod, name, LLVMFunctionType(t, p, 3,
								       0));
	}
	return LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			      args, 3, "");
}

LLVMValueRef
sp_splat(cg_fn *f, LLVMValueRef s, unsigned n)
{
	LLVMTypeRef vt;
	LLVMValueRef v;

	if (n == 1)
		return s;
	vt = LLVMVectorType(LLVMTypeOf(s), n);
	if (LLVMIsConstant(s)) {
		LLVMValueRef *e = nn_xcalloc(n, sizeof *e);
		for (unsigned i = 0; i < n; i++)
			e[i] = s;
		v = LLVMConstVector(e, n);
		free(e);
		return v;
	}
	v = LLVMBuildInsertElement(f->b, LLVMGetUndef(vt), s,
				   LLVMConstInt(f->c->i32, 0, 0), "");
	return LLVMBuildShuffleVector(f->b, v, LLVMGetUndef(vt),
		LLVMConstNull(LLVMVectorType(f->c->i32, n)), "");
}

LLVMValueRef
sp_vload(cg_fn *f, LLVMValueRef base, LLVMValueRef idx, unsigned n)
{
	LLVMValueRef p = cg_gep(f, base, idx), l;
	LLVMTypeRef vt;

	if (n == 1)
		return LLVMBuildLoad2(f->b, f->c->f32, p, "");
	vt = LLVMVectorType(f->c->f32, n);
	p = LLVMBuildBitCast(f->b, p, LLVMPointerType(vt, 0), "");
	l = LLVMBuildLoad2(f->b, vt, p, "");
	LLVMSetAlignment(l, 4);
	return l;
}

void
sp_vstore(cg_fn *f, LLVMValueRef base, LLVMValueRef idx, LLVMValueRef v)
{
	LLVMValueRef p = cg_gep(f, base, idx), s;
	LLVMTypeRef t = LLVMTypeOf(v);

	p = LLVMBuildBitCast(f->b, p, LLVMPointerType(t, 0), "");
	s = LLVMBuildStore(f->b, v, p);
	LLVMSetAlignment(s, 4);
}

LLVMValueRef
sp_table(cg_fn *f, const void *data, int64_t n, int bytes)
{
	LLVMValueRef g = cg_const_global(f->c, "sp", data,
					 (size_t)(n * bytes));
	LLVMTypeRef t = bytes == 1 ? f->c->i8 : bytes == 2 ? f->c->i16
			: f->c->i32;

	return LLVMBuildBitCast(f->b, g, LLVMPointerType(t, 0), "");
}

/* Weights of unrolled code: a constant table whose address goes through
 * an empty asm, so that LLVM cannot fold the loads back into one
 * constant-pool operand per non-zero (24 bytes of relocation each). */
LLVMValueRef
sp_weights(cg_fn *f, const float *w, int64_t n)
{
	LLVMValueRef g = cg_const_global(f->c, "spw", w, (size_t)n * 4);
	LLVMTypeRef t = LLVMFunctionType(f->c->ptr, &f->c->ptr, 1, 0);
	LLVMValueRef a = LLVMGetInlineAsm(t, "", 0, "=r,0", 4, 0, 0,
					  LLVMInlineAsmDialectATT, 0);

	g = LLVMBuildBitCast(f->b, g, f->c->ptr, "");
	g = LLVMBuildCall2(f->b, t, a, &g, 1, "");
	return LLVMBuildBitCast(f->b, g, LLVMPointerType(f->c->f32, 0), "");
}

LLVMValueRef
sp_index(cg_fn *f, LLVMValueRef t, LLVMValueRef idx)
{
	return LLVMBuildZExt(f->b, cg_load(f, t, idx), f->c->i64, "");
}

LLVMValueRef
sp_sub_begin(cg_fn *f, cg_fn *sub, int nparams, LLVMBuilderRef *b)
{
	LLVMTypeRef pt[6] = {f->c->ptr, f->c->ptr, f->c->ptr, f->c->ptr,
			     f->c->ptr, f->c->ptr};
	char name[256];
	size_t len;
	LLVMValueRef fn;

	NN_ASSERT(nparams <= 6);
	snprintf(name, sizeof name, "%s.part", LLVMGetValueName2(f->fn, &len));
	fn = LLVMAddFunction(f->c->mod, name, LLVMFunctionType(
		LLVMVoidTypeInContext(f->c->ctx), pt, (unsigned)nparams, 0));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	/* inlined into the node, its table would be a known constant again:
	 * LLVM folds the loads into constant-pool operands, one relocation
	 * each, which is what the base register avoids */
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(f->c->ctx,
		LLVMGetEnumAttributeKindForName("noinline", 8), 0));
	*sub = *f;
	sub->tph = NULL; /* a unit of f cannot be in another function */
	*b = LLVMCreateBuilderInContext(f->c->ctx);
	sub->b = *b;
	sub->fn = fn;
	LLVMPositionBuilderAtEnd(*b, LLVMAppendBasicBlockInContext(
		f->c->ctx, fn, "entry"));
	return fn;
}

void
sp_sub_end(cg_fn *sub, LLVMBuilderRef b)
{
	LLVMBuildRetVoid(b);
	LLVMDisposeBuilder(b);
	sub->b = NULL;
}

/* The non-zeros of the layer by row, columns ascending; rows padded to a
 * multiple of `pad` entries with weight 0 (code 0) on a column where the
 * row's weight is 0 (so 0 * x is what the dense product computes there,
 * NaN for an Inf x included), or, in a row without zeros, on column
 * `cols`: a zero the kernel then appends to its input (`zcol`), since a
 * pad on a column with a weight would turn an Inf into NaN. */
typedef struct csr {
	bool zcol;
	int64_t n;
	int32_t *ptr;  /* [rows + 1] */
	int64_t *col;
	float *val;
	uint8_t *code;
} csr;

static void
csr_build(const sp_layer *L, int pad, csr *s)
{
	int64_t cap = L->nnz + L->rows * pad + 1, k = 0;
	bool codes = L->w->ncodes > 0;

	s->ptr = nn_xmalloc((size_t)(L->rows + 1) * sizeof *s->ptr);
	s->col = nn_xmalloc((size_t)cap * sizeof *s->col);
	s->val = nn_xmalloc((size_t)cap * sizeof *s->val);
	s->code = nn_xmalloc((size_t)cap);
	s->zcol = false;
	for (int64_t r = 0; r < L->rows; r++) {
		int64_t zc = L->cols;
		s->ptr[r] = (int32_t)k;
		for (int64_t c = 0; c < L->cols; c++) {
			float w = sp_weight(L, r, c);
			if (w == 0) {
				zc = zc < L->cols ? zc : c;
				continue;
			}
			s->col[k] = c;
			s->val[k] = w;
			s->code[k++] = codes ? (uint8_t)sp_code(L, r, c) : 0;
		}
		s->zcol |= zc == L->cols && (k - s->ptr[r]) % pad;
		while ((k - s->ptr[r]) % pad) {
			s->col[k] = zc;
			s->val[k] = 0;
			s->code[k++] = 0; /* any finite centroid: times 0 */
		}
	}
	s->ptr[L->rows] = (int32_t)k;
	s->n = k;
}

static void
csr_free(csr *s)
{
	free(s->ptr);
	free(s->col);
	free(s->val);
	free(s->code);
}

/* y[u * rows + r] = alpha * acc[u] for the mc batch rows of the chunk. */
static void
store_row(cg_fn *f, const sp_layer *L, LLVMValueRef y, LLVMValueRef r,
	  LLVMValueRef acc)
{
	for (int64_t u = 0; u < L->mc; u++) {
		LLVMValueRef v = L->mc == 1 ? acc : LLVMBuildExtractElement(
			f->b, acc, LLVMConstInt(f->c->i32,
			(unsigned long long)u, 0), "");
		if (L->alpha != 1.0)
			v = LLVMBuildFMul(f->b, v, cg_fconst(f, IR_F32,
							     L->alpha), "");
		cg_store(f, y, LLVMBuildNSWAdd(f->b, r, cg_i64(f, u * L->rows),
					       ""), v);
	}
}

static LLVMValueRef
sum4(cg_fn *f, LLVMValueRef *a)
{
	return LLVMBuildFAdd(f->b, LLVMBuildFAdd(f->b, a[0], a[1], ""),
			     LLVMBuildFAdd(f->b, a[2], a[3], ""), "");
}

static LLVMValueRef
vzero(cg_fn *f, const sp_layer *L)
{
	LLVMTypeRef t = L->mc == 1 ? f->c->f32
			: LLVMVectorType(f->c->f32, (unsigned)L->mc);

	return LLVMConstNull(t);
}

/* Sum of the lanes of an 8-wide vector: halves added three times. */
static LLVMValueRef
hsum8(cg_fn *f, LLVMValueRef v)
{
	for (unsigned n = 4; n >= 1; n /= 2) {
		LLVMValueRef lo[4], hi[4];
		for (unsigned i = 0; i < n; i++) {
			lo[i] = LLVMConstInt(f->c->i32, i, 0);
			hi[i] = LLVMConstInt(f->c->i32, i + n, 0);
		}
		v = LLVMBuildFAdd(f->b, LLVMBuildShuffleVector(f->b, v, v,
			LLVMConstVector(lo, n), ""), LLVMBuildShuffleVector(
			f->b, v, v, LLVMConstVector(hi, n), ""), "");
	}
	return LLVMBuildExtractElement(f->b, v, LLVMConstInt(f->c->i32, 0, 0),
				       "");
}

/* Eight lanes from table t at j0: f32 weights, or codes looked up in
 * the codebook cb (a permute when it fits a register). */
static LLVMValueRef
lanes8(cg_fn *f, const sp_layer *L, LLVMValueRef t, LLVMValueRef cb,
       LLVMValueRef j0)
{
	int bits = ir_code_bits(L->w->ncodes);

	if (!cb)
		return sp_vload(f, t, j0, SP_B1);
	return cg_code_lookup(f, cb, L->w->ncodes, cg_code_vload(f, t, j0,
		SP_B1, bits), SP_B1);
}

/* Column u of the group at j0. 16-bit columns come four to a 64-bit
 * word, unpacked with shifts: two loads per group instead of eight (the
 * kernel is bound by its loads). The loads are volatile so that LLVM does
 * not narrow them back into eight. */
static LLVMValueRef
group_col(cg_fn *f, const sp_layer *L, LLVMValueRef col, LLVMValueRef j0,
	  unsigned u, LLVMValueRef *words)
{
	LLVMValueRef w;

	if (L->cols >= 65536)
		return sp_index(f, col, LLVMBuildNSWAdd(f->b, j0,
						       cg_i64(f, u), ""));
	if (u % 4 == 0) {
		LLVMValueRef p = LLVMBuildBitCast(f->b, cg_gep(f, col, j0),
			LLVMPointerType(f->c->i64, 0), "");
		p = LLVMBuildGEP2(f->b, f->c->i64, p, (LLVMValueRef[]){
			cg_i64(f, u / 4)}, 1, "");
		words[u / 4] = LLVMBuildLoad2(f->b, f->c->i64, p, "");
		LLVMSetVolatile(words[u / 4], 1);
		LLVMSetAlignment(words[u / 4], 8);
	}
	w = LLVMBuildLShr(f->b, words[u / 4], cg_i64(f, 16 * (u % 4)), "");
	return LLVMBuildAnd(f->b, w, cg_i64(f, 0xffff), "");
}

/* Batch-1 table kernel: rows padded to SP_B1 entries; each group of
 * SP_B1 non-zeros gathers its x values with scalar loads into one vector
 * (load ports, not the slow gather instruction) and does one vector FMA
 * with the group's weights: about 0.25 ns per non-zero against 0.35 for
 * scalar FMAs (measured on the 4096x4096 layer at 90%). */
static void
table_rows_b1(cg_fn *f, const sp_layer *L, LLVMValueRef ptr,
	      LLVMValueRef col, LLVMValueRef val, LLVMValueRef cb,
	      LLVMValueRef x, LLVMValueRef y)
{
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, SP_B1);
	LLVMValueRef acc = cg_alloca(f, vt), r, q, lo, hi, j0, xv, words[2];
	cg_loop lr, lq;

	r = cg_loop_begin(f, L->rows, &lr);
	LLVMBuildStore(f->b, LLVMConstNull(vt), acc);
	lo = LLVMBuildUDiv(f->b, LLVMBuildSExt(f->b, cg_load(f, ptr, r),
		f->c->i64, ""), cg_i64(f, SP_B1), "");
	hi = LLVMBuildUDiv(f->b, LLVMBuildSExt(f->b, cg_load(f, ptr,
		LLVMBuildNSWAdd(f->b, r, cg_i64(f, 1), "")), f->c->i64, ""),
		cg_i64(f, SP_B1), "");
	q = cg_loop_begin_dyn(f, lo, hi, &lq);
	j0 = LLVMBuildNSWMul(f->b, q, cg_i64(f, SP_B1), "");
	xv = LLVMGetUndef(vt);
	for (unsigned u = 0; u < SP_B1; u++)
		xv = LLVMBuildInsertElement(f->b, xv, cg_load(f, x,
			group_col(f, L, col, j0, u, words)),
			LLVMConstInt(f->c->i32, u, 0), "");
	LLVMBuildStore(f->b, sp_fmuladd(f, lanes8(f, L, val, cb, j0), xv,
		LLVMBuildLoad2(f->b, vt, acc, "")), acc);
	cg_loop_end_dyn(f, &lq);
	store_row(f, L, y, r, hsum8(f, LLVMBuildLoad2(f->b, vt, acc, "")));
	cg_loop_end(f, &lr);
}

/* Table kernel over the rows of one batch chunk: xs is the input (scalar:
 * x row; vector: the transposed chunk), y the chunk's first output row. */
static void
table_rows(cg_fn *f, const sp_layer *L, const csr *s, LLVMValueRef xs,
	   LLVMValueRef y)
{
	unsigned mc = (unsigned)L->mc;
	bool codes = L->w->ncodes > 0, narrow = L->cols < 65536;
	int bits = ir_code_bits(L->w->ncodes);
	int64_t n = s->n ? s->n : 1;
	uint16_t *c16 = NULL;
	int32_t *c32 = NULL;
	LLVMValueRef ptr, col, val, cb = NULL, acc[4], r, q, lo, hi;
	LLVMTypeRef at = LLVMTypeOf(vzero(f, L));
	cg_loop lr, lq;

	if (narrow) {
		c16 = nn_xcalloc((size_t)n, sizeof *c16);
		for (int64_t i = 0; i < s->n; i++)
			c16[i] = (uint16_t)s->col[i];
	} else {
		c32 = nn_xcalloc((size_t)n, sizeof *c32);
		for (int64_t i = 0; i < s->n; i++)
			c32[i] = (int32_t)s->col[i];
	}
	ptr = sp_table(f, s->ptr, L->rows + 1, 4);
	col = narrow ? sp_table(f, c16, n, 2) : sp_table(f, c32, n, 4);
	free(c16);
	free(c32);
	val = codes ? cg_code_table(f, s->code, n, bits)
		    : cg_f32_table(f, s->val, n);
	if (codes)
		cb = cg_codebook(f, L->w);
	if (mc == 1) {
		table_rows_b1(f, L, ptr, col, val, cb, xs, y);
		return;
	}
	for (int u = 0; u < 4; u++)
		acc[u] = cg_alloca(f, at);
	r = cg_loop_begin(f, L->rows, &lr);
	for (int u = 0; u < 4; u++)
		LLVMBuildStore(f->b, vzero(f, L), acc[u]);
	lo = LLVMBuildUDiv(f->b, LLVMBuildSExt(f->b, cg_load(f, ptr, r),
		f->c->i64, ""), cg_i64(f, 4), "");
	hi = LLVMBuildUDiv(f->b, LLVMBuildSExt(f->b, cg_load(f, ptr,
		LLVMBuildNSWAdd(f->b, r, cg_i64(f, 1), "")), f->c->i64, ""),
		cg_i64(f, 4), "");
	q = cg_loop_begin_dyn(f, lo, hi, &lq);
	for (int u = 0; u < 4; u++) {
		LLVMValueRef j = LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, q,
			cg_i64(f, 4), ""), cg_i64(f, u), "");
		LLVMValueRef c = sp_index(f, col, j), w, xv;
		w = codes ? cg_load(f, cb, cg_code_load(f, val, j, bits))
			  : cg_load(f, val, j);
		xv = sp_vload(f, xs, mc == 1 ? c : LLVMBuildNSWMul(f->b, c,
			cg_i64(f, mc), ""), mc);
		LLVMBuildStore(f->b, sp_fmuladd(f, sp_splat(f, w, mc), xv,
			LLVMBuildLoad2(f->b, at, acc[u], "")), acc[u]);
	}
	cg_loop_end_dyn(f, &lq);
	{
		LLVMValueRef a[4];
		for (int u = 0; u < 4; u++)
			a[u] = LLVMBuildLoad2(f->b, at, acc[u], "");
		store_row(f, L, y, r, sum4(f, a));
	}
	cg_loop_end(f, &lr);
}

/* Unrolled kernel: rows [r0, r1) as straight-line code in a function of
 * (xs, y, weights): offsets are immediates; the weights come from a table
 * through a base register, since constant-pool operands would cost one
 * relocation (24 bytes of object) each. With shared weights the table is
 * the codebook itself, indexed by the constant codes: no per-non-zero
 * data at all. */
static void
unrolled_part(cg_fn *f, const sp_layer *L, const csr *s, int64_t r0,
	      int64_t r1, LLVMValueRef xs, LLVMValueRef y)
{
	unsigned mc = (unsigned)L->mc;
	LLVMBuilderRef b;
	cg_fn sub;
	LLVMValueRef fn = sp_sub_begin(f, &sub, 3, &b), args[3];
	LLVMTypeRef pf = LLVMPointerType(f->c->f32, 0);
	LLVMValueRef sx = LLVMBuildBitCast(b, LLVMGetParam(fn, 0), pf, "");
	LLVMValueRef sy = LLVMBuildBitCast(b, LLVMGetParam(fn, 1), pf, "");
	LLVMValueRef sw = LLVMBuildBitCast(b, LLVMGetParam(fn, 2), pf, "");
	int32_t j0 = s->ptr[r0];
	bool codes = L->w->ncodes > 0;
	LLVMValueRef cbv[IR_MAX_CODES];

	for (int i = 0; i < L->w->ncodes; i++) /* the codebook in registers */
		cbv[i] = cg_load(&sub, sw, cg_i64(&sub, i));

	for (int64_t r = r0; r < r1; r++) {
		LLVMValueRef acc[4];
		for (int u = 0; u < 4; u++)
			acc[u] = vzero(&sub, L);
		for (int32_t j = s->ptr[r]; j < s->ptr[r + 1]; j++) {
			LLVMValueRef w = sp_splat(&sub, codes ? cbv[s->code[j]]
				: cg_load(&sub, sw, cg_i64(&sub, j - j0)), mc);
			LLVMValueRef xv = sp_vload(&sub, sx, cg_i64(&sub,
				s->col[j] * (int64_t)mc), mc);
			acc[j % 4] = sp_fmuladd(&sub, w, xv, acc[j % 4]);
		}
		store_row(&sub, L, sy, cg_i64(&sub, r), sum4(&sub, acc));
	}
	sp_sub_end(&sub, b);
	args[0] = LLVMBuildBitCast(f->b, xs, f->c->ptr, "");
	args[1] = LLVMBuildBitCast(f->b, y, f->c->ptr, "");
	args[2] = LLVMBuildBitCast(f->b, codes ? cg_codebook(f, L->w) :
		sp_weights(f, s->val + j0, s->ptr[r1] > j0 ? s->ptr[r1] - j0 :
		1), f->c->ptr, "");
	LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn, args, 3,
		       "");
}

static void
unrolled_rows(cg_fn *f, const sp_layer *L, const csr *s, LLVMValueRef xs,
	      LLVMValueRef y)
{
	int64_t r0 = 0;

	for (int64_t r = 0; r < L->rows; r++)
		if (s->ptr[r + 1] - s->ptr[r0] > SP_CHUNK && r > r0) {
			unrolled_part(f, L, s, r0, r, xs, y);
			r0 = r;
		}
	unrolled_part(f, L, s, r0, L->rows, xs, y);
}

LLVMValueRef
sp_transpose_chunk(cg_fn *f, const sp_layer *L, LLVMValueRef x0)
{
	LLVMValueRef xt = cg_alloca(f, LLVMArrayType(f->c->f32,
		(unsigned)((L->cols + 1) * L->mc))), k;
	cg_loop lk;

	xt = LLVMBuildBitCast(f->b, xt, LLVMPointerType(f->c->f32, 0), "");
	k = cg_loop_begin(f, L->cols, &lk);
	for (int64_t u = 0; u < L->mc; u++)
		cg_store(f, xt, LLVMBuildNSWAdd(f->b, LLVMBuildNSWMul(f->b, k,
			cg_i64(f, L->mc), ""), cg_i64(f, u), ""), cg_load(f, x0,
			LLVMBuildNSWAdd(f->b, k, cg_i64(f, u * L->cols), "")));
	cg_loop_end(f, &lk);
	for (int64_t u = 0; u < L->mc; u++)
		cg_store(f, xt, cg_i64(f, L->cols * L->mc + u),
			 cg_fconst(f, IR_F32, 0));
	return xt;
}

/* The batch-1 table kernel's input when a pad reads column cols (csr):
 * x and that zero. */
static LLVMValueRef
padded_copy(cg_fn *f, const sp_layer *L, LLVMValueRef x0)
{
	LLVMValueRef xc = cg_alloca(f, LLVMArrayType(f->c->f32,
		(unsigned)(L->cols + 1)));

	xc = LLVMBuildBitCast(f->b, xc, LLVMPointerType(f->c->f32, 0), "");
	cg_memcpy(f, xc, cg_i64(f, 0), x0, cg_i64(f, 0), L->cols * 4);
	cg_store(f, xc, cg_i64(f, L->cols), cg_fconst(f, IR_F32, 0));
	return xc;
}

/* y[i, j] += beta * C[i, j] (C broadcast like Gemm's). */
static void
add_bias(cg_fn *f, const sp_layer *L)
{
	const ir_node *n = f->n;
	ir_shape ys = {2, {L->m, L->rows}};
	int64_t st[IR_MAX_RANK], dims[2] = {L->m, L->rows}, yst[2];
	LLVMValueRef ivs[2], c, yi;
	cg_loop loops[2];

	if (n->op == OP_MatMul || n->nin < 3 || !n->in[2] || L->beta == 0.0)
		return;
	cg_bcast_strides(&n->in[2]->shape, &ys, st);
	yst[0] = L->rows, yst[1] = 1;
	cg_nest_begin(f, 2, dims, ivs, loops);
	c = cg_load(f, f->in[2], cg_linear(f, 2, ivs, st, 0));
	if (L->beta != 1.0)
		c = LLVMBuildFMul(f->b, c, cg_fconst(f, IR_F32, L->beta), "");
	yi = cg_linear(f, 2, ivs, yst, 0);
	cg_store(f, f->out[0], yi, LLVMBuildFAdd(f->b, cg_load(f, f->out[0],
		yi), c, ""));
	cg_nest_end(f, 2, loops);
}

void
sp_fc_product(cg_fn *f, const sp_layer *L, cg_kernel k, LLVMValueRef x,
	      LLVMValueRef y)
{
	csr s;
	cg_loop lc;
	LLVMValueRef ch, x0, y0, xs;

	csr_build(L, k != CG_KERNEL_TABLE ? 1 : L->mc == 1 ? SP_B1 : 4, &s);
	ch = cg_loop_begin(f, L->m / L->mc, &lc);
	x0 = cg_gep(f, x, LLVMBuildNSWMul(f->b, ch,
		cg_i64(f, L->mc * L->cols), ""));
	y0 = cg_gep(f, y, LLVMBuildNSWMul(f->b, ch,
		cg_i64(f, L->mc * L->rows), ""));
	xs = L->mc > 1 ? sp_transpose_chunk(f, L, x0)
	     : s.zcol ? padded_copy(f, L, x0) : x0;
	if (k == CG_KERNEL_TABLE)
		table_rows(f, L, &s, xs, y0);
	else
		unrolled_rows(f, L, &s, xs, y0);
	cg_loop_end(f, &lc);
	sp_fix_nonfinite(f, L, x, y);
	csr_free(&s);
}

bool
cg_lower_sparse_fc(cg_fn *f, const sp_layer *L, cg_kernel k)
{
	if (f->c->o->size_level && k == CG_KERNEL_TABLE && sp_compact_fc(f, L))
		return true;
	sp_fc_product(f, L, k, f->in[0], f->out[0]);
	add_bias(f, L);
	return true;
}
