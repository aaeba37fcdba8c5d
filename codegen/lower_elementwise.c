/* Lowering of elementwise ops: unary math (incl. Clip) over a flat loop,
 * and numpy-broadcast binary math over a coalesced loop nest. */
#include <math.h>
#include <string.h>

#include "cg_internal.h"

/* The float v in x's type: t, or (an activation in the GEMM kernel's
 * registers, cg_act_apply) a vector of f32. */
static LLVMValueRef
fk(cg_fn *f, ir_dtype t, LLVMValueRef x, double v)
{
	if (LLVMGetTypeKind(LLVMTypeOf(x)) == LLVMVectorTypeKind)
		return cg_vm_const(f, x, v);
	return cg_fconst(f, cg_ctype(t), v);
}

static LLVMValueRef
clamp01(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	x = cg_min(f, t, x, fk(f, t, x, 1.0));
	return cg_max(f, t, x, fk(f, t, x, 0.0));
}

/* A Clip bound: the scalar input if given, else the type's extreme. */
static LLVMValueRef
clip_bound(cg_fn *f, ir_dtype t, int i, bool hi)
{
	const ir_node *n = f->n;

	if (i < n->nin && n->in[i])
		return cg_load_c(f, f->in[i], cg_i64(f, 0), n->in[i]->dtype);
	if (ir_dtype_is_float(t))
		return cg_fconst(f, t, hi ? INFINITY : -INFINITY);
	if (ir_dtype_is_unsigned(t))
		return hi ? LLVMConstAllOnes(cg_type(f->c, t))
			  : LLVMConstNull(cg_type(f->c, t));
	{
		unsigned bits = (unsigned)ir_dtype_size(t) * 8;
		unsigned long long m = (1ull << (bits - 1)) - 1;
		return LLVMConstInt(cg_type(f->c, t), hi ? m : ~m, 1);
	}
}

static LLVMValueRef
neg(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	return ir_dtype_is_float(t) ? LLVMBuildFNeg(f->b, x, "")
				    : LLVMBuildNeg(f->b, x, "");
}

static LLVMValueRef
unary_op(cg_fn *f, ir_dtype t, LLVMValueRef x);

/* Sign of any numeric type: -1, 0 or 1 (NaN stays NaN). */
static LLVMValueRef
sign(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	LLVMValueRef zero = cg_const(f, t, 0), pos, ng;
	bool u = t == IR_U8 || t == IR_U16 || t == IR_U32 || t == IR_U64;

	if (ir_dtype_is_float(t)) {
		pos = LLVMBuildFCmp(f->b, LLVMRealOGT, x, zero, "");
		ng = LLVMBuildFCmp(f->b, LLVMRealOLT, x, zero, "");
	} else {
		pos = LLVMBuildICmp(f->b, u ? LLVMIntNE : LLVMIntSGT, x, zero,
				    "");
		ng = u ? LLVMConstNull(f->c->i1)
		       : LLVMBuildICmp(f->b, LLVMIntSLT, x, zero, "");
		x = zero;
	}
	return LLVMBuildSelect(f->b, pos, cg_const(f, t, 1), LLVMBuildSelect(
		f->b, ng, cg_const(f, t, -1), x, ""), "");
}

/* The unary ops added with the wider op set (ops engineer): rounding,
 * trigonometry and the exponential-family activations. */
static LLVMValueRef
unary_more(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	const ir_node *n = f->n;
	LLVMValueRef zero = cg_const(f, t, 0), one = cg_const(f, t, 1), a, e;
	/* alpha, for the ops that have one (default from attrs.def) */
	double al = ir_attr_schema(n->op, "alpha") == IR_ATTR_FLOAT
		    ? ir_attr_f(n, "alpha") : 0;

	switch (n->op) {
	case OP_Floor: return cg_intrin(f, "floor", t, 1, &x);
	case OP_Ceil: return cg_intrin(f, "ceil", t, 1, &x);
	case OP_Round: return cg_intrin(f, "rint", t, 1, &x);
	case OP_Sin: return cg_intrin(f, "sin", t, 1, &x);
	case OP_Cos: return cg_intrin(f, "cos", t, 1, &x);
	case OP_Tan: return cg_libm(f, "tan", t, x);
	case OP_Acos: return cg_libm(f, "acos", t, x);
	case OP_Asin: return cg_libm(f, "asin", t, x);
	case OP_Atan: return cg_libm(f, "atan", t, x);
	case OP_Sinh: return cg_libm(f, "sinh", t, x);
	case OP_Cosh: return cg_libm(f, "cosh", t, x);
	case OP_Asinh: return cg_libm(f, "asinh", t, x);
	case OP_Acosh: return cg_libm(f, "acosh", t, x);
	case OP_Atanh: return cg_libm(f, "atanh", t, x);
	case OP_Sign: return sign(f, t, x);
	case OP_Softsign:
		return LLVMBuildFDiv(f->b, x, LLVMBuildFAdd(f->b, one,
			cg_intrin(f, "fabs", t, 1, &x), ""), "");
	case OP_Softplus:
		/* max(x, 0) + log1p(exp(-|x|)): exp never overflows. */
		a = neg(f, t, cg_intrin(f, "fabs", t, 1, &x));
		a = cg_libm(f, "log1p", t, cg_intrin(f, "exp", t, 1, &a));
		return LLVMBuildFAdd(f->b, cg_max(f, t, x, zero), a, "");
	case OP_Elu:
		a = LLVMBuildFMul(f->b, fk(f, t, x, al),
				  cg_libm(f, "expm1", t, x), "");
		return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLT, x,
			zero, ""), a, x, "");
	case OP_Selu:
		a = LLVMBuildFMul(f->b, fk(f, t, x, al), cg_math(f, CG_EXP,
			t, x), "");
		a = LLVMBuildFSub(f->b, a, fk(f, t, x, al), "");
		a = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLE, x,
			zero, ""), a, x, "");
		return LLVMBuildFMul(f->b, a, fk(f, t, x, ir_attr_f(n,
			"gamma")), "");
	case OP_Celu:
		e = LLVMBuildFDiv(f->b, x, fk(f, t, x, al), "");
		a = LLVMBuildFMul(f->b, fk(f, t, x, al),
				  cg_libm(f, "expm1", t, e), "");
		return LLVMBuildFAdd(f->b, cg_max(f, t, x, zero),
				     cg_min(f, t, a, zero), "");
	case OP_ThresholdedRelu:
		return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOGT, x,
			fk(f, t, x, al), ""), x, zero, "");
	case OP_Shrink: /* NaN compares false both ways: 0, as ir/op_unary.c */
		al = ir_attr_f(n, "lambd");
		e = fk(f, t, x, ir_attr_f(n, "bias"));
		a = LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOGT, x,
			fk(f, t, x, al), ""), LLVMBuildFSub(f->b, x, e, ""),
			zero, "");
		e = LLVMBuildFAdd(f->b, x, e, "");
		return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLT, x,
			fk(f, t, x, -al), ""), e, a, "");
	default:
		return NULL;
	}
}

static LLVMValueRef
unary_op(cg_fn *f, ir_dtype t, LLVMValueRef x)
{
	const ir_node *n = f->n;
	bool fl = ir_dtype_is_float(t);
	LLVMValueRef zero = fl ? fk(f, t, x, 0) : cg_const(f, t, 0);
	LLVMValueRef one = fl ? fk(f, t, x, 1) : cg_const(f, t, 1), a;

	switch (n->op) {
	case OP_Abs:
		if (fl)
			return cg_intrin(f, "fabs", t, 1, &x);
		return cg_max(f, t, x, neg(f, t, x));
	case OP_Clip:
		x = cg_max(f, t, x, clip_bound(f, t, 1, false));
		return cg_min(f, t, x, clip_bound(f, t, 2, true));
	case OP_Erf: return cg_math(f, CG_ERF, t, x);
	case OP_Exp: return cg_math(f, CG_EXP, t, x);
	case OP_Log: return cg_math(f, CG_LOG, t, x);
	case OP_Sqrt: return cg_intrin(f, "sqrt", t, 1, &x);
	case OP_Tanh: return cg_math(f, CG_TANH, t, x);
	case OP_Neg: return neg(f, t, x);
	case OP_Reciprocal: return LLVMBuildFDiv(f->b, one, x, "");
	case OP_Relu: return cg_max(f, t, x, zero);
	case OP_Sigmoid: return cg_math(f, CG_SIGMOID, t, x);
	case OP_Silu: return LLVMBuildFMul(f->b, x, cg_math(f, CG_SIGMOID, t,
						     x), "");
	case OP_Gelu: /* the order of ir/op_unary.c */
		a = LLVMBuildFDiv(f->b, x, fk(f, t, x, 1.41421354f), "");
		a = LLVMBuildFAdd(f->b, cg_math(f, CG_ERF, t, a), one, "");
		return LLVMBuildFMul(f->b, LLVMBuildFMul(f->b, x, a, ""),
				     fk(f, t, x, ir_attr_f(n, "alpha")), "");
	case OP_GeluTanh: /* the order of ir/op_unary.c */
		a = LLVMBuildFMul(f->b, x, LLVMBuildFMul(f->b, x, x, ""), "");
		a = LLVMBuildFMul(f->b, fk(f, t, x, 0.044715f), a, "");
		a = LLVMBuildFMul(f->b, fk(f, t, x, 0.7978846f),
				  LLVMBuildFAdd(f->b, x, a, ""), "");
		a = LLVMBuildFAdd(f->b, one, cg_math(f, CG_TANH, t, a), "");
		return LLVMBuildFMul(f->b, LLVMBuildFMul(f->b, x, a, ""),
				     fk(f, t, x, ir_attr_f(n, "alpha")), "");
	case OP_HardSigmoid:
		a = LLVMBuildFMul(f->b, x, fk(f, t, x, ir_attr_f(n, "alpha")),
				  "");
		a = LLVMBuildFAdd(f->b, a, fk(f, t, x, ir_attr_f(n, "beta")),
				  "");
		return clamp01(f, t, a);
	case OP_HardSwish:
		a = LLVMBuildFMul(f->b, x, fk(f, t, x, 1.0 / 6), "");
		a = clamp01(f, t, LLVMBuildFAdd(f->b, a, fk(f, t, x, 0.5), ""));
		return LLVMBuildFMul(f->b, x, a, "");
	case OP_LeakyRelu:
		a = LLVMBuildFMul(f->b, x, fk(f, t, x, ir_attr_f(n, "alpha")),
				  "");
		return LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b, LLVMRealOLT, x,
			zero, ""), a, x, "");
	default:
		return unary_more(f, t, x);
	}
}

bool
cg_lower_unary(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, ct = cg_ctype(t);
	int64_t cnt = ir_shape_numel(&n->out[0]->shape);
	cg_loop l;
	LLVMValueRef i, x;

	/* integers only for the INT rows of ops.def, as the interpreter */
	if (!ir_dtype_is_float(t) && (!ir_op_has(n->op, IR_OPF_INT) ||
				      t == IR_BOOL))
		return cg_fail(f, "element type %s is not supported",
			       ir_dtype_name(t));
	i = cg_loop_begin(f, cnt, &l);
	x = unary_op(f, ct, cg_load_c(f, f->in[0], i, t));
	if (!x)
		return cg_fail(f, "op not supported by code generation");
	cg_store_c(f, f->out[0], i, x, t);
	cg_loop_end(f, &l);
	return true;
}

static LLVMValueRef
int_pow(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b, ir_dtype bt)
{
	LLVMValueRef args[2];

	args[0] = cg_convert(f, a, t, IR_F64);
	args[1] = cg_convert(f, b, bt, IR_F64);
	return cg_convert(f, cg_intrin(f, "pow", IR_F64, 2, args), IR_F64, t);
}

/* Integer Div that never traps: a zero divisor is CG_ERR_DIV_ZERO (the
 * element divides by 1), INT_MIN / -1 wraps to INT_MIN as in the
 * interpreter (ir/op_binary.c). */
static LLVMValueRef
int_div(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b, bool un)
{
	LLVMValueRef zero = cg_const(f, t, 0), one = cg_const(f, t, 1);
	LLVMValueRef z = LLVMBuildICmp(f->b, LLVMIntEQ, b, zero, ""), m1, r;

	cg_runtime_error(f, z, CG_ERR_DIV_ZERO);
	if (un)
		return LLVMBuildUDiv(f->b, a, LLVMBuildSelect(f->b, z, one, b,
			""), "");
	m1 = LLVMBuildICmp(f->b, LLVMIntEQ, b, cg_const(f, t, -1), "");
	r = LLVMBuildSDiv(f->b, a, LLVMBuildSelect(f->b, LLVMBuildOr(f->b, z,
		m1, ""), one, b, ""), "");
	return LLVMBuildSelect(f->b, m1, LLVMBuildSub(f->b, zero, a, ""), r,
			       "");
}

static LLVMValueRef
binary_op(cg_fn *f, ir_dtype t, LLVMValueRef a, LLVMValueRef b,
	  ir_dtype bt)
{
	bool fl = ir_dtype_is_float(t);
	bool un = ir_dtype_is_unsigned(t);
	LLVMValueRef args[2] = {a, b};

	switch (f->n->op) {
	case OP_Add: return cg_add(f, t, a, b);
	case OP_Mul: return cg_mul(f, t, a, b);
	case OP_Sub:
		return fl ? LLVMBuildFSub(f->b, a, b, "")
			  : LLVMBuildSub(f->b, a, b, "");
	case OP_Div:
		return fl ? LLVMBuildFDiv(f->b, a, b, "")
			  : int_div(f, t, a, b, un);
	case OP_Pow:
		if (!fl)
			return int_pow(f, t, a, b, bt);
		args[1] = cg_convert(f, b, bt, t);
		return cg_intrin(f, "pow", t, 2, args);
	case OP_PRelu:
		return LLVMBuildSelect(f->b, fl ? LLVMBuildFCmp(f->b,
			LLVMRealOLT, a, cg_const(f, t, 0), "") : LLVMBuildICmp(
			f->b, LLVMIntSLT, a, cg_const(f, t, 0), ""),
			cg_mul(f, t, a, b), a, "");
	default:
		return NULL;
	}
}

bool
cg_lower_binary(cg_fn *f)
{
	const ir_node *n = f->n;
	ir_dtype t = n->in[0]->dtype, bt = n->in[1]->dtype;
	int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
	LLVMValueRef ivs[IR_MAX_RANK], a, b, r;
	cg_loop loops[IR_MAX_RANK];
	int rank = n->out[0]->shape.rank;

	if (t == IR_BOOL || (n->op != OP_Pow && bt != t))
		return cg_fail(f, "element types %s, %s are not supported",
			       ir_dtype_name(t), ir_dtype_name(bt));
	memcpy(dims, n->out[0]->shape.dim, sizeof dims);
	cg_strides(&n->out[0]->shape, st[0]);
	cg_bcast_strides(&n->in[0]->shape, &n->out[0]->shape, st[1]);
	cg_bcast_strides(&n->in[1]->shape, &n->out[0]->shape, st[2]);
	cg_coalesce(&rank, dims, 3, st);
	cg_nest_begin(f, rank, dims, ivs, loops);
	a = cg_load_c(f, f->in[0], cg_linear(f, rank, ivs, st[1], 0), t);
	b = cg_load_c(f, f->in[1], cg_linear(f, rank, ivs, st[2], 0), bt);
	r = binary_op(f, cg_ctype(t), a, b, cg_ctype(bt));
	if (!r)
		return cg_fail(f, "op not supported by code generation");
	cg_store_c(f, f->out[0], cg_linear(f, rank, ivs, st[0], 0), r, t);
	cg_nest_end(f, rank, loops);
	return true;
}

/* The activation node of fused node n (borrowed: the activation op on
 * n's output, its alpha/beta from n's activation_alpha/beta, in attrs). */
static ir_node
act_node(const ir_node *n, ir_op act, ir_attr *attrs)
{
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	ir_node u = {.op = act, .name = n->name, .nin = 1, .nout = 1,
		     .in = n->out, .out = n->out, .attrs = attrs};

	if (al)
		attrs[u.nattrs++] = (ir_attr){.name = "alpha",
			.kind = IR_ATTR_FLOAT, .f = al->f};
	if (be)
		attrs[u.nattrs++] = (ir_attr){.name = "beta",
			.kind = IR_ATTR_FLOAT, .f = be->f};
	return u;
}

/* The activation of the fused node being lowered (f->fused, or f->n for
 * a kernel that takes the whole node) on y, a float or a vector of f32:
 * the same arithmetic as the unary op alone. NULL for a missing case. */
LLVMValueRef
cg_act_apply(cg_fn *f, LLVMValueRef y)
{
	const ir_node *n = f->fused ? f->fused : f->n, *saved = f->n;
	ir_op act = ir_op_lookup(ir_attr_str(n, "activation", ""));
	ir_attr attrs[2];
	ir_node u = act_node(n, act, attrs);
	ir_dtype ct = cg_ctype(n->out[0]->dtype);

	NN_ASSERT(act != IR_NOPS && act != OP_Clip);
	f->n = &u;
	y = unary_op(f, ct, y);
	f->n = saved;
	return y;
}

/* The epilogue of nncc.FusedConv/FusedGemm, after the base op wrote y:
 * y = act(y + residual), with the activation's alpha/beta attributes
 * (Clip: min/max). */
bool
cg_lower_fused_epilogue(cg_fn *f)
{
	const ir_node *n = f->n;
	const char *an = ir_attr_str(n, "activation", NULL);
	ir_op act = an ? ir_op_lookup(an) : IR_NOPS;
	ir_dtype t = n->out[0]->dtype, ct = cg_ctype(t);
	bool res = n->nin > 3 && n->in[3];
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	ir_attr attrs[2];
	ir_node u = act_node(n, act, attrs);
	const ir_node *saved = f->n;
	LLVMValueRef i, y;
	cg_loop l;

	if (!res && act == IR_NOPS)
		return true;
	if (act == IR_NOPS && an)
		return cg_fail(f, "unknown activation '%s'", an);
	i = cg_loop_begin(f, ir_shape_numel(&n->out[0]->shape), &l);
	y = cg_load_c(f, f->out[0], i, t);
	if (res)
		y = cg_add(f, ct, y, cg_load_c(f, f->in[3], i, t));
	if (act == OP_Clip) {
		if (al)
			y = cg_max(f, ct, y, cg_const(f, ct, al->f));
		if (be)
			y = cg_min(f, ct, y, cg_const(f, ct, be->f));
	} else if (act != IR_NOPS) {
		f->n = &u;
		y = unary_op(f, ct, y);
		f->n = saved;
		if (!y)
			return cg_fail(f, "activation '%s' is not supported", an);
	}
	cg_store_c(f, f->out[0], i, y, t);
	cg_loop_end(f, &l);
	return true;
}
