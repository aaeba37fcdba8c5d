/* f32 exp, log, tanh, sigmoid and erf as inline LLVM IR on a float or a
 * <n x float>: range reduction and a polynomial, no branches and no libm
 * call, so that loops over them vectorize. Special values follow the
 * README's floating-point contract exactly; the maximum errors (README,
 * "Floating-point contract") are measured by test/unit/vmath_test.c. */
#include <math.h>

#include "cg_internal.h"

static LLVMTypeRef
int_type(cg_fn *f, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x);

	if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
		return f->c->i32;
	return LLVMVectorType(f->c->i32, LLVMGetVectorSize(t));
}

static LLVMValueRef
splat(LLVMValueRef s, LLVMTypeRef t)
{
	LLVMValueRef e[64];
	unsigned n;

	if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
		return s;
	n = LLVMGetVectorSize(t);
	NN_ASSERT(n <= 64);
	for (unsigned i = 0; i < n; i++)
		e[i] = s;
	return LLVMConstVector(e, n);
}

LLVMValueRef
cg_vm_const(cg_fn *f, LLVMValueRef like, double v)
{
	return splat(LLVMConstReal(f->c->f32, v), LLVMTypeOf(like));
}

static LLVMValueRef
kf(cg_fn *f, LLVMValueRef like, double v)
{
	return cg_vm_const(f, like, v);
}

static LLVMValueRef
ki(cg_fn *f, LLVMValueRef like, long long v)
{
	return splat(LLVMConstInt(f->c->i32, (unsigned long long)v, 1),
		     int_type(f, like));
}

/* llvm.NAME.f32 or llvm.NAME.vNf32 of the operands (all of x's type). */
static LLVMValueRef
intrin(cg_fn *f, const char *name, int nargs, LLVMValueRef *args)
{
	LLVMTypeRef t = LLVMTypeOf(args[0]);
	char full[64];

	if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
		snprintf(full, sizeof full, "llvm.%s.v%uf32", name,
			 LLVMGetVectorSize(t));
	else
		snprintf(full, sizeof full, "llvm.%s.f32", name);
	return cg_call(f, full, t, args, nargs);
}

static LLVMValueRef
fma3(cg_fn *f, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	LLVMValueRef args[3] = {a, b, c};

	return intrin(f, "fma", 3, args);
}

static LLVMValueRef
fabs1(cg_fn *f, LLVMValueRef x)
{
	return intrin(f, "fabs", 1, &x);
}

static LLVMValueRef
sel(cg_fn *f, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(f->b, c, a, b, "");
}

static LLVMValueRef
cmp(cg_fn *f, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFCmp(f->b, p, a, b, "");
}

static LLVMValueRef
mul(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFMul(f->b, a, b, "");
}

static LLVMValueRef
add(cg_fn *f, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildFAdd(f->b, a, b, "");
}

/* Horner's rule with fma: c[0] x^(n-1) + ... + c[n-1]. */
static LLVMValueRef
horner(cg_fn *f, LLVMValueRef x, const double *c, int n)
{
	LLVMValueRef p = kf(f, x, c[0]);

	for (int i = 1; i < n; i++)
		p = fma3(f, p, x, kf(f, x, c[i]));
	return p;
}

/* NaN in, the same NaN out (the interpreter's libm returns its input). */
static LLVMValueRef
keep_nan(cg_fn *f, LLVMValueRef x, LLVMValueRef r)
{
	return sel(f, cmp(f, LLVMRealUNO, x, x), x, r);
}

/* The boundaries of f32 expf (correctly rounded): exp(x) is +inf above
 * EXP_HI (0x42b17217) and +0 below EXP_LO (0xc2cff1b5). */
#define EXP_HI 88.72283172607421875
#define EXP_LO -103.97207641601562500

/* exp(x) = 2^n p(r), n = rint(x / ln 2), r = x - n ln 2 (Cody-Waite in
 * two parts), p Cephes' expf polynomial; 2^n is applied as two powers of
 * two built in the exponent bits, so that subnormal results round once. */
static LLVMValueRef
vm_exp(cg_fn *f, LLVMValueRef x)
{
	static const double p[] = {1.9875691500e-4, 1.3981999507e-3,
				   8.3334519073e-3, 4.1665795894e-2,
				   1.6666665459e-1, 5.0000001201e-1};
	LLVMTypeRef it = int_type(f, x);
	LLVMValueRef xs, n, r, y, ni, n1, n2, s1, s2;

	xs = sel(f, cmp(f, LLVMRealUNO, x, x), kf(f, x, 0), x);
	xs = sel(f, cmp(f, LLVMRealOGT, xs, kf(f, x, 89)), kf(f, x, 89), xs);
	xs = sel(f, cmp(f, LLVMRealOLT, xs, kf(f, x, -105)), kf(f, x, -105),
		 xs);
	n = mul(f, xs, kf(f, x, 1.44269504088896341));
	n = intrin(f, "rint", 1, &n);
	r = fma3(f, n, kf(f, x, -0.693359375), xs);
	r = fma3(f, n, kf(f, x, 2.12194440e-4), r);
	y = horner(f, r, p, 6);
	y = add(f, fma3(f, y, mul(f, r, r), r), kf(f, x, 1));
	ni = LLVMBuildFPToSI(f->b, n, it, "");
	n1 = LLVMBuildAShr(f->b, ni, ki(f, x, 1), "");
	n2 = LLVMBuildSub(f->b, ni, n1, "");
	s1 = LLVMBuildShl(f->b, LLVMBuildAdd(f->b, n1, ki(f, x, 127), ""),
			  ki(f, x, 23), "");
	s2 = LLVMBuildShl(f->b, LLVMBuildAdd(f->b, n2, ki(f, x, 127), ""),
			  ki(f, x, 23), "");
	y = mul(f, mul(f, y, LLVMBuildBitCast(f->b, s1, LLVMTypeOf(x), "")),
		LLVMBuildBitCast(f->b, s2, LLVMTypeOf(x), ""));
	/* exactly the boundaries: finite up to EXP_HI, nonzero down to
	 * EXP_LO (a last-ulp rounding must not cross them) */
	y = sel(f, cmp(f, LLVMRealOGT, y, kf(f, x, 3.4028234663852886e38)),
		kf(f, x, 3.4028234663852886e38), y);
	y = sel(f, cmp(f, LLVMRealOEQ, y, kf(f, x, 0)), kf(f, x, 0x1p-149), y);
	y = sel(f, cmp(f, LLVMRealOGT, xs, kf(f, x, EXP_HI)),
		kf(f, x, INFINITY), y);
	y = sel(f, cmp(f, LLVMRealOLT, xs, kf(f, x, EXP_LO)), kf(f, x, 0), y);
	return keep_nan(f, x, y);
}

/* log(x) = e ln 2 + log(m), x = 2^e m with m in [sqrt(1/2), sqrt(2)),
 * log(1 + t) = t - t^2/2 + t^3 P(t) (Cephes' logf); subnormal x is scaled
 * by 2^23 first. log(0) = -inf, log(x < 0) = NaN, log(inf) = inf. */
static LLVMValueRef
vm_log(cg_fn *f, LLVMValueRef x)
{
	static const double p[] = {7.0376836292e-2, -1.1514610310e-1,
				   1.1676998740e-1, -1.2420140846e-1,
				   1.4249322787e-1, -1.6668057665e-1,
				   2.0000714765e-1, -2.4999993993e-1,
				   3.3333331174e-1};
	LLVMTypeRef it = int_type(f, x);
	LLVMValueRef sub, xs, bits, e, m, small, z, y, fe, r;

	sub = cmp(f, LLVMRealOLT, x, kf(f, x, 0x1p-126));
	xs = sel(f, sub, mul(f, x, kf(f, x, 0x1p23)), x);
	bits = LLVMBuildBitCast(f->b, xs, it, "");
	e = LLVMBuildSub(f->b, LLVMBuildLShr(f->b, bits, ki(f, x, 23), ""),
			 ki(f, x, 126), "");
	e = LLVMBuildSub(f->b, e, sel(f, sub, ki(f, x, 23), ki(f, x, 0)), "");
	m = LLVMBuildOr(f->b, LLVMBuildAnd(f->b, bits, ki(f, x, 0x007fffff),
					   ""), ki(f, x, 0x3f000000), "");
	m = LLVMBuildBitCast(f->b, m, LLVMTypeOf(x), "");
	small = cmp(f, LLVMRealOLT, m, kf(f, x, 0.707106781186547524));
	e = LLVMBuildSub(f->b, e, LLVMBuildZExt(f->b, small, it, ""), "");
	m = LLVMBuildFSub(f->b, sel(f, small, add(f, m, m), m), kf(f, x, 1),
			  "");
	z = mul(f, m, m);
	y = mul(f, mul(f, horner(f, m, p, 9), m), z);
	fe = LLVMBuildSIToFP(f->b, e, LLVMTypeOf(x), "");
	y = fma3(f, fe, kf(f, x, -2.12194440e-4), y);
	y = fma3(f, z, kf(f, x, -0.5), y);
	r = add(f, m, y);
	r = fma3(f, fe, kf(f, x, 0.693359375), r);
	r = sel(f, cmp(f, LLVMRealOEQ, x, kf(f, x, INFINITY)),
		kf(f, x, INFINITY), r);
	r = sel(f, cmp(f, LLVMRealOEQ, x, kf(f, x, 0)), kf(f, x, -INFINITY),
		r);
	r = sel(f, cmp(f, LLVMRealOLT, x, kf(f, x, 0)), kf(f, x, NAN), r);
	return keep_nan(f, x, r);
}

/* tanh: for |x| < 0.625 Cephes' odd polynomial, else
 * sign(x) (1 - 2 / (exp(2|x|) + 1)), which reaches +-1 (exp overflows to
 * inf for |x| > 44). */
static LLVMValueRef
vm_tanh(cg_fn *f, LLVMValueRef x)
{
	static const double p[] = {-5.70498872745e-3, 2.06390887954e-2,
				   -5.37397155531e-2, 1.33314422036e-1,
				   -3.33332819422e-1};
	LLVMValueRef ax = fabs1(f, x), z = mul(f, x, x), s, e, big, args[2];

	s = fma3(f, mul(f, horner(f, z, p, 5), z), x, x);
	e = vm_exp(f, add(f, ax, ax));
	big = LLVMBuildFSub(f->b, kf(f, x, 1), LLVMBuildFDiv(f->b,
		kf(f, x, 2), add(f, e, kf(f, x, 1)), ""), "");
	args[0] = big;
	args[1] = x;
	big = intrin(f, "copysign", 2, args);
	return keep_nan(f, x, sel(f, cmp(f, LLVMRealOLT, ax,
					 kf(f, x, 0.625)), s, big));
}

/* sigmoid as the interpreter computes it: with e = exp(-|x|), 1 / (1 + e)
 * for x >= 0 and e / (1 + e) below, so exp never overflows and the
 * subnormal tail for x < -87 is kept. */
static LLVMValueRef
vm_sigmoid(cg_fn *f, LLVMValueRef x)
{
	LLVMValueRef e = vm_exp(f, LLVMBuildFNeg(f->b, fabs1(f, x), ""));
	LLVMValueRef num = sel(f, cmp(f, LLVMRealOGE, x, kf(f, x, 0)),
			       kf(f, x, 1), e);

	return keep_nan(f, x, LLVMBuildFDiv(f->b, num, add(f, e, kf(f, x, 1)),
					    ""));
}

/* erf: for |x| <= 0.927734375 an odd polynomial in x, above it
 * 1 - exp(-|x| P(|x|)) with the sign of x (N. Juffa's erff coefficients,
 * each part under 1 ulp with a correctly rounded exp); |x| is clamped to
 * 4, where erf is 1 in f32, so P stays in its fitted range. */
static LLVMValueRef
vm_erf(cg_fn *f, LLVMValueRef x)
{
	static const double ps[] = {-5.96761703e-4, 4.99119423e-3,
				    -2.67681349e-2, 1.12819925e-1,
				    -3.76125336e-1, 1.28379166e-1};
	LLVMValueRef t = fabs1(f, x), s = mul(f, x, x), tc, sc, r, u, small;
	LLVMValueRef args[2];

	small = fma3(f, horner(f, s, ps, 6), x, x);
	tc = sel(f, cmp(f, LLVMRealOGT, t, kf(f, x, 4)), kf(f, x, 4), t);
	sc = mul(f, tc, tc);
	r = fma3(f, kf(f, x, -1.72853470e-5), tc, kf(f, x, 3.83197126e-4));
	u = fma3(f, kf(f, x, -3.88396438e-3), tc, kf(f, x, 2.42546219e-2));
	r = fma3(f, r, sc, u);
	r = fma3(f, r, tc, kf(f, x, -1.06777877e-1));
	r = fma3(f, r, tc, kf(f, x, -6.34846687e-1));
	r = fma3(f, r, tc, kf(f, x, -1.28717512e-1));
	r = fma3(f, r, tc, LLVMBuildFNeg(f->b, tc, ""));
	r = LLVMBuildFSub(f->b, kf(f, x, 1), vm_exp(f, r), "");
	r = sel(f, cmp(f, LLVMRealOGT, t, kf(f, x, 4)), kf(f, x, 1), r);
	args[0] = r;
	args[1] = x;
	r = intrin(f, "copysign", 2, args);
	return keep_nan(f, x, sel(f, cmp(f, LLVMRealOGT, t,
					 kf(f, x, 0.927734375)), r, small));
}

LLVMValueRef
cg_vm(cg_fn *f, cg_mfn fn, LLVMValueRef x)
{
	switch (fn) {
	case CG_EXP: return vm_exp(f, x);
	case CG_LOG: return vm_log(f, x);
	case CG_TANH: return vm_tanh(f, x);
	case CG_SIGMOID: return vm_sigmoid(f, x);
	case CG_ERF: return vm_erf(f, x);
	}
	nn_unreachable();
}

/* f64 keeps libm (and LLVM's intrinsics), whose error the f32
 * approximations do not reach; sigmoid in the interpreter's two forms. */
LLVMValueRef
cg_math(cg_fn *f, cg_mfn fn, ir_dtype t, LLVMValueRef x)
{
	LLVMValueRef one, e;

	if (t == IR_F32)
		return cg_vm(f, fn, x);
	switch (fn) {
	case CG_EXP: return cg_intrin(f, "exp", t, 1, &x);
	case CG_LOG: return cg_intrin(f, "log", t, 1, &x);
	case CG_TANH: return cg_libm(f, "tanh", t, x);
	case CG_ERF: return cg_libm(f, "erf", t, x);
	case CG_SIGMOID: break;
	}
	one = cg_fconst(f, t, 1);
	e = cg_intrin(f, "fabs", t, 1, &x);
	e = LLVMBuildFNeg(f->b, e, "");
	e = cg_intrin(f, "exp", t, 1, &e);
	return LLVMBuildFDiv(f->b, LLVMBuildSelect(f->b, LLVMBuildFCmp(f->b,
		LLVMRealOGE, x, cg_fconst(f, t, 0), ""), one, e, ""),
		LLVMBuildFAdd(f->b, one, e, ""), "");
}
