/* Elementwise one-input ops (Abs ... Tanh, Clip with optional scalar
 * min/max inputs): shape inference and reference kernels. f32 runs in
 * float, the other float types through double, integers as raw bits. */
#include <math.h>

#include "elem.h"
#include "ir.h"

static bool
check_clip_bound(ir_node *n, int i, nn_diag *d)
{
	ir_value *b = n->in[0], *v = n->in[i];
	if (!v)
		return true;
	if (v->dtype != b->dtype) {
		nn_error_node(d, n, "%s is %s but the input is %s",
			      i == 1 ? "min" : "max", ir_dtype_name(v->dtype),
			      ir_dtype_name(b->dtype));
		return false;
	}
	if (ir_shape_numel(&v->shape) != 1) {
		nn_error_node(d, n, "%s must be a scalar",
			      i == 1 ? "min" : "max");
		return false;
	}
	return true;
}

bool
ir_shape_unary(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	ir_value *x = n->in[0];
	bool isf = ir_dtype_is_float(x->dtype);
	/* INT rows of ops.def also take integers (unary_int has their case) */
	if (!isf && !(ir_op_has(n->op, IR_OPF_INT) &&
		      ir_dtype_is_int(x->dtype))) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(x->dtype));
		return false;
	}
	if (n->op == OP_Clip)
		for (int i = 1; i < n->nin; i++)
			if (!check_clip_bound(n, i, d))
				return false;
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = x->shape;
	return true;
}

/* One float op; a and b are the op's parameters (alpha/beta, clip
 * bounds). The body is shared by the float and double versions. */
#define UNARY_BODY(T, EXP, LOG, SQRT, TANH, ERF, FABS, M)                  \
	switch (op) {                                                      \
	case OP_Ceil: return M(ceil)(x);                                   \
	case OP_Floor: return M(floor)(x);                                 \
	case OP_Round: return M(rint)(x); /* half to even */               \
	case OP_Sin: return M(sin)(x);                                     \
	case OP_Cos: return M(cos)(x);                                     \
	case OP_Tan: return M(tan)(x);                                     \
	case OP_Acos: return M(acos)(x);                                   \
	case OP_Asin: return M(asin)(x);                                   \
	case OP_Atan: return M(atan)(x);                                   \
	case OP_Sinh: return M(sinh)(x);                                   \
	case OP_Cosh: return M(cosh)(x);                                   \
	case OP_Asinh: return M(asinh)(x);                                 \
	case OP_Acosh: return M(acosh)(x);                                 \
	case OP_Atanh: return M(atanh)(x);                                 \
	case OP_Sign: return x > 0 ? 1 : x < 0 ? -1 : x;                   \
	case OP_Softsign: return x / (1 + FABS(x));                        \
	case OP_Softplus:                                                  \
		return x > 0 ? x + M(log1p)(EXP(-x)) : M(log1p)(EXP(x));   \
	case OP_Elu: return x < 0 ? a * (M(expm1)(x)) : x;                 \
	case OP_Selu: return b * (x <= 0 ? a * EXP(x) - a : x);            \
	case OP_Celu: /* max(0, x) + min(0, ...): NaN propagates */       \
		return x != x ? x : (x > 0 ? x : 0) +                      \
		       (x < 0 ? a * M(expm1)(x / a) : 0);                  \
	case OP_ThresholdedRelu: return x > a ? x : 0;                     \
	case OP_Shrink: /* NaN is neither: 0, as ONNX's reference */       \
		return x < -a ? x + b : x > a ? x - b : 0;                 \
	case OP_Abs: return FABS(x);                                       \
	case OP_Clip: x = x < a ? a : x; return x > b ? b : x;             \
	case OP_Erf: return ERF(x);                                        \
	case OP_Exp: return EXP(x);                                        \
	case OP_HardSigmoid:                                               \
		x = a * x + b;                                             \
		return x < 0 ? 0 : x > 1 ? 1 : x;                          \
	case OP_HardSwish: {                                               \
		T h = x / 6 + (T)0.5;                                      \
		return x * (h < 0 ? 0 : h > 1 ? 1 : h);                    \
	}                                                                  \
	case OP_LeakyRelu: return x < 0 ? a * x : x;                       \
	case OP_Log: return LOG(x);                                        \
	case OP_Neg: return -x;                                            \
	case OP_Reciprocal: return 1 / x;                                  \
	case OP_Relu: return x < 0 ? 0 : x;                                \
	case OP_Sigmoid:                                                   \
		/* Two forms so that exp never overflows to inf/inf. */    \
		if (x >= 0)                                                \
			return 1 / (1 + EXP(-x));                          \
		return EXP(x) / (1 + EXP(x));                              \
	case OP_Sqrt: return SQRT(x);                                      \
	case OP_Tanh: return TANH(x);                                      \
	case OP_Silu: /* the Sigmoid above, then the Mul */                \
		return x * (x >= 0 ? 1 / (1 + EXP(-x))                     \
				   : EXP(x) / (1 + EXP(x)));               \
	case OP_Gelu: /* Div, Erf, Add, Mul, Mul by alpha, rounding each */\
		return x * (ERF(x / (T)1.41421354f) + 1) * a;              \
	case OP_GeluTanh: { /* Mul, Mul, Mul, Add, Mul, Tanh, Add, Mul, */ \
		T c = (T)0.044715f * (x * (x * x)); /* Mul by alpha */     \
		T i = (T)0.7978846f * (x + c);                             \
		return x * (1 + TANH(i)) * a;                              \
	}                                                                  \
	default: nn_unreachable();                                         \
	}

static float
unary_f32(ir_op op, float x, float a, float b)
{
#define MF(fn) fn##f
	UNARY_BODY(float, expf, logf, sqrtf, tanhf, erff, fabsf, MF)
#undef MF
}

static double
unary_f64(ir_op op, double x, double a, double b)
{
#define MD(f) f
	UNARY_BODY(double, exp, log, sqrt, tanh, erf, fabs, MD)
#undef MD
}

static uint64_t
unary_int(ir_op op, uint64_t x, uint64_t lo, uint64_t hi, ir_dtype t)
{
	bool neg = !elem_is_unsigned(t) && (int64_t)x < 0;
	switch (op) {
	case OP_Abs: return neg ? 0 - x : x;
	case OP_Neg: return 0 - x;
	case OP_Relu: return neg ? 0 : x;
	case OP_Sign: return neg ? UINT64_MAX : x != 0;
	case OP_Clip:
		x = elem_less(x, lo, t) ? lo : x;
		return elem_less(hi, x, t) ? hi : x;
	default: nn_unreachable();
	}
}

/* The op's two parameters as doubles: alpha/beta, lambd/bias or the clip
 * bounds (infinite when omitted). */
static void
params(const ir_node *n, const void *const *in, double *a, double *b)
{
	*a = *b = 0;
	switch (n->op) {
	case OP_HardSigmoid:
		*a = ir_attr_f(n, "alpha");
		*b = ir_attr_f(n, "beta");
		break;
	case OP_LeakyRelu: *a = ir_attr_f(n, "alpha"); break;
	case OP_Elu:
	case OP_Celu:
	case OP_ThresholdedRelu:
	case OP_Gelu:
	case OP_GeluTanh: *a = ir_attr_f(n, "alpha"); break;
	case OP_Selu:
		*a = ir_attr_f(n, "alpha");
		*b = ir_attr_f(n, "gamma");
		break;
	case OP_Shrink:
		*a = ir_attr_f(n, "lambd");
		*b = ir_attr_f(n, "bias");
		break;
	case OP_Clip:
		*a = -INFINITY;
		*b = INFINITY;
		if (n->nin > 1 && n->in[1])
			*a = ir_load_f64(in[1], n->in[1]->dtype, 0);
		if (n->nin > 2 && n->in[2])
			*b = ir_load_f64(in[2], n->in[2]->dtype, 0);
		break;
	default: break;
	}
}

/* Clip bounds of an integer tensor, defaulting to the type's range. */
static void
int_bounds(const ir_node *n, const void *const *in, uint64_t *lo,
	   uint64_t *hi)
{
	ir_dtype t = n->in[0]->dtype;
	int bits = (int)ir_dtype_size(t) * 8;
	if (elem_is_unsigned(t)) {
		*lo = 0;
		*hi = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
	} else {
		*hi = (UINT64_C(1) << (bits - 1)) - 1;
		*lo = ~*hi;
	}
	if (n->op != OP_Clip)
		return;
	if (n->nin > 1 && n->in[1])
		*lo = elem_load_bits(in[1], t, 0);
	if (n->nin > 2 && n->in[2])
		*hi = elem_load_bits(in[2], t, 0);
}

bool
ir_eval_unary(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	(void)d;
	ir_dtype t = n->in[0]->dtype;
	int64_t cnt = ir_shape_numel(&n->in[0]->shape);
	if (ir_dtype_is_int(t)) {
		uint64_t lo, hi;
		int_bounds(n, in, &lo, &hi);
		for (int64_t i = 0; i < cnt; i++)
			elem_store_bits(out[0], t, i,
					unary_int(n->op, elem_load_bits(in[0], t, i),
						  lo, hi, t));
		return true;
	}
	double a, b;
	params(n, in, &a, &b);
	if (t == IR_F32) {
		const float *x = in[0];
		float *y = out[0];
		for (int64_t i = 0; i < cnt; i++)
			y[i] = unary_f32(n->op, x[i], (float)a, (float)b);
		return true;
	}
	for (int64_t i = 0; i < cnt; i++)
		ir_store_f64(out[0], t, i,
			     unary_f64(n->op, ir_load_f64(in[0], t, i), a, b));
	return true;
}
