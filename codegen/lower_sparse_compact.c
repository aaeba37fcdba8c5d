/* The -Os sparse fully-connected kernel: each layer is one constant blob
 * (codebook, header, folded bias, then a bitstream of Rice-coded skips
 * and fixed-width codes over the row-major weight matrix) kept in the
 * code section and walked by one routine that all such layers share;
 * size over speed (docs/kernels.md, "table under -Os"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>
#include <llvm-c/Target.h>

#include "sparse.h"

/* The blob: f32 val[nval] in reverse order, then (where the routine's
 * pointer points) the header, the packed biases (pack_bias, read forward)
 * and the stream (read backward from its end), so that the 64-bit loads
 * of both stay inside the blob without padding. Header fields are what
 * the routine uses as they are (memory operands, no decoding). */
enum {
	H_LO = 0,                /* f32: 0 for a folded Relu, else -inf */
	H_EB = 4,                /* u32: bias exponent base << 23 */
	H_K = 8, H_C = 9,        /* u8: Rice parameter, code bits */
	H_W = 10,                /* u8: 1 + k + C */
	H_SH = 11,               /* u8: 63 - k - C */
	H_BW = 12,               /* u8: bits per bias (0: no bias) */
	H_MW = 13,               /* u8: magnitude bits of a bias */
	H_SIZES = 14             /* rows, cols, the stream's end: u16, or u32
				    in a wide layer (a routine of its own) */
};
enum { S_ROWS, S_COLS, S_END };

/* Header bytes with size words of ws bytes. */
static int64_t
hdr_bytes(int ws)
{
	return H_SIZES + 3 * ws;
}

/* The decoder reads one 64-bit window per entry (from bit % 8 <= 7):
 * the unary quotient, its end, k and C bits must fit, so k is chosen
 * with max(skip >> k) + k + C <= WINDOW. */
#define WINDOW 56

/* The non-zeros in row-major order: the zeros skipped before each and its
 * code; a last hit at rows * cols ends the walk. val holds the
 * alpha-scaled centroids the codes index, or (plain weights, no code bits)
 * every weight in order. */
typedef struct hits {
	int64_t n, cap, nval;
	int64_t *skip;
	uint16_t *code;
	float *val;
	int cbits;
	bool plain;
} hits;

static void
hit_add(hits *h, int64_t skip, int code)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->skip = nn_xrealloc(h->skip, (size_t)h->cap * sizeof *h->skip);
		h->code = nn_xrealloc(h->code, (size_t)h->cap * sizeof *h->code);
	}
	h->skip[h->n] = skip;
	h->code[h->n++] = (uint16_t)code;
}

/* Bits of a code among n values: ceil(log2 n), 0 for one value. */
static int
bits_for(int64_t n)
{
	int b = 0;

	while ((1LL << b) < n)
		b++;
	return b;
}

/* Codes number the centroids the non-zeros use (the zero centroid drops
 * out: 16 centroids with zeros keep 4-bit codes). */
static void
hits_build(const sp_layer *L, hits *h)
{
	const ir_value *w = L->w;
	bool shared = w->ncodes > 0 && w->codebook && w->codes;
	int map[IR_MAX_CODES];
	int64_t last = -1;

	memset(h, 0, sizeof *h);
	memset(map, -1, sizeof map);
	h->val = nn_xmalloc((size_t)(shared ? w->ncodes : L->nnz + 1) *
			    sizeof *h->val);
	for (int64_t r = 0; r < L->rows; r++)
		for (int64_t c = 0; c < L->cols; c++) {
			float v = sp_weight(L, r, c);
			int k = shared ? sp_code(L, r, c) : 0;
			if (v == 0)
				continue;
			if (!shared) {
				NN_ASSERT(h->nval <= L->nnz);
				h->val[h->nval++] = (float)(v * L->alpha);
			} else if (map[k] < 0) {
				h->val[h->nval] = (float)(w->codebook[k] *
							  L->alpha);
				map[k] = (int)h->nval++;
			}
			hit_add(h, r * L->cols + c - last - 1, shared ? map[k]
				: 0);
			last = r * L->cols + c;
		}
	hit_add(h, L->rows * L->cols - last - 1, 0);
	h->cbits = shared ? bits_for(h->nval) : 0;
	h->plain = !shared;
}

static void
hits_free(hits *h)
{
	free(h->skip);
	free(h->code);
	free(h->val);
}

/* Bits of the stream with Rice parameter k: per hit the unary quotient
 * and its end, k remainder bits and the code. */
static int64_t
stream_bits(const hits *h, int k)
{
	int64_t n = 0;

	for (int64_t i = 0; i < h->n; i++)
		n += (h->skip[i] >> k) + 1 + k + h->cbits;
	return n;
}

/* The Rice parameter that makes the stream shortest and fits the
 * window (some k always does: C <= 9 and skips < 2^46); the feasible
 * k are the ones from the first on. */
static int
best_rice(const hits *h, int64_t *bits)
{
	int64_t mx = 0;
	int best = -1;

	for (int64_t i = 0; i < h->n; i++)
		mx = h->skip[i] > mx ? h->skip[i] : mx;
	NN_ASSERT(mx < (1LL << 46) && h->cbits <= 9);
	for (int k = 0; k <= 46; k++) {
		int64_t b;
		if ((mx >> k) + k + h->cbits > WINDOW)
			continue;
		b = stream_bits(h, k);
		if (best >= 0 && b >= *bits)
			break; /* the cost is convex in k */
		*bits = b, best = k;
	}
	return best;
}

int64_t
sp_compact_bytes(const sp_layer *L)
{
	hits h;
	int64_t bits, n;

	hits_build(L, &h);
	best_rice(&h, &bits);
	n = hdr_bytes(2) + h.nval * 4 + (bits + 7) / 8;
	/* and the biases (which a dense kernel stores too) */
	hits_free(&h);
	return n;
}

/* v (w bits) at bit *k of d, least significant bit first. */
static void
put_bits(uint8_t *d, int64_t *k, uint64_t v, int w)
{
	for (int i = 0; i < w; i++, (*k)++)
		if (v >> i & 1)
			d[*k >> 3] |= (uint8_t)(1u << (*k & 7));
}

static void
put_word(uint8_t *d, const void *v)
{
	memcpy(d, v, 4);
}

/* v (w bits) at bit *k of d, most significant bit first, bit 0 being
 * the top bit of the last byte (d holds n bytes): the backward stream. */
static void
put_bits_back(uint8_t *d, int64_t n, int64_t *k, uint64_t v, int w)
{
	for (int i = w - 1; i >= 0; i--, (*k)++)
		if (v >> i & 1)
			d[n - 1 - (*k >> 3)] |= (uint8_t)(0x80u >> (*k & 7));
}

/* Per entry: q ones and a zero (q = skip >> k), then the k low bits of
 * the skip and the code. */
static void
put_stream(uint8_t *d, int64_t n, const hits *h, int k)
{
	int64_t bit = 0;

	for (int64_t i = 0; i < h->n; i++) {
		int64_t q = h->skip[i] >> k;
		put_bits_back(d, n, &bit, ((1ull << q) - 1) << 1, (int)q + 1);
		put_bits_back(d, n, &bit, ((uint64_t)h->skip[i] & ((1ull << k) -
			1)) << h->cbits | h->code[i], k + h->cbits);
	}
}

/* Biases without the exponent bits they share: each is sign | (its bits
 * without sign - eb) << 1 in 24 + E bits, E the bits of the exponents'
 * range above the smallest (eb). Without bias no bits: every row reads a
 * 0 magnitude (the sign bit read is noise, and acc + -0 == acc). */
typedef struct packed {
	uint8_t *d;
	int64_t nbytes;
	uint32_t eb;
	int bw, mw;
} packed;

static void
pack_bias(const float *bias, int64_t rows, packed *pk)
{
	uint32_t emin = 255, emax = 0, u;
	int64_t bit = 0;

	for (int64_t r = 0; bias && r < rows; r++) {
		memcpy(&u, &bias[r], 4);
		emin = (u >> 23 & 255) < emin ? u >> 23 & 255 : emin;
		emax = (u >> 23 & 255) > emax ? u >> 23 & 255 : emax;
	}
	pk->mw = bias ? 23 + bits_for(emax - emin + 1) : 0;
	pk->bw = bias ? pk->mw + 1 : 0;
	pk->eb = bias ? emin << 23 : 0;
	pk->nbytes = (rows * pk->bw + 7) / 8;
	pk->d = nn_xcalloc((size_t)pk->nbytes, 1);
	for (int64_t r = 0; bias && r < rows; r++) {
		memcpy(&u, &bias[r], 4);
		put_bits(pk->d, &bit, (uint64_t)((u & 0x7fffffff) - pk->eb) << 1
			 | u >> 31, pk->bw);
	}
}

/* The blob of the layer (*n bytes, the header at *hdr, *wide: u32 size
 * words; the caller frees it). */
static uint8_t *
build_blob(const sp_layer *L, const hits *h, const float *bias, bool relu,
	   int64_t *n, int64_t *hdr, bool *wide)
{
	int64_t bits, sn, last;
	int k = best_rice(h, &bits);
	float lo = relu ? 0.0f : -INFINITY;
	packed pk;
	uint32_t w[3];
	int ws;
	uint8_t *d, *p;

	pack_bias(bias, L->rows, &pk);
	sn = (bits + 7) / 8;
	/* the last bias load reads 8 bytes from here: pad if past the end */
	last = (L->rows - 1) * pk.bw / 8 + 8 - pk.nbytes - sn;
	w[0] = (uint32_t)L->rows, w[1] = (uint32_t)L->cols;
	w[2] = (uint32_t)(hdr_bytes(2) + pk.nbytes + sn);
	ws = w[0] < 65536 && w[1] < 65536 && w[2] < 65536 ? 2 : 4;
	w[2] += (uint32_t)(hdr_bytes(ws) - hdr_bytes(2));
	*wide = ws == 4;
	*hdr = h->nval * 4;
	*n = *hdr + w[2] + (last > 0 ? last : 0);
	d = nn_xcalloc((size_t)*n, 1);
	p = d + *hdr;
	for (int64_t i = 0; i < h->nval; i++)
		put_word(p - 4 * (i + 1), &h->val[i]);
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < ws; b++)
			p[H_SIZES + i * ws + b] = (uint8_t)(w[i] >> 8 * b);
	put_word(p + H_LO, &lo);
	put_word(p + H_EB, &pk.eb);
	p[H_K] = (uint8_t)k;
	p[H_C] = (uint8_t)h->cbits;
	p[H_W] = (uint8_t)(1 + k + h->cbits);
	p[H_SH] = (uint8_t)(63 - k - h->cbits);
	p[H_BW] = (uint8_t)pk.bw;
	p[H_MW] = (uint8_t)pk.mw;
	memcpy(p + hdr_bytes(ws), pk.d, (size_t)pk.nbytes);
	free(pk.d);
	put_stream(p + hdr_bytes(ws) + pk.nbytes, sn, h, k);
	return d;
}

static void
add_fn_attr(cg_ctx *c, LLVMValueRef fn, const char *name)
{
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName(
		name, strlen(name)), 0));
}

/* The blob as the body of a naked function in the code section: the
 * routine reaches it pc-relative, with no relocation, no symbol and no
 * .rodata section (the bytes are never executed). */
static LLVMValueRef
text_blob(cg_ctx *c, const uint8_t *d, int64_t n)
{
	char *s = nn_xmalloc((size_t)n * 4 + 16), *q = s, name[256];
	LLVMTypeRef vt = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), NULL,
					  0, 0);
	LLVMValueRef fn, a;
	LLVMBuilderRef b = LLVMCreateBuilderInContext(c->ctx);

	q += sprintf(q, ".byte ");
	for (int64_t i = 0; i < n; i++)
		q += sprintf(q, i ? ",%u" : "%u", d[i]);
	snprintf(name, sizeof name, "%s_spc", c->name);
	fn = LLVMAddFunction(c->mod, name, vt);
	LLVMSetLinkage(fn, LLVMPrivateLinkage);
	LLVMSetAlignment(fn, 4);
	add_fn_attr(c, fn, "naked");
	add_fn_attr(c, fn, "nounwind");
	LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c->ctx, fn,
								  "data"));
	a = LLVMGetInlineAsm(vt, s, strlen(s), "", 0, 1, 0,
			     LLVMInlineAsmDialectATT, 0);
	LLVMBuildCall2(b, vt, a, NULL, 0, "");
	LLVMBuildUnreachable(b);
	LLVMDisposeBuilder(b);
	free(s);
	return LLVMConstBitCast(fn, c->ptr);
}

/* The routine's state outside its loop. */
typedef struct walk {
	cg_fn s;
	unsigned mc;
	bool plain;            /* val[hit] (else val[code]) */
	bool wide;             /* u32 size words */
	LLVMValueRef h;        /* i8* header */
	LLVMValueRef bias, st; /* i8* packed biases, stream end */
	LLVMValueRef x, y;     /* f32* */
} walk;

/* The header field at byte off, of type t, as an i64 (zero-extended;
 * floats as they are); loaded where it is used, so that it costs a
 * memory operand rather than a register held across the loop. */
static LLVMValueRef
hfield(walk *k, int off, LLVMTypeRef t)
{
	cg_fn *f = &k->s;
	LLVMValueRef p = cg_gep(f, k->h, cg_i64(f, off));

	p = LLVMBuildLoad2(f->b, t, LLVMBuildBitCast(f->b, p,
		LLVMPointerType(t, 0), ""), "");
	LLVMSetAlignment(p, 1);
	if (LLVMGetTypeKind(t) == LLVMFloatTypeKind)
		return p;
	return LLVMBuildZExt(f->b, p, f->c->i64, "");
}

static LLVMValueRef
hbyte(walk *k, int off)
{
	return hfield(k, off, k->s.c->i8);
}

static LLVMValueRef
hword(walk *k, int off)
{
	return hfield(k, off, k->s.c->i32);
}

/* Size word i (S_*). */
static LLVMValueRef
hsize(walk *k, int i)
{
	return hfield(k, H_SIZES + i * (k->wide ? 4 : 2), k->wide ? k->s.c->i32
		      : k->s.c->i16);
}

/* The low n bits of v. */
static LLVMValueRef
low_bits(cg_fn *f, LLVMValueRef v, LLVMValueRef n)
{
	return LLVMBuildAnd(f->b, v, LLVMBuildSub(f->b, LLVMBuildShl(f->b,
		cg_i64(f, 1), n, ""), cg_i64(f, 1), ""), "");
}

static LLVMValueRef
intrinsic(cg_fn *f, const char *name, LLVMTypeRef t, int n,
	  LLVMValueRef *args)
{
	LLVMTypeRef pt[2] = {t, f->c->i1};
	LLVMValueRef fn = LLVMGetNamedFunction(f->c->mod, name);

	if (!fn)
		fn = LLVMAddFunction(f->c->mod, name, LLVMFunctionType(t, pt,
			(unsigned)n, 0));
	return LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			      args, (unsigned)n, "");
}

/* The 64 bits at byte base + at (a little-endian load; swapped on
 * big-endian targets). */
static LLVMValueRef
load64(walk *k, LLVMValueRef base, LLVMValueRef at)
{
	cg_fn *f = &k->s;
	LLVMValueRef p = cg_gep(f, base, at), e;
	LLVMTargetDataRef td = LLVMGetModuleDataLayout(f->c->mod);

	p = LLVMBuildBitCast(f->b, p, LLVMPointerType(f->c->i64, 0), "");
	e = LLVMBuildLoad2(f->b, f->c->i64, p, "");
	LLVMSetAlignment(e, 1);
	if (LLVMByteOrder(td) == LLVMBigEndian)
		e = intrinsic(f, "llvm.bswap.i64", f->c->i64, 1, &e);
	return e;
}

/* The biases from bit on, in the low bits. */
static LLVMValueRef
window(walk *k, LLVMValueRef bit)
{
	cg_fn *f = &k->s;

	return LLVMBuildLShr(f->b, load64(k, k->bias, LLVMBuildLShr(f->b, bit,
		cg_i64(f, 3), "")), LLVMBuildAnd(f->b, bit, cg_i64(f, 7), ""),
		"");
}

/* The backward stream from bit on, in the high bits. */
static LLVMValueRef
window_back(walk *k, LLVMValueRef bit)
{
	cg_fn *f = &k->s;

	return LLVMBuildShl(f->b, load64(k, k->st, LLVMBuildSub(f->b,
		cg_i64(f, -8), LLVMBuildLShr(f->b, bit, cg_i64(f, 3), ""), "")),
		LLVMBuildAnd(f->b, bit, cg_i64(f, 7), ""), "");
}

/* The bias of row r (pack_bias). */
static LLVMValueRef
row_bias(walk *k, LLVMValueRef r)
{
	cg_fn *f = &k->s;
	LLVMValueRef v = window(k, LLVMBuildMul(f->b, r,
		hbyte(k, H_BW), ""));
	LLVMValueRef m = LLVMBuildAdd(f->b, low_bits(f, LLVMBuildLShr(f->b, v,
		cg_i64(f, 1), ""), hbyte(k, H_MW)), hword(k, H_EB), "");

	m = LLVMBuildOr(f->b, LLVMBuildTrunc(f->b, m, f->c->i32, ""),
		LLVMBuildTrunc(f->b, LLVMBuildShl(f->b, v, cg_i64(f, 31), ""),
			       f->c->i32, ""), "");
	return sp_splat(f, LLVMBuildBitCast(f->b, m, f->c->f32, ""), k->mc);
}

static LLVMValueRef
vzero(walk *k)
{
	return LLVMConstNull(k->mc == 1 ? k->s.c->f32
			     : LLVMVectorType(k->s.c->f32, k->mc));
}

/* y[u * rows + r] = max(acc[u] + bias, lo): the bias is decoded once,
 * here, and the accumulators start at 0. */
static void
row_store(walk *k, LLVMValueRef r, LLVMValueRef acc)
{
	cg_fn *f = &k->s;
	LLVMValueRef lo = sp_splat(f, hfield(k, H_LO, f->c->f32), k->mc);

	acc = LLVMBuildFAdd(f->b, acc, row_bias(k, r), "");
	acc = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLT, acc, lo,
		""), lo, acc, "");
	for (unsigned u = 0; u < k->mc; u++)
		cg_store(f, k->y, LLVMBuildAdd(f->b, r, LLVMBuildMul(f->b,
			cg_i64(f, u), hsize(k, S_ROWS), ""), ""), k->mc == 1
			? acc : LLVMBuildExtractElement(f->b, acc,
				LLVMConstInt(f->c->i32, u, 0), ""));
}

typedef struct state {
	LLVMValueRef bit, p, r, base, acc, vp;
} state;

static LLVMBasicBlockRef
block(walk *k, const char *name)
{
	return LLVMAppendBasicBlockInContext(k->s.c->ctx, k->s.fn, name);
}

static void
phis(walk *k, state *s, LLVMTypeRef at)
{
	cg_fn *f = &k->s;

	s->bit = LLVMBuildPhi(f->b, f->c->i64, "bit");
	s->p = LLVMBuildPhi(f->b, f->c->i64, "p");
	s->r = LLVMBuildPhi(f->b, f->c->i64, "r");
	s->base = LLVMBuildPhi(f->b, f->c->i64, "base");
	s->acc = LLVMBuildPhi(f->b, at, "acc");
	s->vp = LLVMBuildPhi(f->b, LLVMPointerType(f->c->f32, 0), "vp");
}

static void
incoming(const state *to, const state *v, LLVMBasicBlockRef from)
{
	LLVMAddIncoming(to->bit, (LLVMValueRef *)&v->bit, &from, 1);
	LLVMAddIncoming(to->p, (LLVMValueRef *)&v->p, &from, 1);
	LLVMAddIncoming(to->r, (LLVMValueRef *)&v->r, &from, 1);
	LLVMAddIncoming(to->base, (LLVMValueRef *)&v->base, &from, 1);
	LLVMAddIncoming(to->acc, (LLVMValueRef *)&v->acc, &from, 1);
	LLVMAddIncoming(to->vp, (LLVMValueRef *)&v->vp, &from, 1);
}

/* Rows that end before pos are stored (the routine returns after the
 * last one); then the hit at pos adds its value times x. */
static void
walk_hit(walk *k, const state *s, LLVMValueRef pos, LLVMValueRef code,
	 LLVMBasicBlockRef loop, const state *ls)
{
	cg_fn *f = &k->s;
	LLVMBasicBlockRef fl = block(k, "flush"), st = block(k, "store"),
			  nx = block(k, "nextrow"), hit = block(k, "hit"),
			  ex = block(k, "exit"), from = LLVMGetInsertBlock(f->b);
	LLVMValueRef r, base, acc, end, r1, acc1, w;
	state n = *s;

	LLVMBuildBr(f->b, fl);
	LLVMPositionBuilderAtEnd(f->b, fl);
	r = LLVMBuildPhi(f->b, f->c->i64, "r");
	base = LLVMBuildPhi(f->b, f->c->i64, "base");
	acc = LLVMBuildPhi(f->b, LLVMTypeOf(s->acc), "acc");
	LLVMAddIncoming(r, (LLVMValueRef *)&s->r, &from, 1);
	LLVMAddIncoming(base, (LLVMValueRef *)&s->base, &from, 1);
	LLVMAddIncoming(acc, (LLVMValueRef *)&s->acc, &from, 1);
	end = LLVMBuildAdd(f->b, base, hsize(k, S_COLS), "");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, pos, end, ""),
			hit, st);
	LLVMPositionBuilderAtEnd(f->b, st);
	row_store(k, r, acc);
	r1 = LLVMBuildAdd(f->b, r, cg_i64(f, 1), "");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntEQ, r1, hsize(k,
		S_ROWS), ""), ex, nx);
	LLVMPositionBuilderAtEnd(f->b, nx);
	acc1 = vzero(k);
	LLVMBuildBr(f->b, fl);
	LLVMAddIncoming(r, &r1, &nx, 1);
	LLVMAddIncoming(base, &end, &nx, 1);
	LLVMAddIncoming(acc, &acc1, &nx, 1);
	LLVMPositionBuilderAtEnd(f->b, ex);
	LLVMBuildRetVoid(f->b);
	LLVMPositionBuilderAtEnd(f->b, hit);
	w = cg_load(f, s->vp, LLVMBuildNot(f->b, code, ""));
	n.acc = sp_fmuladd(f, sp_splat(f, w, k->mc), sp_vload(f, k->x,
		LLVMBuildMul(f->b, LLVMBuildSub(f->b, pos, base, ""),
			     cg_i64(f, k->mc), ""), k->mc), acc);
	if (k->plain)
		n.vp = cg_gep(f, s->vp, cg_i64(f, -1));
	n.p = LLVMBuildAdd(f->b, pos, cg_i64(f, 1), "");
	n.r = r, n.base = base;
	LLVMBuildBr(f->b, loop);
	incoming(ls, &n, hit);
}

/* Decodes one entry: unary quotient q (leading ones), then k remainder
 * and C code bits as one field f; then walk_hit. */
static void
walk_body(walk *k, LLVMValueRef acc0)
{
	cg_fn *f = &k->s;
	LLVMBasicBlockRef entry = LLVMGetInsertBlock(f->b), loop = block(k,
		"entry");
	LLVMValueRef e, q, fl, cb, args[2], z = cg_i64(f, 0), skip;
	state s, n, init = {z, z, z, z, acc0, LLVMBuildBitCast(f->b, k->h,
		LLVMPointerType(f->c->f32, 0), "")};

	LLVMBuildBr(f->b, loop);
	LLVMPositionBuilderAtEnd(f->b, loop);
	phis(k, &s, LLVMTypeOf(acc0));
	incoming(&s, &init, entry);
	e = window_back(k, s.bit);
	args[0] = LLVMBuildNot(f->b, e, "");
	args[1] = LLVMConstInt(f->c->i1, 0, 0);
	q = intrinsic(f, "llvm.ctlz.i64", f->c->i64, 2, args);
	e = LLVMBuildShl(f->b, e, LLVMBuildAdd(f->b, q, cg_i64(f, 1), ""), "");
	fl = LLVMBuildLShr(f->b, LLVMBuildLShr(f->b, e, cg_i64(f, 1), ""),
			   hbyte(k, H_SH), "");
	cb = hbyte(k, H_C);
	skip = LLVMBuildOr(f->b, LLVMBuildShl(f->b, q, hbyte(k, H_K), ""),
			   LLVMBuildLShr(f->b, fl, cb, ""), "");
	n = s;
	n.bit = LLVMBuildAdd(f->b, LLVMBuildAdd(f->b, s.bit, q, ""),
			     hbyte(k, H_W), "");
	walk_hit(k, &n, LLVMBuildAdd(f->b, s.p, skip, ""), low_bits(f, fl, cb),
		 loop, &s);
}

/* A private function (blob header, x, y) -> void of the given name, its
 * builder in k->s at its entry and k->h, k->x, k->y its parameters. */
static LLVMValueRef
begin_fn(cg_ctx *c, walk *k, const char *name)
{
	LLVMTypeRef pt[3] = {c->ptr, c->ptr, c->ptr};
	LLVMTypeRef pf = LLVMPointerType(c->f32, 0);
	LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		LLVMVoidTypeInContext(c->ctx), pt, 3, 0));

	LLVMSetLinkage(fn, LLVMPrivateLinkage);
	add_fn_attr(c, fn, "nounwind");
	k->s.c = c;
	k->s.fn = fn;
	k->s.b = LLVMCreateBuilderInContext(c->ctx);
	LLVMPositionBuilderAtEnd(k->s.b, LLVMAppendBasicBlockInContext(c->ctx,
		fn, "start"));
	k->h = LLVMGetParam(fn, 0);
	k->x = LLVMBuildBitCast(k->s.b, LLVMGetParam(fn, 1), pf, "");
	k->y = LLVMBuildBitCast(k->s.b, LLVMGetParam(fn, 2), pf, "");
	return fn;
}

/* The walk (blob header, x, y) shared by the layers of one batch vector
 * width mc and weight kind (plain or codes): x is [cols, mc] (mc > 1:
 * transposed), y [mc, rows]. */
static LLVMValueRef
walk_fn(cg_ctx *c, unsigned mc, bool plain, bool wide, const char *name)
{
	LLVMValueRef fn;
	walk k = {.mc = mc, .plain = plain, .wide = wide};

	fn = begin_fn(c, &k, name);
	add_fn_attr(c, fn, "noinline");
	k.bias = cg_gep(&k.s, k.h, cg_i64(&k.s, hdr_bytes(wide ? 4 : 2)));
	k.st = cg_gep(&k.s, k.h, hsize(&k, S_END));
	walk_body(&k, vzero(&k));
	LLVMDisposeBuilder(k.s.b);
	return fn;
}

static void
call3(cg_fn *f, LLVMValueRef fn, LLVMValueRef a, LLVMValueRef b,
      LLVMValueRef y)
{
	LLVMValueRef args[3] = {a, LLVMBuildBitCast(f->b, b, f->c->ptr, ""),
				LLVMBuildBitCast(f->b, y, f->c->ptr, "")};

	LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn, args, 3,
		       "");
}

/* Ends a loop of walk_nonfinite as a scalar loop: vector code would cost
 * more bytes than the routine, and constant-pool sections. */
static void
loop_end_scalar(cg_fn *f, cg_loop *l)
{
	LLVMContextRef ctx = f->c->ctx;
	LLVMMetadataRef tmp = LLVMTemporaryMDNode(ctx, NULL, 0), ops[2], loop;
	LLVMMetadataRef v[2] = {LLVMMDStringInContext2(ctx,
		"llvm.loop.vectorize.enable", 26), LLVMValueAsMetadata(
		LLVMConstInt(f->c->i1, 0, 0))};

	cg_loop_end_dyn(f, l);
	ops[0] = tmp;
	ops[1] = LLVMMDNodeInContext2(ctx, v, 2);
	loop = LLVMMDNodeInContext2(ctx, ops, 2);
	LLVMMetadataReplaceAllUsesWith(tmp, loop);
	LLVMSetMetadata(LLVMGetBasicBlockTerminator(LLVMGetIncomingBlock(l->iv,
		1)), LLVMGetMDKindIDInContext(ctx, "llvm.loop", 9),
		LLVMMetadataAsValue(ctx, loop));
}

/* Whether the f32 whose bits are v (i32) is NaN (above) or +-Inf: in
 * integers, so that no constant pool is needed. */
static LLVMValueRef
bits_over(cg_fn *f, LLVMValueRef v, LLVMIntPredicate p)
{
	return LLVMBuildICmp(f->b, p, LLVMBuildAnd(f->b, v, LLVMConstInt(
		f->c->i32, 0x7fffffff, 0), ""), LLVMConstInt(f->c->i32,
		0x7f800000, 0), "");
}

/* A skipped zero weight meeting a non-finite input gives NaN, as in the
 * dense product: for each non-finite x[i] (i = col * mc + u), the walk
 * on an input that is 0 but NaN at i finds NaN exactly in the rows that
 * store a weight at col; every other row of batch row u becomes NaN.
 * Slow (one walk per non-finite input), but only a scan when x is all
 * finite, and few bytes; the copies live on the stack. x and y are
 * handled as i32 bits. */
static void
walk_nonfinite(walk *k, LLVMValueRef wfn)
{
	cg_fn *f = &k->s;
	LLVMTypeRef pi = LLVMPointerType(f->c->i32, 0);
	LLVMValueRef n, rows, buf, yp, i, r, yi, nan, zero, x, y, any;
	LLVMBasicBlockRef slow, hit, next, done;
	cg_loop l, lr;

	x = LLVMBuildBitCast(f->b, k->x, pi, "");
	y = LLVMBuildBitCast(f->b, k->y, pi, "");
	nan = LLVMConstInt(f->c->i32, 0x7fc00000, 0);
	zero = LLVMConstInt(f->c->i32, 0, 0);
	rows = hsize(k, S_ROWS);
	n = LLVMBuildMul(f->b, hsize(k, S_COLS), cg_i64(f, k->mc), "");
	slow = block(k, "nonfinite");
	done = block(k, "finite");
	/* |x| + 2^23 (as bits) reaches the sign bit for NaN and Inf: an
	 * or over x, no branch per element */
	any = cg_alloca(f, f->c->i32);
	LLVMBuildStore(f->b, zero, any);
	i = cg_loop_begin_dyn(f, cg_i64(f, 0), n, &l);
	LLVMBuildStore(f->b, LLVMBuildOr(f->b, LLVMBuildLoad2(f->b, f->c->i32,
		any, ""), LLVMBuildAdd(f->b, LLVMBuildAnd(f->b, cg_load(f, x, i),
		LLVMConstInt(f->c->i32, 0x7fffffff, 0), ""), LLVMConstInt(
		f->c->i32, 0x00800000, 0), ""), ""), any);
	loop_end_scalar(f, &l);
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, LLVMBuildLoad2(
		f->b, f->c->i32, any, ""), zero, ""), slow, done);
	LLVMPositionBuilderAtEnd(f->b, slow);
	buf = LLVMBuildArrayAlloca(f->b, f->c->i32, LLVMBuildAdd(f->b, n,
		LLVMBuildMul(f->b, rows, cg_i64(f, k->mc), ""), ""), "");
	yp = cg_gep(f, buf, n);
	i = cg_loop_begin_dyn(f, cg_i64(f, 0), n, &l);
	/* volatile: kept a loop, not a call to memset */
	LLVMSetVolatile(LLVMBuildStore(f->b, zero, cg_gep(f, buf, i)), 1);
	loop_end_scalar(f, &l);
	i = cg_loop_begin_dyn(f, cg_i64(f, 0), n, &l);
	hit = block(k, "hit");
	next = block(k, "next");
	LLVMBuildCondBr(f->b, bits_over(f, cg_load(f, x, i), LLVMIntUGE), hit,
			next);
	LLVMPositionBuilderAtEnd(f->b, hit);
	cg_store(f, buf, i, nan);
	call3(f, wfn, k->h, buf, yp);
	cg_store(f, buf, i, zero);
	r = cg_loop_begin_dyn(f, cg_i64(f, 0), rows, &lr);
	yi = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, LLVMBuildURem(f->b, i,
		cg_i64(f, k->mc), ""), rows, ""), r, "");
	cg_store(f, y, yi, LLVMBuildSelect(f->b, bits_over(f, cg_load(f, yp,
		yi), LLVMIntUGT), cg_load(f, y, yi), nan, ""));
	loop_end_scalar(f, &lr);
	LLVMBuildBr(f->b, next);
	LLVMPositionBuilderAtEnd(f->b, next);
	loop_end_scalar(f, &l);
	LLVMBuildBr(f->b, done);
	LLVMPositionBuilderAtEnd(f->b, done);
	LLVMBuildRetVoid(f->b);
}

/* The routine the layers call: the walk, then walk_nonfinite. */
static LLVMValueRef
routine(cg_ctx *c, unsigned mc, bool plain, bool wide)
{
	char name[256], wname[272];
	LLVMValueRef fn, wfn;
	walk k = {.mc = mc, .plain = plain, .wide = wide};

	snprintf(name, sizeof name, "%s_spfc%u%s%s", c->name, mc, plain ? "p"
		 : "", wide ? "w" : "");
	if ((fn = LLVMGetNamedFunction(c->mod, name)))
		return fn;
	snprintf(wname, sizeof wname, "%s.walk", name);
	wfn = walk_fn(c, mc, plain, wide, wname);
	fn = begin_fn(c, &k, name);
	call3(&k.s, wfn, k.h, k.x, k.y);
	walk_nonfinite(&k, wfn);
	LLVMDisposeBuilder(k.s.b);
	return fn;
}

/* beta * C as one value per output row, when C is a constant that does
 * not vary along the batch (*bias NULL: no bias); false otherwise. */
static bool
fold_bias(const sp_layer *L, float **bias)
{
	const ir_node *n = L->n;
	const ir_value *cv = n->nin > 2 ? n->in[2] : NULL;
	ir_shape ys = {2, {L->m, L->rows}};
	int64_t st[IR_MAX_RANK];

	*bias = NULL;
	if (n->op == OP_MatMul || !cv || L->beta == 0.0)
		return true;
	if (!cv->data || cv->dtype != IR_F32 || cv->def || cv->is_input)
		return false;
	cg_bcast_strides(&cv->shape, &ys, st);
	if (L->m > 1 && st[0] != 0)
		return false;
	*bias = nn_xmalloc((size_t)L->rows * sizeof **bias);
	for (int64_t r = 0; r < L->rows; r++)
		(*bias)[r] = (float)(L->beta *
				     ((const float *)cv->data)[r * st[1]]);
	return true;
}

/* A fused Relu with no residual add: the routine applies it. */
static bool
own_relu(const ir_node *n)
{
	const char *a = ir_attr_str(n, "activation", NULL);

	return n->op == OP_FusedGemm && a && !strcmp(a, "Relu") &&
	       !(n->nin > 3 && n->in[3]);
}

bool
sp_compact_fc(cg_fn *f, const sp_layer *L)
{
	cg_ctx *c = f->c;
	float *bias;
	bool relu = own_relu(L->n), plain, wide;
	hits h;
	int64_t n, hdr;
	uint8_t *d;
	LLVMValueRef g, fn, args[3], ch;
	cg_loop lc;

	if (!fold_bias(L, &bias))
		return false;
	hits_build(L, &h);
	d = build_blob(L, &h, bias, relu, &n, &hdr, &wide);
	plain = h.plain;
	hits_free(&h);
	free(bias);
	g = text_blob(c, d, n);
	free(d);
	fn = routine(c, (unsigned)L->mc, plain, wide);
	ch = cg_loop_begin(f, L->m / L->mc, &lc);
	args[0] = cg_gep(f, g, cg_i64(f, hdr));
	args[1] = cg_gep(f, f->in[0], LLVMBuildMul(f->b, ch,
		cg_i64(f, L->mc * L->cols), ""));
	args[2] = LLVMBuildBitCast(f->b, cg_gep(f, f->out[0], LLVMBuildMul(
		f->b, ch, cg_i64(f, L->mc * L->rows), "")), c->ptr, "");
	if (L->mc > 1)
		args[1] = sp_transpose_chunk(f, L, args[1]);
	args[1] = LLVMBuildBitCast(f->b, args[1], c->ptr, "");
	LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn, args, 3,
		       "");
	cg_loop_end(f, &lc);
	f->epi_done = relu;
	/* the layer is one call: let it inline into the run function */
	LLVMRemoveEnumAttributeAtIndex(f->fn, LLVMAttributeFunctionIndex,
		LLVMGetEnumAttributeKindForName("noinline", 8));
	return true;
}
