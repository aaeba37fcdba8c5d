/* Lowering driver: one LLVM function per node (run.c calls them in
 * order over the planned buffers), and the helpers (loops, scalars,
 * constants) every lowering file uses. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "cg_internal.h"

LLVMTypeRef
cg_type(cg_ctx *c, ir_dtype t)
{
	switch (t) {
	case IR_F32: return c->f32;
	case IR_F64: return c->f64;
	case IR_F16: case IR_BF16: case IR_I16: case IR_U16: return c->i16;
	case IR_I8: case IR_U8: case IR_BOOL: return c->i8;
	case IR_I32: case IR_U32: return c->i32;
	case IR_I64: case IR_U64: return c->i64;
	default: return c->i8;
	}
}

LLVMValueRef
cg_i64(cg_fn *f, int64_t v)
{
	return LLVMConstInt(f->c->i64, (unsigned long long)v, 1);
}

LLVMValueRef
cg_iadd(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildNSWAdd(f->b, a, b, "");
}

LLVMValueRef
cg_imul(cg_fn *f, LLVMValueRef a, int64_t k)
{
	return k == 1 ? a : LLVMBuildNSWMul(f->b, a, cg_i64(f, k), "");
}

LLVMValueRef
cg_fconst(cg_fn *f, ir_dtype t, double v)
{
	return LLVMConstReal(cg_type(f->c, t), v);
}

LLVMValueRef
cg_const(cg_fn *f, ir_dtype t, double v)
{
	if (t == IR_F32 || t == IR_F64)
		return cg_fconst(f, t, v);
	return LLVMConstInt(cg_type(f->c, t), (unsigned long long)(int64_t)v,
			    1);
}

bool
cg_fail(cg_fn *f, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	nn_error_node(f->c->d, f->n, "%s", buf);
	return false;
}

int
cg_axis(int64_t a, int rank)
{
	if (a < 0)
		a += rank;
	return a < 0 || a >= rank ? -1 : (int)a;
}

/* Loops are emitted in do-while form (trip counts are constants >= 1),
 * which LLVM's loop passes take as already rotated. */
LLVMValueRef
cg_loop_begin(cg_fn *f, int64_t n, cg_loop *l)
{
	LLVMValueRef zero = cg_i64(f, 0);

	NN_ASSERT(n >= 1);
	l->end = cg_i64(f, n);
	l->trip = n;
	f->tmult *= n;
	if (n == 1) {
		l->body = NULL;
		l->iv = zero;
		return zero;
	}
	l->pre = LLVMGetInsertBlock(f->b);
	l->body = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "loop");
	LLVMBuildBr(f->b, l->body);
	LLVMPositionBuilderAtEnd(f->b, l->body);
	l->iv = LLVMBuildPhi(f->b, f->c->i64, "i");
	LLVMAddIncoming(l->iv, &zero, &l->pre, 1);
	return l->iv;
}

void
cg_loop_end(cg_fn *f, cg_loop *l)
{
	LLVMValueRef next, cond;
	LLVMBasicBlockRef latch, exit;

	if (l->trip > 0)
		f->tmult /= l->trip;
	if (!l->body)
		return;
	next = LLVMBuildNSWAdd(f->b, l->iv, cg_i64(f, 1), "");
	latch = LLVMGetInsertBlock(f->b);
	cond = LLVMBuildICmp(f->b, LLVMIntSLT, next, l->end, "");
	exit = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "done");
	LLVMBuildCondBr(f->b, cond, l->body, exit);
	LLVMAddIncoming(l->iv, &next, &latch, 1);
	LLVMPositionBuilderAtEnd(f->b, exit);
}

LLVMValueRef
cg_loop_begin_dyn(cg_fn *f, LLVMValueRef lo, LLVMValueRef hi, cg_loop *l)
{
	LLVMBasicBlockRef guard = LLVMGetInsertBlock(f->b);
	LLVMValueRef cond = LLVMBuildICmp(f->b, LLVMIntSLT, lo, hi, "");

	l->body = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "dloop");
	l->pre = LLVMAppendBasicBlockInContext(f->c->ctx, f->fn, "dexit");
	LLVMBuildCondBr(f->b, cond, l->body, l->pre);
	LLVMPositionBuilderAtEnd(f->b, l->body);
	l->iv = LLVMBuildPhi(f->b, f->c->i64, "j");
	LLVMAddIncoming(l->iv, &lo, &guard, 1);
	l->end = hi;
	l->trip = 0;
	f->tdyn++;
	return l->iv;
}

void
cg_loop_end_dyn(cg_fn *f, cg_loop *l)
{
	LLVMValueRef next = LLVMBuildNSWAdd(f->b, l->iv, cg_i64(f, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
	LLVMValueRef cond = LLVMBuildICmp(f->b, LLVMIntSLT, next, l->end, "");

	LLVMBuildCondBr(f->b, cond, l->body, l->pre);
	LLVMAddIncoming(l->iv, &next, &latch, 1);
	LLVMPositionBuilderAtEnd(f->b, l->pre);
	f->tdyn--;
}

void
cg_loop_end_novec(cg_fn *f, cg_loop *l, bool dyn)
{
	LLVMContextRef ctx = f->c->ctx;
	LLVMMetadataRef tmp, ops[2], kv[2], loop;
	LLVMBasicBlockRef latch;

	if (dyn)
		cg_loop_end_dyn(f, l);
	else
		cg_loop_end(f, l);
	if (!l->body)
		return;
	latch = LLVMGetIncomingBlock(l->iv, 1);
	tmp = LLVMTemporaryMDNode(ctx, NULL, 0);
	kv[0] = LLVMMDStringInContext2(ctx, "llvm.loop.vectorize.enable", 26);
	kv[1] = LLVMValueAsMetadata(LLVMConstInt(LLVMInt1TypeInContext(ctx),
						 0, 0));
	ops[0] = tmp;
	ops[1] = LLVMMDNodeInContext2(ctx, kv, 2);
	loop = LLVMMDNodeInContext2(ctx, ops, 2);
	LLVMMetadataReplaceAllUsesWith(tmp, loop);
	LLVMSetMetadata(LLVMGetBasicBlockTerminator(latch),
			LLVMGetMDKindIDInContext(ctx, "llvm.loop", 9),
			LLVMMetadataAsValue(ctx, loop));
}

void
cg_nest_begin(cg_fn *f, int rank, const int64_t *dims, LLVMValueRef *ivs,
	      cg_loop *loops)
{
	for (int k = 0; k < rank; k++)
		ivs[k] = cg_loop_begin(f, dims[k], &loops[k]);
}

void
cg_nest_end(cg_fn *f, int rank, cg_loop *loops)
{
	for (int k = rank - 1; k >= 0; k--)
		cg_loop_end(f, &loops[k]);
}

LLVMValueRef
cg_linear(cg_fn *f, int rank, const LLVMValueRef *ivs, const int64_t *st,
	  int64_t base)
{
	LLVMValueRef acc = cg_i64(f, base);

	for (int k = 0; k < rank; k++) {
		LLVMValueRef t;
		if (st[k] == 0)
			continue;
		t = st[k] == 1 ? ivs[k]
			       : LLVMBuildNSWMul(f->b, ivs[k],
						 cg_i64(f, st[k]), "");
		acc = LLVMBuildNSWAdd(f->b, acc, t, "");
	}
	return acc;
}

LLVMValueRef
cg_gep(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx)
{
	LLVMTypeRef et = LLVMGetElementType(LLVMTypeOf(ptr));

	return LLVMBuildInBoundsGEP2(f->b, et, ptr, &idx, 1, "");
}

LLVMValueRef
cg_load(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx)
{
	LLVMTypeRef et = LLVMGetElementType(LLVMTypeOf(ptr));

	return LLVMBuildLoad2(f->b, et, cg_gep(f, ptr, idx), "");
}

void
cg_store(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, LLVMValueRef v)
{
	LLVMBuildStore(f->b, v, cg_gep(f, ptr, idx));
}

LLVMValueRef
cg_add(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (ir_dtype_is_float(t))
		return LLVMBuildFAdd(f->b, a, b, "");
	return LLVMBuildAdd(f->b, a, b, "");
}

LLVMValueRef
cg_mul(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (ir_dtype_is_float(t))
		return LLVMBuildFMul(f->b, a, b, "");
	return LLVMBuildMul(f->b, a, b, "");
}

/* A float max/min that propagates NaN from either operand (numpy's
 * maximum/minimum; README "Floating-point contract"). With b a constant
 * that is not NaN (Relu's 0, Clip's bounds) one unordered compare does
 * it; otherwise a second compare catches a NaN b. */
static LLVMValueRef
fminmax(cg_fn *f, LLVMValueRef a, LLVMValueRef b, bool mx)
{
	LLVMValueRef r;

	r = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, mx ? LLVMRealUGT
		: LLVMRealULT, a, b, ""), a, b, "");
	if (LLVMIsConstant(b) && !LLVMIsConstant(a))
		return r;
	return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealUNO, b, b,
		""), b, r, "");
}

LLVMValueRef
cg_max(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (ir_dtype_is_float(t))
		return fminmax(f, a, b, true);
	return LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, ir_dtype_is_unsigned(t)
		? LLVMIntUGT : LLVMIntSGT, a, b, ""), a, b, "");
}

LLVMValueRef
cg_min(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b)
{
	if (ir_dtype_is_float(t))
		return fminmax(f, a, b, false);
	return LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, ir_dtype_is_unsigned(t)
		? LLVMIntULT : LLVMIntSLT, a, b, ""), a, b, "");
}

static LLVMValueRef
declare(cg_ctx *c, const char *name, LLVMTypeRef ret, int nargs,
	LLVMTypeRef arg)
{
	LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
	LLVMTypeRef args[2] = {arg, arg};

	if (!fn)
		fn = LLVMAddFunction(c->mod, name,
				     LLVMFunctionType(ret, args, nargs, 0));
	return fn;
}

LLVMValueRef
cg_call(cg_fn *f, const char *name, LLVMTypeRef ret, LLVMValueRef *args,
	int nargs)
{
	LLVMTypeRef at[8];
	LLVMValueRef fn = LLVMGetNamedFunction(f->c->mod, name);

	NN_ASSERT(nargs <= 8);
	for (int i = 0; i < nargs; i++)
		at[i] = LLVMTypeOf(args[i]);
	if (!fn)
		fn = LLVMAddFunction(f->c->mod, name, LLVMFunctionType(ret, at,
				     (unsigned)nargs, 0));
	return LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			      args, (unsigned)nargs, "");
}

LLVMValueRef
cg_intrin(cg_fn *f, const char *name, ir_dtype t, int nargs,
	  LLVMValueRef *args)
{
	char full[64];
	LLVMTypeRef ty = cg_type(f->c, t);
	LLVMValueRef fn;

	snprintf(full, sizeof full, "llvm.%s.%s", name,
		 t == IR_F64 ? "f64" : "f32");
	fn = declare(f->c, full, ty, nargs, ty);
	return LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			      args, (unsigned)nargs, "");
}

LLVMValueRef
cg_libm(cg_fn *f, const char *name, ir_dtype t, LLVMValueRef x)
{
	char full[64];
	LLVMTypeRef ty = cg_type(f->c, t);
	LLVMValueRef fn;

	snprintf(full, sizeof full, "%s%s", name, t == IR_F64 ? "" : "f");
	fn = declare(f->c, full, ty, 1, ty);
	return LLVMBuildCall2(f->b, LLVMGetElementType(LLVMTypeOf(fn)), fn,
			      &x, 1, "");
}

void
cg_memcpy(cg_fn *f, LLVMValueRef dst, LLVMValueRef doff, LLVMValueRef src,
	  LLVMValueRef soff, int64_t nbytes)
{
	LLVMTypeRef p8 = f->c->ptr;
	LLVMValueRef d8 = LLVMBuildBitCast(f->b, dst, p8, "");
	LLVMValueRef s8 = LLVMBuildBitCast(f->b, src, p8, "");

	if (nbytes <= 0)
		return;
	d8 = LLVMBuildInBoundsGEP2(f->b, f->c->i8, d8, &doff, 1, "");
	s8 = LLVMBuildInBoundsGEP2(f->b, f->c->i8, s8, &soff, 1, "");
	LLVMBuildMemCpy(f->b, d8, 1, s8, 1, cg_i64(f, nbytes));
}

void
cg_strides(const ir_shape *s, int64_t *st)
{
	int64_t acc = 1;

	for (int k = s->rank - 1; k >= 0; k--) {
		st[k] = acc;
		acc *= s->dim[k];
	}
}

void
cg_bcast_strides(const ir_shape *in, const ir_shape *out, int64_t *st)
{
	int64_t s[IR_MAX_RANK];
	int off = out->rank - in->rank;

	cg_strides(in, s);
	for (int k = 0; k < out->rank; k++) {
		int j = k - off;
		st[k] = j < 0 || in->dim[j] == 1 ? 0 : s[j];
	}
}

LLVMValueRef
cg_const_global(cg_ctx *c, const char *tag, const void *data, size_t nbytes)
{
	char name[256];
	LLVMValueRef init, gv;

	snprintf(name, sizeof name, "%s_%s", c->name, tag);
	init = LLVMConstStringInContext(c->ctx, data ? data : "",
					data ? (unsigned)nbytes : 0, 1);
	gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddr(gv, 1);
	LLVMSetAlignment(gv, 64);
	return gv;
}

LLVMValueRef
cg_i64_table(cg_fn *f, const int64_t *v, int64_t n)
{
	LLVMValueRef g = cg_const_global(f->c, "tab", v,
					 (size_t)n * sizeof *v);

	return LLVMBuildBitCast(f->b, g, LLVMPointerType(f->c->i64, 0), "");
}

LLVMValueRef
cg_f32_table(cg_fn *f, const float *v, int64_t n)
{
	LLVMValueRef g = cg_const_global(f->c, "tab", v,
					 (size_t)n * sizeof *v);

	return LLVMBuildBitCast(f->b, g, LLVMPointerType(f->c->f32, 0), "");
}

bool
cg_const_ints(cg_fn *f, int i, int64_t *v, int64_t max, int64_t *n)
{
	const ir_value *x = i < f->n->nin ? f->n->in[i] : NULL;
	int64_t cnt;

	if (!x || !x->data)
		return cg_fail(f, "input %d must be a constant for code "
			       "generation", i);
	cnt = ir_shape_numel(&x->shape);
	if (cnt > max)
		return cg_fail(f, "input %d has too many elements", i);
	for (int64_t k = 0; k < cnt; k++)
		v[k] = ir_load_i64(x->data, x->dtype, k);
	*n = cnt;
	return true;
}

bool
cg_is_identifier(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

char *
cg_default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	char *s, *dot;

	s = nn_xstrdup(base ? base + 1 : path);
	if ((dot = strchr(s, '.')))
		*dot = 0;
	for (char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			*p = '_';
	if (!*s || isdigit((unsigned char)*s)) {
		char *t = nn_xmalloc(strlen(s) + 2);
		t[0] = '_';
		strcpy(t + 1, s);
		free(s);
		s = t;
	}
	return s;
}

typedef bool (*lower_fn)(cg_fn *f);

static const lower_fn lowerers[IR_NKINDS] = {
	[IR_KIND_UNARY] = cg_lower_unary,
	[IR_KIND_BINARY] = cg_lower_binary,
	[IR_KIND_CONV] = cg_lower_conv,
	[IR_KIND_GEMM] = cg_lower_gemm,
	[IR_KIND_POOL] = cg_lower_pool,
	[IR_KIND_NORM] = cg_lower_norm,
	[IR_KIND_SOFTMAX] = cg_lower_softmax,
	[IR_KIND_REDUCE] = cg_lower_reduce,
	[IR_KIND_RESHAPE] = cg_lower_data,
	[IR_KIND_TRANSPOSE] = cg_lower_data,
	[IR_KIND_CONCAT] = cg_lower_data,
	[IR_KIND_SPLIT] = cg_lower_data,
	[IR_KIND_SLICE] = cg_lower_data,
	[IR_KIND_GATHER] = cg_lower_data,
	[IR_KIND_PAD] = cg_lower_data,
	[IR_KIND_SHAPE] = cg_lower_data,
	[IR_KIND_CONSTANT] = cg_lower_data,
	[IR_KIND_CAST] = cg_lower_data,
	[IR_KIND_RESIZE] = cg_lower_resize,
	[IR_KIND_FUSED] = cg_lower_fused,
	[IR_KIND_NARY] = cg_lower_nary,
	[IR_KIND_EXPAND] = cg_lower_expand,
	[IR_KIND_SCATTER] = cg_lower_scatter,
	[IR_KIND_RNN] = cg_lower_rnn,
	[IR_KIND_SIGNAL] = cg_lower_signal,
	[IR_KIND_LOSS] = cg_lower_loss,
	[IR_KIND_INDEX] = cg_lower_index,
	[IR_KIND_LINALG] = cg_lower_linalg,
	[IR_KIND_SAMPLE] = cg_lower_sample,
	[IR_KIND_CONTROL] = cg_lower_control,
};

/* Ops of a lowered kind that code generation refuses (the interpreter
 * runs them, nncc cannot compile them yet), IR_NOPS-terminated. The
 * unit test codegen_test walks ops.def: every op's kind lowers or the op
 * is here. */
static const ir_op not_lowered[] = {IR_NOPS};

bool
cg_kind_lowers(ir_kind k)
{
	return k >= 0 && k < IR_NKINDS && lowerers[k] != NULL;
}

bool
cg_op_not_lowered(ir_op op)
{
	for (int i = 0; not_lowered[i] != IR_NOPS; i++)
		if (not_lowered[i] == op)
			return true;
	return false;
}

/* nncc.FusedConv/FusedGemm: the base op on a view of the node (at most
 * three inputs), then the residual add and activation over its output. */
bool
cg_lower_fused(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_node b = *n;
	bool ok;

	b.op = ir_fused_base(n->op);
	b.nin = n->nin > 3 ? 3 : n->nin;
	f->n = &b;
	f->fused = n;
	f->epi_done = false;
	ok = b.op == OP_Conv ? cg_lower_conv(f) : cg_lower_gemm(f);
	f->n = n;
	f->fused = NULL;
	/* the epilogue's pass over the whole output is no task's unit */
	if (!f->epi_done)
		f->tunsplit = true;
	return ok && (f->epi_done || cg_lower_fused_epilogue(f));
}

void
cg_add_attr(cg_ctx *c, LLVMValueRef fn, unsigned idx, const char *name)
{
	unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));

	LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(c->ctx, kind,
								 0));
}

/* Operands a kernel did not read (weights it repacked) lose their cast,
 * so that call_node passes NULL and their global is never emitted. */
static void
drop_unused(const ir_node *n, cg_fn *f)
{
	for (int i = 0; i < n->nin; i++)
		if (f->in[i] && LLVMIsAInstruction(f->in[i]) &&
		    !LLVMGetFirstUse(f->in[i]))
			LLVMInstructionEraseFromParent(f->in[i]);
}

/* Node functions take every operand as an i8*; the plan guarantees that
 * outputs never overlap inputs, hence noalias. They return a cg_status.
 * A node of a top-level graph that cg_node_tasks splits takes two i64
 * more after its scratch: its task's index and the task count (0 of 1:
 * the whole node, as NAME_run calls it). */
LLVMValueRef
cg_build_node(cg_ctx *c, const ir_node *n, int idx)
{
	char name[256];
	int na = n->nin + n->nout, ns = cg_node_scratch_bytes(n) > 0;
	int nt = c->tasks && cg_node_tasks(n, c->o) > 1 ? 2 : 0;
	LLVMTypeRef *pt = nn_xcalloc((size_t)na + 4, sizeof *pt);
	LLVMValueRef fn;
	cg_fn f = {.c = c, .b = c->b, .n = n, .tmult = 1};
	cg_kernel k;
	bool ok;

	for (int i = 0; i < na + ns + nt; i++)
		pt[i] = i < na + ns ? c->ptr : c->i64;
	snprintf(name, sizeof name, "%s_%s_%d", c->name, ir_ops[n->op].name,
		 idx);
	fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->i32, pt,
		(unsigned)(na + ns + nt), 0));
	free(pt);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
	/* one function per layer in the object too: inlining every layer
	 * into the run function only makes LLVM's passes slower */
	cg_add_attr(c, fn, LLVMAttributeFunctionIndex, "noinline");
	for (int i = 0; i < na + ns; i++)
		cg_add_attr(c, fn, (unsigned)i + 1, "noalias");
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(
		c->ctx, fn, "entry"));
	f.fn = fn;
	f.in = nn_xcalloc((size_t)n->nin + 1, sizeof *f.in);
	f.out = nn_xcalloc((size_t)n->nout + 1, sizeof *f.out);
	for (int i = 0; i < na; i++) {
		const ir_value *v = i < n->nin ? n->in[i] : n->out[i - n->nin];
		LLVMValueRef *slot = i < n->nin ? &f.in[i] : &f.out[i - n->nin];
		if (v)
			*slot = LLVMBuildBitCast(c->b, LLVMGetParam(fn,
				(unsigned)i), LLVMPointerType(cg_type(c,
				v->dtype), 0), "");
	}
	if (ns)
		f.scratch = LLVMGetParam(fn, (unsigned)na);
	if (nt)
		cg_task_setup(&f, LLVMGetParam(fn, (unsigned)(na + ns)),
			      LLVMGetParam(fn, (unsigned)(na + ns + 1)));
	k = cg_sparse_kernel(c, n, true);
	if (k == CG_KERNEL_UNROLLED || k == CG_KERNEL_TABLE)
		ok = cg_lower_sparse(&f, k);
	else
		ok = cg_kind_lowers(ir_ops[n->op].kind) &&
		     !cg_op_not_lowered(n->op)
		     ? lowerers[ir_ops[n->op].kind](&f)
		     : cg_fail(&f, "no code generation for this op");
	if (c->tasks)
		c->tasks[idx] = !nt ? 0 : cg_task_finish(&f)
				? cg_node_tasks(n, c->o) : 1;
	drop_unused(n, &f);
	free(f.in);
	free(f.out);
	LLVMBuildRet(c->b, cg_node_status(&f));
	if (!ok) {
		LLVMDeleteFunction(fn);
		return NULL;
	}
	return cg_lift_consts(c, fn, &c->consts[idx]);
}

/* The context and module of g under o; false after reporting a problem
 * (c is then disposed). */
bool
cg_build(cg_ctx *c, ir_graph *g, const cg_options *o, bool profile,
	 nn_diag *d)
{
	bool ok;

	memset(c, 0, sizeof *c);
	c->ctx = LLVMContextCreate();
	c->mod = LLVMModuleCreateWithNameInContext(o->name, c->ctx);
	if (o->size_level) /* the object's STT_FILE symbol: no name bytes */
		LLVMSetSourceFileName(c->mod, "", 0);
	c->b = LLVMCreateBuilderInContext(c->ctx);
	c->g = g;
	c->d = d;
	c->name = o->name;
	c->o = o;
	c->profile = profile;
	c->i1 = LLVMInt1TypeInContext(c->ctx);
	c->i8 = LLVMInt8TypeInContext(c->ctx);
	c->i16 = LLVMInt16TypeInContext(c->ctx);
	c->i32 = LLVMInt32TypeInContext(c->ctx);
	c->i64 = LLVMInt64TypeInContext(c->ctx);
	c->f16 = LLVMHalfTypeInContext(c->ctx);
	c->f32 = LLVMFloatTypeInContext(c->ctx);
	c->f64 = LLVMDoubleTypeInContext(c->ctx);
	c->ptr = LLVMPointerType(c->i8, 0);
	ok = cg_setup_target(c, o);
	c->plan = ok ? cg_plan_build(g, o, d) : NULL;
	ok = c->plan && cg_build_run(c, c->plan);
	if (ok)
		cg_build_entries(c, c->plan);
	LLVMDisposeBuilder(c->b);
	c->b = NULL;
	if (!ok) { /* a node code generation refused: the target too */
		LLVMDisposeModule(c->mod);
		c->mod = NULL;
		cg_release_target();
		cg_ctx_dispose(c);
	}
	return ok;
}

void
cg_ctx_dispose(cg_ctx *c)
{
	LLVMContextDispose(c->ctx);
	for (int i = 0; c->consts && i < c->plan->nnodes; i++)
		free(c->consts[i]);
	free(c->consts);
	c->consts = NULL;
	free(c->tasks);
	c->tasks = NULL;
	cg_plan_free(c->plan);
	c->ctx = NULL;
	c->plan = NULL;
}

bool
cg_compile_bytes(ir_graph *g, const cg_options *o, cg_bytes *out,
		 nn_diag *d)
{
	cg_ctx c;
	bool ok = cg_build(&c, g, o, false, d);

	out->data = NULL;
	out->len = 0;
	if (!ok)
		return false;
	if (o->phase)
		o->phase(o->phase_ctx, "lower");
	ok = cg_emit(&c, o, out); /* disposes the module */
	cg_ctx_dispose(&c);
	if (ok && o->print_stats)
		cg_print_measured(g, o, d);
	return ok;
}

bool
cg_compile(ir_graph *g, const cg_options *o, const char *path, nn_diag *d)
{
	cg_bytes b;
	bool ok = cg_compile_bytes(g, o, &b, d) &&
		  nn_out_write_file(path, b.data, b.len, d);

	free(b.data);
	return ok;
}

ir_dtype
cg_ctype(ir_dtype t)
{
	return t == IR_F16 || t == IR_BF16 ? IR_F32 : t;
}

LLVMValueRef
cg_load_c(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, ir_dtype t)
{
	LLVMValueRef v = cg_load(f, ptr, idx);

	return cg_ctype(t) == t ? v : cg_convert(f, v, t, cg_ctype(t));
}

LLVMValueRef
cg_load_f64(cg_fn *f, int k, LLVMValueRef idx)
{
	ir_dtype t = f->n->in[k]->dtype;

	return cg_convert(f, cg_load_c(f, f->in[k], idx, t), cg_ctype(t),
			  IR_F64);
}

void
cg_store_c(cg_fn *f, LLVMValueRef ptr, LLVMValueRef idx, LLVMValueRef v,
	   ir_dtype t)
{
	if (cg_ctype(t) != t)
		v = cg_convert(f, v, cg_ctype(t), t);
	cg_store(f, ptr, idx, v);
}

void
cg_coalesce(int *rank, int64_t *dims, int nst, int64_t (*st)[IR_MAX_RANK])
{
	int r = 0;

	for (int k = 0; k < *rank; k++) {
		bool merge = r > 0;
		if (dims[k] == 1)
			continue;
		for (int s = 0; merge && s < nst; s++)
			merge = st[s][r - 1] == st[s][k] * dims[k];
		if (merge) {
			dims[r - 1] *= dims[k];
			for (int s = 0; s < nst; s++)
				st[s][r - 1] = st[s][k];
			continue;
		}
		dims[r] = dims[k];
		for (int s = 0; s < nst; s++)
			st[s][r] = st[s][k];
		r++;
	}
	if (r == 0) {
		dims[0] = 1;
		for (int s = 0; s < nst; s++)
			st[s][0] = 0;
		r = 1;
	}
	*rank = r;
}

/* Allocas go to the entry block so that mem2reg promotes them. */
LLVMValueRef
cg_alloca(cg_fn *f, LLVMTypeRef t)
{
	LLVMBuilderRef b = LLVMCreateBuilderInContext(f->c->ctx);
	LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(f->fn);
	LLVMValueRef first = LLVMGetFirstInstruction(entry), a;

	if (first)
		LLVMPositionBuilderBefore(b, first);
	else
		LLVMPositionBuilderAtEnd(b, entry);
	a = LLVMBuildAlloca(b, t, "");
	LLVMDisposeBuilder(b);
	return a;
}
