/* Lowering of data movement: reshape-like copies, Transpose, Concat,
 * Split, Slice, Gather, Pad, Cast, and constant-producing ops (normally
 * folded by the planner into constants). All index math is constant but
 * for the loop variables (and Gather's runtime indices). */
#include <string.h>

#include "cg_internal.h"

/* f32 <-> bf16 by bit manipulation (round to nearest even, NaN kept). */
static LLVMValueRef
to_bf16(cg_fn *f, LLVMValueRef v)
{
	LLVMBuilderRef b = f->b;
	LLVMTypeRef i32 = f->c->i32;
	LLVMValueRef u = LLVMBuildBitCast(b, v, i32, ""), r, nan;

	r = LLVMBuildAnd(b, LLVMBuildLShr(b, u, LLVMConstInt(i32, 16, 0), ""),
			 LLVMConstInt(i32, 1, 0), "");
	r = LLVMBuildAdd(b, u, LLVMBuildAdd(b, r, LLVMConstInt(i32, 0x7fff, 0),
					    ""), "");
	r = LLVMBuildLShr(b, r, LLVMConstInt(i32, 16, 0), "");
	nan = LLVMBuildOr(b, LLVMBuildLShr(b, u, LLVMConstInt(i32, 16, 0), ""),
			  LLVMConstInt(i32, 0x40, 0), "");
	r = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), nan, r,
			    "");
	return LLVMBuildTrunc(b, r, f->c->i16, "");
}

static LLVMValueRef
from_half(cg_fn *f, LLVMValueRef v, ir_dtype from)
{
	if (from == IR_F16)
		return LLVMBuildFPExt(f->b, LLVMBuildBitCast(f->b, v, f->c->f16,
							     ""), f->c->f32, "");
	v = LLVMBuildShl(f->b, LLVMBuildZExt(f->b, v, f->c->i32, ""),
			 LLVMConstInt(f->c->i32, 16, 0), "");
	return LLVMBuildBitCast(f->b, v, f->c->f32, "");
}

/* lo < d && d < hi on doubles (false for NaN). */
static LLVMValueRef
within(cg_fn *f, LLVMValueRef d, double lo, bool lo_eq, double hi)
{
	LLVMTypeRef dt = f->c->f64;
	return LLVMBuildAnd(f->b, LLVMBuildFCmp(f->b, lo_eq ? LLVMRealOGE
		: LLVMRealOGT, d, LLVMConstReal(dt, lo), ""), LLVMBuildFCmp(
		f->b, LLVMRealOLT, d, LLVMConstReal(dt, hi), ""), "");
}

/* Float to integer with ir/op_misc.c's float_to_bits: truncation toward
 * zero where a C cast is defined, else what numpy gives on x86 (the
 * instruction's "indefinite" value; narrow types the low bits of a
 * 32-bit conversion). LLVM's fptosi/fptoui are poison out of range, so
 * each conversion reads only an in-range value. */
static LLVMValueRef
float_to_int(cg_fn *f, LLVMValueRef v, ir_dtype from, ir_dtype to)
{
	LLVMTypeRef tt = cg_type(f->c, to), i64 = f->c->i64;
	LLVMValueRef d = from == IR_F64 ? v : LLVMBuildFPExt(f->b, v,
		f->c->f64, ""), zero = LLVMConstReal(f->c->f64, 0), ok, r;
	int bits = (int)ir_dtype_size(to) * 8;

	if (to == IR_U32 || to == IR_U64) {
		LLVMValueRef in = within(f, d, 0, true, to == IR_U32 ? 0x1p32
					 : 0x1p64);
		LLVMValueRef neg = within(f, d, -0x1p63, false, 0);
		LLVMValueRef a = LLVMBuildFPToUI(f->b, LLVMBuildSelect(f->b, in,
			d, zero, ""), tt, "");
		LLVMValueRef b = LLVMBuildFPToSI(f->b, LLVMBuildSelect(f->b,
			neg, d, zero, ""), i64, "");
		if (to == IR_U32)
			b = LLVMBuildTrunc(f->b, b, tt, "");
		LLVMValueRef c = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b,
			LLVMRealUNO, d, d, ""), LLVMConstInt(tt, 1ull <<
			(bits - 1), 0), LLVMConstNull(tt), "");
		return LLVMBuildSelect(f->b, in, a, LLVMBuildSelect(f->b, neg, b,
			c, ""), "");
	}
	if (to == IR_I64) {
		ok = within(f, d, -0x1p63, true, 0x1p63);
		return LLVMBuildSelect(f->b, ok, LLVMBuildFPToSI(f->b,
			LLVMBuildSelect(f->b, ok, d, zero, ""), i64, ""),
			LLVMConstInt(i64, 1ull << 63, 0), "");
	}
	ok = within(f, d, -0x1p31 - 1, false, 0x1p31);
	r = LLVMBuildSelect(f->b, ok, LLVMBuildFPToSI(f->b, LLVMBuildSelect(
		f->b, ok, d, zero, ""), i64, ""), LLVMConstInt(i64,
		(unsigned long long)(int64_t)INT32_MIN, 1), "");
	return bits == 64 ? r : LLVMBuildTrunc(f->b, r, tt, "");
}

LLVMValueRef
cg_convert(cg_fn *f, LLVMValueRef v, ir_dtype from, ir_dtype to)
{
	LLVMTypeRef tt = cg_type(f->c, to);
	bool ff = ir_dtype_is_float(from), tf = ir_dtype_is_float(to);

	if (from == to)
		return v;
	if (from == IR_F16 || from == IR_BF16)
		return cg_convert(f, from_half(f, v, from), IR_F32, to);
	if (to == IR_F16 || to == IR_BF16) {
		v = cg_convert(f, v, from, IR_F32);
		if (to == IR_BF16)
			return to_bf16(f, v);
		return LLVMBuildBitCast(f->b, LLVMBuildFPTrunc(f->b, v,
			f->c->f16, ""), f->c->i16, "");
	}
	if (to == IR_BOOL) {
		v = ff ? LLVMBuildFCmp(f->b, LLVMRealUNE, v,
				       LLVMConstNull(LLVMTypeOf(v)), "")
		       : LLVMBuildICmp(f->b, LLVMIntNE, v,
				       LLVMConstNull(LLVMTypeOf(v)), "");
		return LLVMBuildZExt(f->b, v, tt, "");
	}
	if (ff && tf)
		return ir_dtype_size(from) < ir_dtype_size(to)
		       ? LLVMBuildFPExt(f->b, v, tt, "")
		       : LLVMBuildFPTrunc(f->b, v, tt, "");
	if (ff)
		return float_to_int(f, v, from, to);
	if (tf)
		return ir_dtype_is_unsigned(from)
		       ? LLVMBuildUIToFP(f->b, v, tt, "")
		       : LLVMBuildSIToFP(f->b, v, tt, "");
	if (ir_dtype_size(from) > ir_dtype_size(to))
		return LLVMBuildTrunc(f->b, v, tt, "");
	if (ir_dtype_size(from) == ir_dtype_size(to))
		return v;
	return ir_dtype_is_unsigned(from) ? LLVMBuildZExt(f->b, v, tt, "")
			    : LLVMBuildSExt(f->b, v, tt, "");
}

/* out[linear(ivs, so)] = in[linear(ivs, si) + ibase] over dims, after
 * coalescing. */
static void
strided_copy(cg_fn *f, LLVMValueRef dst, LLVMValueRef src, int rank,
	     const int64_t *dims_in, const int64_t *so, const int64_t *si,
	     int64_t obase, int64_t ibase)
{
	int64_t dims[IR_MAX_RANK], st[2][IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK], v;
	cg_loop loops[IR_MAX_RANK];

	for (int k = 0; k < rank; k++)
		if (dims_in[k] <= 0)
			return;
	memcpy(dims, dims_in, sizeof(int64_t) * (size_t)rank);
	memcpy(st[0], so, sizeof(int64_t) * (size_t)rank);
	memcpy(st[1], si, sizeof(int64_t) * (size_t)rank);
	cg_coalesce(&rank, dims, 2, st);
	cg_nest_begin(f, rank, dims, ivs, loops);
	v = cg_load(f, src, cg_linear(f, rank, ivs, st[1], ibase));
	cg_store(f, dst, cg_linear(f, rank, ivs, st[0], obase), v);
	cg_nest_end(f, rank, loops);
}

static void
flat_copy(cg_fn *f, LLVMValueRef dst, LLVMValueRef src, const ir_value *v)
{
	int64_t nb = ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(
		v->dtype);

	cg_memcpy(f, dst, cg_i64(f, 0), src, cg_i64(f, 0), nb);
}

static bool
lower_view(cg_fn *f)
{
	const ir_node *n = f->n;

	flat_copy(f, f->out[0], f->in[0], n->out[0]);
	if (n->op == OP_Dropout && n->nout > 1 && f->out[1]) {
		int64_t cnt = ir_shape_numel(&n->out[1]->shape);
		cg_loop l;
		LLVMValueRef i = cg_loop_begin(f, cnt, &l);
		cg_store(f, f->out[1], i, cg_const(f, n->out[1]->dtype, 1));
		cg_loop_end(f, &l);
	}
	return true;
}

static bool
lower_transpose(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;
	int np;
	const int64_t *perm = ir_attr_ints(n, "perm", &np);
	int64_t xs[IR_MAX_RANK], so[IR_MAX_RANK], si[IR_MAX_RANK];

	cg_strides(x, xs);
	cg_strides(y, so);
	for (int k = 0; k < y->rank; k++) {
		int p = perm && k < np ? (int)perm[k] : y->rank - 1 - k;
		if (p < 0 || p >= x->rank)
			return cg_fail(f, "bad perm");
		si[k] = xs[p];
	}
	strided_copy(f, f->out[0], f->in[0], y->rank, y->dim, so, si, 0, 0);
	return true;
}

/* Concat (split=false) or Split: each piece is a block along axis. */
static bool
lower_blocks(cg_fn *f, bool split)
{
	const ir_node *n = f->n;
	const ir_value *whole = split ? n->in[0] : n->out[0];
	int rank = whole->shape.rank;
	int ax = cg_axis(split ? ir_attr_i(n, "axis") : ir_attr_req_i(n, "axis"),
			 rank);
	int64_t outer = 1, inner = 1, off = 0;
	int np = split ? n->nout : n->nin;

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	for (int k = 0; k < rank; k++)
		if (k != ax)
			*(k < ax ? &outer : &inner) *= whole->shape.dim[k];
	for (int i = 0; i < np; i++) {
		const ir_value *p = split ? n->out[i] : n->in[i];
		int64_t len, dims[2], sw[2], sp[2];
		if (!p)
			continue;
		len = p->shape.dim[ax] * inner;
		dims[0] = outer, dims[1] = len;
		sw[0] = whole->shape.dim[ax] * inner, sw[1] = 1;
		sp[0] = len, sp[1] = 1;
		if (split)
			strided_copy(f, f->out[i], f->in[0], 2, dims, sp, sw, 0,
				     off);
		else
			strided_copy(f, f->out[0], f->in[i], 2, dims, sw, sp,
				     off, 0);
		off += len;
	}
	return true;
}

static bool
lower_slice(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;
	int64_t st[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK], xs[IR_MAX_RANK];
	int64_t si[IR_MAX_RANK], so[IR_MAX_RANK], start[IR_MAX_RANK];
	int64_t step[IR_MAX_RANK], cnt, na, ns = 0, base = 0;

	if (!cg_const_ints(f, 1, st, IR_MAX_RANK, &cnt))
		return false;
	for (int k = 0; k < x->rank; k++)
		start[k] = 0, step[k] = 1, ax[k] = k;
	if (n->nin > 3 && n->in[3] && !cg_const_ints(f, 3, ax, IR_MAX_RANK,
						     &na))
		return false;
	if (n->nin > 4 && n->in[4] && !cg_const_ints(f, 4, sp, IR_MAX_RANK,
						     &ns))
		return false;
	for (int64_t i = 0; i < cnt; i++) {
		int a = cg_axis(ax[i], x->rank);
		int64_t d, s = st[i], stp = i < ns ? sp[i] : 1;
		if (a < 0 || stp == 0)
			return cg_fail(f, "bad slice axes or steps");
		d = x->dim[a];
		if (s < 0)
			s += d;
		if (stp > 0)
			s = s < 0 ? 0 : s > d ? d : s;
		else
			s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
		start[a] = s, step[a] = stp;
	}
	cg_strides(x, xs);
	cg_strides(y, so);
	for (int k = 0; k < x->rank; k++) {
		si[k] = xs[k] * step[k];
		base += start[k] * xs[k];
	}
	strided_copy(f, f->out[0], f->in[0], y->rank, y->dim, so, si, 0, base);
	return true;
}

static bool
lower_gather(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape;
	int ax = cg_axis(ir_attr_i(n, "axis"), x->rank);
	int64_t outer = 1, inner = 1, d, nidx, dims[3];
	LLVMValueRef ivs[3], idx, src, dst;
	cg_loop loops[3];

	if (ax < 0)
		return cg_fail(f, "axis out of range");
	d = x->dim[ax];
	nidx = ir_shape_numel(&n->in[1]->shape);
	for (int k = 0; k < x->rank; k++)
		if (k != ax)
			*(k < ax ? &outer : &inner) *= x->dim[k];
	if (outer * inner == 0) {
		if (nidx > 0)
			cg_check_indices(f, f->in[1], n->in[1]->dtype, nidx, 1,
					 &d);
		return true;
	}
	dims[0] = outer, dims[1] = nidx, dims[2] = inner;
	cg_nest_begin(f, 3, dims, ivs, loops);
	idx = cg_index(f, cg_load(f, f->in[1], ivs[1]), n->in[1]->dtype, d);
	src = LLVMBuildAdd(f->b, LLVMBuildMul(f->b, LLVMBuildAdd(f->b,
		LLVMBuildMul(f->b, ivs[0], cg_i64(f, d), ""), idx, ""),
		cg_i64(f, inner), ""), ivs[2], "");
	dst = cg_linear(f, 3, ivs, (int64_t[]){nidx * inner, inner, 1}, 0);
	cg_store(f, f->out[0], dst, cg_load(f, f->in[0], src));
	cg_nest_end(f, 3, loops);
	return true;
}

static LLVMValueRef
pad_index(cg_fn *f, const char *mode, LLVMValueRef c, int64_t d,
	  LLVMValueRef *valid)
{
	LLVMValueRef zero = cg_i64(f, 0), dm1 = cg_i64(f, d - 1), ok;

	if (!strcmp(mode, "edge"))
		return cg_max(f, IR_I64, cg_min(f, IR_I64, c, dm1), zero);
	if (!strcmp(mode, "reflect")) {
		c = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, c,
			zero, ""), LLVMBuildNeg(f->b, c, ""), c, "");
		c = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSGT, c,
			dm1, ""), LLVMBuildSub(f->b, cg_i64(f, 2 * (d - 1)), c,
			""), c, "");
		return cg_max(f, IR_I64, cg_min(f, IR_I64, c, dm1), zero);
	}
	if (!strcmp(mode, "wrap")) {
		c = LLVMBuildSRem(f->b, c, cg_i64(f, d), "");
		c = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSLT, c,
			zero, ""), LLVMBuildAdd(f->b, c, cg_i64(f, d), ""), c, "");
		return c;
	}
	ok = LLVMBuildICmp(f->b, LLVMIntULT, c, cg_i64(f, d), "");
	*valid = LLVMBuildAnd(f->b, *valid, ok, "");
	return LLVMBuildSelect(f->b, ok, c, zero, "");
}

static bool
lower_pad(cg_fn *f)
{
	const ir_node *n = f->n;
	const ir_shape *x = &n->in[0]->shape, *y = &n->out[0]->shape;
	const char *mode = ir_attr_s(n, "mode");
	int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK], pb[IR_MAX_RANK] = {0};
	int64_t np, na = x->rank, xs[IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK], valid, li, v, cv;
	cg_loop loops[IR_MAX_RANK];
	ir_dtype t = n->in[0]->dtype;

	if (!cg_const_ints(f, 1, pads, 2 * IR_MAX_RANK, &np))
		return false;
	for (int k = 0; k < x->rank; k++)
		axes[k] = k;
	if (n->nin > 3 && n->in[3] && !cg_const_ints(f, 3, axes, IR_MAX_RANK,
						     &na))
		return false;
	if (np != 2 * na)
		return cg_fail(f, "pads has %lld values for %lld axes",
			       (long long)np, (long long)na);
	for (int64_t i = 0; i < na; i++) {
		int a = cg_axis(axes[i], x->rank);
		if (a < 0)
			return cg_fail(f, "axis out of range");
		pb[a] = pads[i];
	}
	for (int k = 0; k < x->rank; k++)
		if (x->dim[k] == 0)
			return cg_fail(f, "padding an empty tensor is not "
				       "supported");
	cg_strides(x, xs);
	cv = n->nin > 2 && n->in[2] ? cg_load(f, f->in[2], cg_i64(f, 0))
				    : LLVMConstNull(cg_type(f->c, t));
	cg_nest_begin(f, y->rank, y->dim, ivs, loops);
	valid = LLVMConstInt(f->c->i1, 1, 0);
	li = cg_i64(f, 0);
	for (int k = 0; k < y->rank; k++) {
		LLVMValueRef c = LLVMBuildSub(f->b, ivs[k], cg_i64(f, pb[k]),
					      "");
		c = pad_index(f, mode, c, x->dim[k], &valid);
		li = LLVMBuildAdd(f->b, li, LLVMBuildMul(f->b, c,
			cg_i64(f, xs[k]), ""), "");
	}
	v = cg_load(f, f->in[0], li);
	v = LLVMBuildSelect(f->b, valid, v, cv, "");
	{
		int64_t so[IR_MAX_RANK];
		cg_strides(y, so);
		cg_store(f, f->out[0], cg_linear(f, y->rank, ivs, so, 0), v);
	}
	cg_nest_end(f, y->rank, loops);
	return true;
}

static bool
lower_cast(cg_fn *f)
{
	const ir_node *n = f->n;
	int64_t cnt = ir_shape_numel(&n->out[0]->shape);
	cg_loop l;
	LLVMValueRef i = cg_loop_begin(f, cnt, &l);

	cg_store(f, f->out[0], i, cg_convert(f, cg_load(f, f->in[0], i),
		n->in[0]->dtype, n->out[0]->dtype));
	cg_loop_end(f, &l);
	return true;
}

/* EyeLike: zeros, then the ones of diagonal k (no data of the input is
 * read). */
static bool
lower_eyelike(cg_fn *f)
{
	const ir_value *o = f->n->out[0];
	int64_t r = o->shape.dim[0], c = o->shape.dim[1];
	int64_t k = ir_attr_i(f->n, "k"), lo = k < 0 ? -k : 0, hi;
	LLVMValueRef one, i;
	cg_loop l;

	if (r == 0 || c == 0)
		return true;
	LLVMBuildMemSet(f->b, LLVMBuildBitCast(f->b, f->out[0], f->c->ptr, ""),
		LLVMConstInt(f->c->i8, 0, 0), cg_i64(f, r * c *
		(int64_t)ir_dtype_size(o->dtype)), 1);
	if (k >= c || k <= -r)
		return true;
	hi = r < c - k ? r : c - k;
	one = cg_convert(f, cg_const(f, IR_I64, 1), IR_I64, o->dtype);
	i = cg_loop_begin(f, hi - lo, &l);
	i = cg_iadd(f, i, cg_i64(f, lo));
	cg_store(f, f->out[0], cg_iadd(f, cg_imul(f, i, c + 1), cg_i64(f, k)),
		 one);
	cg_loop_end(f, &l);
	return true;
}

bool
cg_lower_data(cg_fn *f)
{
	switch (ir_ops[f->n->op].kind) {
	case IR_KIND_RESHAPE: return lower_view(f);
	case IR_KIND_TRANSPOSE: return lower_transpose(f);
	case IR_KIND_CONCAT: return lower_blocks(f, false);
	case IR_KIND_SPLIT: return lower_blocks(f, true);
	case IR_KIND_SLICE: return lower_slice(f);
	case IR_KIND_GATHER: return lower_gather(f);
	case IR_KIND_PAD: return lower_pad(f);
	case IR_KIND_CAST: return lower_cast(f);
	case IR_KIND_CONSTANT:
		if (f->n->op == OP_EyeLike)
			return lower_eyelike(f);
		return cg_fail(f, "output must be computable at compile time");
	default:
		return cg_fail(f, "output must be computable at compile time");
	}
}
