/* The -Os sparse fully-connected kernel: each layer is one constant blob
 * (header, folded bias, codebook, then a bitstream of (skip, code)
 * entries over the row-major weight matrix) walked by one routine that
 * all such layers share; size over speed (docs/kernels.md). */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Target.h>

#include "sparse.h"

/* The blob: u32 rows, cols, conf, nval; f32 bias[rows] when CF_BIAS;
 * f32 val[nval]; the stream, 3 bytes of slack for its 32-bit loads.
 * conf: skip bits | code bits << 8 | flags. */
enum { CF_RELU = 1 << 16, CF_PLAIN = 1 << 17, CF_BIAS = 1 << 18 };
#define HDR_BYTES 16
#define MAX_SKIP_BITS 8

/* The non-zeros in row-major order: the zeros skipped before each and its
 * code, 1-based (0 marks an escape entry); a last hit at rows * cols ends
 * the walk. val holds the alpha-scaled centroids the codes index, or
 * (plain weights, code always 1) every weight in order. */
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

static int
bits_for(int64_t n)
{
	int b = 1;

	while ((1LL << b) < n)
		b++;
	return b;
}

/* Codes: the centroids the non-zeros use, renumbered from 1 so that the
 * zero centroid costs nothing and code 0 is free for escapes; K = 16
 * with zeros keeps 4-bit codes. */
static void
hits_build(const sp_layer *L, hits *h)
{
	const ir_value *w = L->w;
	bool shared = w->ncodes > 0 && w->codebook && w->codes;
	int map[IR_MAX_CODES] = {0};
	int64_t last = -1;

	memset(h, 0, sizeof *h);
	h->val = nn_xmalloc((size_t)(shared ? w->ncodes : L->nnz + 1) *
			    sizeof *h->val);
	for (int64_t r = 0; r < L->rows; r++)
		for (int64_t c = 0; c < L->cols; c++) {
			float v = sp_weight(L, r, c);
			int k;
			if (v == 0)
				continue;
			if (!shared) {
				NN_ASSERT(h->nval <= L->nnz);
				h->val[h->nval++] = (float)(v * L->alpha);
				k = 1;
			} else if (!(k = map[sp_code(L, r, c)])) {
				h->val[h->nval] = (float)(w->codebook[
					sp_code(L, r, c)] * L->alpha);
				k = map[sp_code(L, r, c)] = (int)++h->nval;
			}
			hit_add(h, r * L->cols + c - last - 1, k);
			last = r * L->cols + c;
		}
	hit_add(h, L->rows * L->cols - last - 1, 1);
	h->cbits = shared ? bits_for(h->nval + 1) : 1;
	h->plain = !shared;
}

static void
hits_free(hits *h)
{
	free(h->skip);
	free(h->code);
	free(h->val);
}

/* Escape entries before a skip of s with g skip bits: each advances
 * (field + 1) << g, so one covers skips up to 2^2g + 2^g - 1. */
static int64_t
escapes(int64_t s, int g)
{
	return s < (1LL << g) ? 0
	       : (s - (1LL << g) + (1LL << 2 * g)) >> 2 * g;
}

static int64_t
stream_bits(const hits *h, int g)
{
	int64_t n = 0;

	for (int64_t i = 0; i < h->n; i++)
		n += 1 + escapes(h->skip[i], g);
	return n * (g + h->cbits);
}

/* The skip width that makes the stream shortest. */
static int
best_skip_bits(const hits *h, int64_t *bits)
{
	int best = 0;

	*bits = stream_bits(h, 0);
	for (int g = 1; g <= MAX_SKIP_BITS; g++) {
		int64_t b = stream_bits(h, g);
		if (b < *bits)
			*bits = b, best = g;
	}
	return best;
}

int64_t
sp_compact_bytes(const sp_layer *L)
{
	hits h;
	int64_t bits, n;

	hits_build(L, &h);
	best_skip_bits(&h, &bits);
	n = HDR_BYTES + h.nval * 4 + (bits + 7) / 8 + 3;
	hits_free(&h);
	return n;
}

/* v (w bits) at bit k of d, least significant bit first. */
static void
put_bits(uint8_t *d, int64_t *k, uint32_t v, int w)
{
	for (int i = 0; i < w; i++, (*k)++)
		if (v >> i & 1)
			d[*k >> 3] |= (uint8_t)(1u << (*k & 7));
}

static void
put_u32(uint8_t *d, uint32_t v)
{
	memcpy(d, &v, 4);
}

/* The blob of the layer (*n bytes; the caller frees it). */
static uint8_t *
build_blob(const sp_layer *L, const hits *h, const float *bias,
	   uint32_t flags, int64_t *n)
{
	int64_t bits, k = 0;
	int g = best_skip_bits(h, &bits);
	int64_t nb = bias ? L->rows : 0, s0 = HDR_BYTES + (nb + h->nval) * 4;
	uint8_t *d;

	*n = s0 + (bits + 7) / 8 + 3;
	d = nn_xcalloc((size_t)*n, 1);
	put_u32(d, (uint32_t)L->rows);
	put_u32(d + 4, (uint32_t)L->cols);
	put_u32(d + 8, (uint32_t)(g | h->cbits << 8) | flags);
	put_u32(d + 12, (uint32_t)h->nval);
	if (bias)
		memcpy(d + HDR_BYTES, bias, (size_t)nb * 4);
	memcpy(d + HDR_BYTES + nb * 4, h->val, (size_t)h->nval * 4);
	for (int64_t i = 0; i < h->n; i++) {
		int64_t s = h->skip[i];
		while (s >= (1LL << g)) {
			int64_t a = s >> g < (1LL << g) ? s >> g : 1LL << g;
			put_bits(d + s0, &k, (uint32_t)(a - 1), g + h->cbits);
			s -= a << g;
		}
		put_bits(d + s0, &k, (uint32_t)(s | (int64_t)h->code[i] << g),
			 g + h->cbits);
	}
	NN_ASSERT(k == bits);
	return d;
}

/* The routine's values read from the header (i64 unless said). */
typedef struct walk {
	cg_fn s;
	unsigned mc;
	LLVMValueRef rows, cols, g, w, gmask, cmask, plain, hb;
	LLVMValueRef relu;           /* i1 */
	LLVMValueRef bias, val, st;  /* f32*, f32*, i8* */
	LLVMValueRef x, y;           /* f32* */
} walk;

static LLVMValueRef
field(cg_fn *f, LLVMValueRef conf, int shift, unsigned long long mask)
{
	return LLVMBuildAnd(f->b, LLVMBuildLShr(f->b, conf, cg_i64(f, shift),
		""), cg_i64(f, (int64_t)mask), "");
}

static LLVMValueRef
mask_of(cg_fn *f, LLVMValueRef bits)
{
	return LLVMBuildSub(f->b, LLVMBuildShl(f->b, cg_i64(f, 1), bits, ""),
			    cg_i64(f, 1), "");
}

static void
read_header(walk *k, LLVMValueRef blob)
{
	cg_fn *f = &k->s;
	LLVMTypeRef pf = LLVMPointerType(f->c->f32, 0);
	LLVMValueRef h = LLVMBuildBitCast(f->b, blob, LLVMPointerType(
		f->c->i32, 0), ""), conf, nval, cbits;

	k->rows = sp_index(f, h, cg_i64(f, 0));
	k->cols = sp_index(f, h, cg_i64(f, 1));
	conf = sp_index(f, h, cg_i64(f, 2));
	nval = sp_index(f, h, cg_i64(f, 3));
	k->g = field(f, conf, 0, 255);
	cbits = field(f, conf, 8, 255);
	k->w = LLVMBuildAdd(f->b, k->g, cbits, "");
	k->gmask = mask_of(f, k->g);
	k->cmask = mask_of(f, cbits);
	k->relu = LLVMBuildICmp(f->b, LLVMIntNE, field(f, conf, 16, 1),
				cg_i64(f, 0), "");
	k->plain = field(f, conf, 17, 1);
	k->hb = field(f, conf, 18, 1);
	k->bias = LLVMBuildBitCast(f->b, cg_gep(f, blob, cg_i64(f, HDR_BYTES)),
				   pf, "");
	k->val = cg_gep(f, k->bias, LLVMBuildMul(f->b, k->rows, k->hb, ""));
	k->st = LLVMBuildBitCast(f->b, cg_gep(f, k->val, nval), f->c->ptr,
				 "");
}

/* The accumulator of row r: its bias (when the blob has one) or 0. */
static LLVMValueRef
row_start(walk *k, LLVMValueRef r)
{
	cg_fn *f = &k->s;
	LLVMValueRef b = cg_load(f, k->bias, LLVMBuildMul(f->b, r, k->hb, ""));

	b = LLVMBuildSelect(f->b, LLVMBuildTrunc(f->b, k->hb, f->c->i1, ""), b,
			    LLVMConstReal(f->c->f32, 0), "");
	return sp_splat(f, b, k->mc);
}

/* y[u * rows + r] = act(acc[u]). */
static void
row_store(walk *k, LLVMValueRef r, LLVMValueRef acc)
{
	cg_fn *f = &k->s;
	LLVMValueRef z = LLVMConstNull(LLVMTypeOf(acc));
	LLVMValueRef neg = LLVMBuildFCmp(f->b, LLVMRealOLT, acc, z, "");

	neg = LLVMBuildAnd(f->b, neg, k->mc == 1 ? k->relu
			   : sp_splat(f, k->relu, k->mc), "");
	acc = LLVMBuildSelect(f->b, neg, z, acc, "");
	for (unsigned u = 0; u < k->mc; u++)
		cg_store(f, k->y, LLVMBuildAdd(f->b, r, LLVMBuildMul(f->b,
			cg_i64(f, u), k->rows, ""), ""), k->mc == 1 ? acc
			: LLVMBuildExtractElement(f->b, acc, LLVMConstInt(
				f->c->i32, u, 0), ""));
}

/* The next w-bit entry at bit offset bit: a 32-bit load (little-endian
 * stream; swapped on big-endian targets) shifted and masked. */
static LLVMValueRef
entry_at(walk *k, LLVMValueRef bit)
{
	cg_fn *f = &k->s;
	LLVMValueRef p = cg_gep(f, k->st, LLVMBuildLShr(f->b, bit,
		cg_i64(f, 3), "")), e;
	LLVMTargetDataRef td = LLVMGetModuleDataLayout(f->c->mod);

	p = LLVMBuildBitCast(f->b, p, LLVMPointerType(f->c->i32, 0), "");
	e = LLVMBuildLoad2(f->b, f->c->i32, p, "");
	LLVMSetAlignment(e, 1);
	if (LLVMByteOrder(td) == LLVMBigEndian) {
		LLVMValueRef fn = LLVMGetNamedFunction(f->c->mod,
						       "llvm.bswap.i32");
		if (!fn)
			fn = LLVMAddFunction(f->c->mod, "llvm.bswap.i32",
				LLVMFunctionType(f->c->i32, &f->c->i32, 1, 0));
		e = LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
				   &e, 1, "");
	}
	return LLVMBuildLShr(f->b, LLVMBuildZExt(f->b, e, f->c->i64, ""),
		LLVMBuildAnd(f->b, bit, cg_i64(f, 7), ""), "");
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
	s->vp = LLVMBuildPhi(f->b, LLVMTypeOf(k->val), "vp");
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

/* Rows end before pos: store them (and the routine returns after the
 * last one); then the hit at pos adds code's value times x. */
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
	end = LLVMBuildAdd(f->b, base, k->cols, "");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, pos, end, ""),
			hit, st);
	LLVMPositionBuilderAtEnd(f->b, st);
	row_store(k, r, acc);
	r1 = LLVMBuildAdd(f->b, r, cg_i64(f, 1), "");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntEQ, r1, k->rows, ""),
			ex, nx);
	LLVMPositionBuilderAtEnd(f->b, nx);
	acc1 = row_start(k, r1);
	LLVMBuildBr(f->b, fl);
	LLVMAddIncoming(r, &r1, &nx, 1);
	LLVMAddIncoming(base, &end, &nx, 1);
	LLVMAddIncoming(acc, &acc1, &nx, 1);
	LLVMPositionBuilderAtEnd(f->b, ex);
	LLVMBuildRetVoid(f->b);
	LLVMPositionBuilderAtEnd(f->b, hit);
	w = cg_load(f, s->vp, LLVMBuildSub(f->b, code, cg_i64(f, 1), ""));
	n.acc = sp_fmuladd(f, sp_splat(f, w, k->mc), sp_vload(f, k->x,
		LLVMBuildMul(f->b, LLVMBuildSub(f->b, pos, base, ""),
			     cg_i64(f, k->mc), ""), k->mc), acc);
	n.vp = cg_gep(f, s->vp, k->plain);
	n.p = LLVMBuildAdd(f->b, pos, cg_i64(f, 1), "");
	n.r = r, n.base = base;
	LLVMBuildBr(f->b, loop);
	incoming(ls, &n, hit);
}

/* Decodes entries: an escape moves p on and loops; a hit goes to
 * walk_hit with its position. */
static void
walk_body(walk *k, LLVMValueRef acc0)
{
	cg_fn *f = &k->s;
	LLVMBasicBlockRef entry = LLVMGetInsertBlock(f->b), loop = block(k,
		"entry"), esc = block(k, "escape"), found = block(k, "found");
	LLVMValueRef e, g, code, z = cg_i64(f, 0);
	state s, n, init = {z, z, z, z, acc0, k->val};

	LLVMBuildBr(f->b, loop);
	LLVMPositionBuilderAtEnd(f->b, loop);
	phis(k, &s, LLVMTypeOf(acc0));
	incoming(&s, &init, entry);
	e = entry_at(k, s.bit);
	g = LLVMBuildAnd(f->b, e, k->gmask, "");
	code = LLVMBuildAnd(f->b, LLVMBuildLShr(f->b, e, k->g, ""), k->cmask,
			    "");
	n = s;
	n.bit = LLVMBuildAdd(f->b, s.bit, k->w, "");
	LLVMBuildCondBr(f->b, LLVMBuildICmp(f->b, LLVMIntEQ, code, z, ""),
			esc, found);
	LLVMPositionBuilderAtEnd(f->b, esc);
	{
		state m = n;
		m.p = LLVMBuildAdd(f->b, s.p, LLVMBuildShl(f->b, LLVMBuildAdd(
			f->b, g, cg_i64(f, 1), ""), k->g, ""), "");
		LLVMBuildBr(f->b, loop);
		incoming(&s, &m, esc);
	}
	LLVMPositionBuilderAtEnd(f->b, found);
	walk_hit(k, &n, LLVMBuildAdd(f->b, s.p, g, ""), code, loop, &s);
}

/* The routine (blob, x, y) shared by the layers of one batch vector
 * width mc: x is [cols, mc] (mc > 1: transposed), y [mc, rows]. */
static LLVMValueRef
routine(cg_ctx *c, unsigned mc)
{
	char name[256];
	LLVMTypeRef pt[3] = {c->ptr, c->ptr, c->ptr};
	LLVMTypeRef pf = LLVMPointerType(c->f32, 0);
	LLVMValueRef fn;
	walk k = {.mc = mc};

	snprintf(name, sizeof name, "%s_spfc%u", c->name, mc);
	if ((fn = LLVMGetNamedFunction(c->mod, name)))
		return fn;
	fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(
		LLVMVoidTypeInContext(c->ctx), pt, 3, 0));
	LLVMSetLinkage(fn, LLVMPrivateLinkage);
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(c->ctx,
		LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
	k.s.c = c;
	k.s.fn = fn;
	k.s.b = LLVMCreateBuilderInContext(c->ctx);
	LLVMPositionBuilderAtEnd(k.s.b, LLVMAppendBasicBlockInContext(c->ctx,
		fn, "start"));
	read_header(&k, LLVMGetParam(fn, 0));
	k.x = LLVMBuildBitCast(k.s.b, LLVMGetParam(fn, 1), pf, "");
	k.y = LLVMBuildBitCast(k.s.b, LLVMGetParam(fn, 2), pf, "");
	walk_body(&k, row_start(&k, cg_i64(&k.s, 0)));
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

/* xT[k * mc + u] = x[u * cols + k] for the mc rows of a batch chunk. */
static LLVMValueRef
transpose(cg_fn *f, const sp_layer *L, LLVMValueRef x0)
{
	LLVMValueRef xt = cg_alloca(f, LLVMArrayType(f->c->f32,
		(unsigned)(L->cols * L->mc))), k;
	cg_loop lk;

	xt = LLVMBuildBitCast(f->b, xt, LLVMPointerType(f->c->f32, 0), "");
	k = cg_loop_begin(f, L->cols, &lk);
	for (int64_t u = 0; u < L->mc; u++)
		cg_store(f, xt, LLVMBuildAdd(f->b, LLVMBuildMul(f->b, k,
			cg_i64(f, L->mc), ""), cg_i64(f, u), ""), cg_load(f, x0,
			LLVMBuildAdd(f->b, k, cg_i64(f, u * L->cols), "")));
	cg_loop_end(f, &lk);
	return xt;
}

bool
sp_compact_fc(cg_fn *f, const sp_layer *L)
{
	cg_ctx *c = f->c;
	float *bias;
	bool relu = own_relu(L->n);
	hits h;
	int64_t n;
	uint8_t *d;
	LLVMValueRef g, fn, args[3], ch;
	cg_loop lc;

	if (!fold_bias(L, &bias))
		return false;
	hits_build(L, &h);
	d = build_blob(L, &h, bias, (relu ? CF_RELU : 0) | (bias ? CF_BIAS : 0)
		       | (h.plain ? CF_PLAIN : 0), &n);
	hits_free(&h);
	free(bias);
	g = cg_const_global(c, "spc", d, (size_t)n);
	LLVMSetAlignment(g, 4);
	free(d);
	fn = routine(c, (unsigned)L->mc);
	ch = cg_loop_begin(f, L->m / L->mc, &lc);
	args[0] = LLVMBuildBitCast(f->b, g, c->ptr, "");
	args[1] = cg_gep(f, f->in[0], LLVMBuildMul(f->b, ch,
		cg_i64(f, L->mc * L->cols), ""));
	args[2] = LLVMBuildBitCast(f->b, cg_gep(f, f->out[0], LLVMBuildMul(
		f->b, ch, cg_i64(f, L->mc * L->rows), "")), c->ptr, "");
	if (L->mc > 1)
		args[1] = transpose(f, L, args[1]);
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
