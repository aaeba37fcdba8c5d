/* Shared weights in the object: codebook indices packed into a bitstream of
 * exactly the bits the codebook needs, read back one at a time or a vector
 * at a time, and looked up in the codebook (in a vector register when it
 * fits one). Every kernel that reads a shared weight goes through here. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* Two bytes of slack: the 16-bit loads of the last codes stay inside. A
 * constant expression, valid in any function (sub-functions too). */
LLVMValueRef
cg_code_table(cg_fn *f, const uint8_t *codes, int64_t n, int bits)
{
	size_t nbytes = (size_t)((n * bits + 7) / 8) + 2;
	uint8_t *d = nn_xcalloc(1, nbytes);
	LLVMValueRef g;

	for (int64_t i = 0; i < n; i++) {
		int64_t bit = i * bits;
		unsigned v = (unsigned)codes[i] << (bit & 7);
		d[bit >> 3] |= (uint8_t)v;
		d[(bit >> 3) + 1] |= (uint8_t)(v >> 8);
	}
	g = cg_const_global(f->c, "codes", d, nbytes);
	free(d);
	return LLVMConstBitCast(g, LLVMPointerType(f->c->i8, 0));
}

/* One global per weight (the kernels of a layer share it), padded to 16
 * or 32 entries where cg_code_lookup loads it as whole vectors; the
 * padding is never selected. A constant expression, so that sub-functions
 * of the node may use it too. */
LLVMValueRef
cg_codebook(cg_fn *f, const ir_value *w)
{
	float cb[IR_MAX_CODES + 32] = {0};
	int n = w->ncodes;
	cg_ctx *c = f->c;

	if (c->cb_w != w) {
		if (c->vl == 16 && n <= 32)
			n = n <= 16 ? 16 : 32;
		memcpy(cb, w->codebook, sizeof(float) * (size_t)w->ncodes);
		c->cb_w = w;
		c->cb_g = LLVMConstBitCast(cg_const_global(c, "codebook", cb,
			sizeof(float) * (size_t)n), LLVMPointerType(c->f32, 0));
	}
	return c->cb_g;
}

LLVMValueRef
cg_code_load(cg_fn *f, LLVMValueRef t, LLVMValueRef e, int bits)
{
	LLVMValueRef bit = LLVMBuildNSWMul(f->b, e, cg_i64(f, bits), "");
	LLVMValueRef p = cg_gep(f, t, LLVMBuildLShr(f->b, bit, cg_i64(f, 3),
						     ""));
	LLVMValueRef v, sh;

	p = LLVMBuildBitCast(f->b, p, LLVMPointerType(f->c->i16, 0), "");
	v = LLVMBuildLoad2(f->b, f->c->i16, p, "");
	LLVMSetAlignment(v, 1);
	v = LLVMBuildZExt(f->b, v, f->c->i64, "");
	sh = LLVMBuildAnd(f->b, bit, cg_i64(f, 7), "");
	v = LLVMBuildLShr(f->b, v, sh, "");
	return LLVMBuildAnd(f->b, v, cg_i64(f, (1 << bits) - 1), "");
}

static LLVMValueRef
ivec(LLVMTypeRef t, const unsigned *v, int n)
{
	LLVMValueRef e[64];

	for (int i = 0; i < n; i++)
		e[i] = LLVMConstInt(t, v[i], 0);
	return LLVMConstVector(e, (unsigned)n);
}

/* Codes e0 .. e0+n-1 as <n x i32>; e0 * bits must be a multiple of 8.
 * One load of the n * bits / 8 bytes, one shuffle that gives every lane
 * the two bytes holding its code, then a per-lane shift and mask. */
LLVMValueRef
cg_code_vload(cg_fn *f, LLVMValueRef t, LLVMValueRef e0, int n, int bits)
{
	int nb = (n * bits + 7) / 8;
	unsigned mask[128], sh[64];
	LLVMTypeRef bt = LLVMVectorType(f->c->i8, (unsigned)nb);
	LLVMValueRef p, v;

	NN_ASSERT(n <= 64 && (n * bits) % 8 == 0);
	p = cg_gep(f, t, LLVMBuildLShr(f->b, LLVMBuildNSWMul(f->b, e0,
		cg_i64(f, bits), ""), cg_i64(f, 3), ""));
	v = LLVMBuildLoad2(f->b, bt, LLVMBuildBitCast(f->b, p,
		LLVMPointerType(bt, 0), ""), "");
	LLVMSetAlignment(v, 1);
	for (int l = 0; l < n; l++) {
		int bit = l * bits;
		mask[2 * l] = (unsigned)(bit >> 3);
		/* the second byte, or a zero of the other operand */
		mask[2 * l + 1] = (bit & 7) + bits > 8 ? (unsigned)(bit >> 3) + 1
						       : (unsigned)nb;
		sh[l] = (unsigned)(bit & 7);
	}
	v = LLVMBuildShuffleVector(f->b, v, LLVMConstNull(bt),
				   ivec(f->c->i32, mask, 2 * n), "");
	v = LLVMBuildBitCast(f->b, v, LLVMVectorType(f->c->i16, (unsigned)n),
			     "");
	v = LLVMBuildZExt(f->b, v, LLVMVectorType(f->c->i32, (unsigned)n), "");
	v = LLVMBuildLShr(f->b, v, ivec(f->c->i32, sh, n), "");
	for (int l = 0; l < n; l++)
		sh[l] = (1u << bits) - 1;
	return LLVMBuildAnd(f->b, v, ivec(f->c->i32, sh, n), "");
}

static LLVMValueRef
vload16(cg_fn *f, LLVMValueRef cb, int at)
{
	LLVMTypeRef vt = LLVMVectorType(f->c->f32, 16);
	LLVMValueRef v = LLVMBuildLoad2(f->b, vt, LLVMBuildBitCast(f->b,
		cg_gep(f, cb, cg_i64(f, at)), LLVMPointerType(vt, 0), ""), "");

	LLVMSetAlignment(v, 4);
	return v;
}

/* Lanes 0..to-1 of v (repeating lane 0 past its end). */
static LLVMValueRef
resize(cg_fn *f, LLVMValueRef v, int from, int to)
{
	unsigned m[64];

	for (int l = 0; l < to; l++)
		m[l] = l < from ? (unsigned)l : 0;
	return LLVMBuildShuffleVector(f->b, v, LLVMGetUndef(LLVMTypeOf(v)),
				      ivec(f->c->i32, m, to), "");
}

/* codebook[idx] for an <n x i32> idx. With AVX-512 (vl 16) a codebook of
 * up to 16 (32) entries lives in one (two) registers and the lookup is one
 * permute; otherwise a gather from the L1-resident codebook. */
LLVMValueRef
cg_code_lookup(cg_fn *f, LLVMValueRef cb, int ncodes, LLVMValueRef idx,
	       int n)
{
	LLVMTypeRef ft = LLVMVectorType(f->c->f32, (unsigned)n);
	LLVMValueRef a[4], r;
	char name[64];

	if (f->c->vl == 16 && ncodes <= 32 && n <= 16) {
		LLVMTypeRef v16 = LLVMVectorType(f->c->f32, 16);
		a[0] = vload16(f, cb, 0);
		a[1] = n < 16 ? resize(f, idx, n, 16) : idx;
		if (ncodes <= 16) {
			r = cg_call(f, "llvm.x86.avx512.permvar.sf.512", v16,
				    a, 2);
		} else {
			a[2] = vload16(f, cb, 16);
			r = cg_call(f, "llvm.x86.avx512.vpermi2var.ps.512", v16,
				    a, 3);
		}
		return n < 16 ? resize(f, r, 16, n) : r;
	}
	a[0] = LLVMBuildGEP2(f->b, f->c->f32, cb, &idx, 1, "");
	a[1] = LLVMConstInt(f->c->i32, 4, 0);
	a[2] = LLVMConstAllOnes(LLVMVectorType(f->c->i1, (unsigned)n));
	a[3] = LLVMGetUndef(ft);
	snprintf(name, sizeof name, "llvm.masked.gather.v%df32.v%dp0f32", n, n);
	return cg_call(f, name, ft, a, 4);
}

/* The node's shared weight (input 1), read in its own element order:
 * kernels that index the weight directly (generic and depthwise conv)
 * load through here instead of from a float copy. */
LLVMValueRef
cg_weight_load(cg_fn *f, LLVMValueRef idx)
{
	const ir_value *w = f->n->in[1];

	if (!cg_weight_shared(w))
		return cg_load(f, f->in[1], idx);
	if (!f->wcodes) /* once per node: every loop reuses the table */
		f->wcodes = cg_code_table(f, w->codes, ir_shape_numel(&w->shape),
					  ir_code_bits(w->ncodes));
	return cg_load(f, cg_codebook(f, w), cg_code_load(f, f->wcodes, idx,
					       ir_code_bits(w->ncodes)));
}

bool
cg_weight_shared(const ir_value *w)
{
	return w && w->ncodes > 0 && w->codes && w->codebook &&
	       w->dtype == IR_F32;
}
