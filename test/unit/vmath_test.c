/* The f32 approximations of codegen/vmath.c, compiled as one-node models
 * (Exp, Log, Tanh, Sigmoid, Erf) and run in process: the maximum error in
 * ulp over a dense sweep of every f32 (each 61st bit pattern, plus the
 * boundaries) against double-precision libm, within the bounds the README
 * documents ("Floating-point contract"), and the contract's special
 * values exactly: NaN stays NaN, +-inf, 0 and the overflow and underflow
 * boundaries of exp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen.h"
#include "unit.h"

enum { CHUNK = 1 << 20, STEP = 61 };

typedef int (*run_fn)(const void *const *, void *const *);

typedef struct mfn {
	ir_op op;
	double (*ref)(double);
	double max_ulp; /* the README's bound */
} mfn;

static double
sigmoid(double x)
{
	return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static const mfn fns[] = {
	{OP_Exp, exp, 1.1}, {OP_Log, log, 1.0}, {OP_Tanh, tanh, 1.5},
	{OP_Sigmoid, sigmoid, 2.5}, {OP_Erf, erf, 1.1},
};

/* Compiles x -> op(x) over CHUNK floats at -O2 and loads it; NULL on
 * failure (reported). */
static cg_jit *
build(ir_op op, run_fn *run)
{
	ir_graph *g = ir_graph_new("t");
	ir_shape s = SH(CHUNK);
	ir_value *x = ir_add_input(g, "x", IR_F32, &s);
	cg_options o = {.name = "t", .opt_level = 2, .output = CG_OUT_OBJ};
	cg_jit *j = NULL;
	const char *why;
	size_t len = 0;
	char *obj = NULL;
	nn_diag d;

	ir_add_output(g, ir_add_node(g, op, "n", 1, &x, 1)->out[0]);
	nn_diag_init(&d, "vmath_test", ir_ops[op].name);
	if (ir_infer_shapes(g, &d) && ir_verify(g, &d) &&
	    cg_compile(g, &o, "vmath_test.o", &d) &&
	    (obj = nn_in_read("vmath_test.o", &len, &why)) != NULL &&
	    (j = cg_jit_load(obj, len, &d)) != NULL)
		*run = (run_fn)cg_jit_symbol(j, "t_run", &d);
	free(obj);
	unlink("vmath_test.o");
	ir_graph_free(g);
	return j;
}

static float
bits_f(uint32_t u)
{
	float x;

	memcpy(&x, &u, sizeof x);
	return x;
}

/* The error of y in ulp of the f32 nearest ref; INFINITY where a special
 * value differs (NaN, an infinity, an exact zero). */
static double
ulp_err(float y, double ref)
{
	float r = (float)ref, a = fabsf(r);
	double u;

	if (isnan(ref))
		return isnan(y) ? 0 : INFINITY;
	if (isinf(r) || ref == 0)
		return y == r ? 0 : INFINITY;
	if (!isfinite(y))
		return INFINITY;
	u = a < 0x1p-126f ? 0x1p-149 : (double)(nextafterf(a, INFINITY) - a);
	if (a == 0x1p-126f || (a != 0 && nextafterf(a, 0) * 2 == a))
		u = fabs(ref) < a ? u / 2 : u; /* below a power of two */
	return fabs((double)y - ref) / u;
}

/* The boundaries the sweep might step over. */
static const float edges[] = {
	0.0f, -0.0f, INFINITY, -INFINITY, NAN, 0x1p-149f, -0x1p-149f,
	0x1p-126f, 88.72283172607421875f, 88.72283935546875f,
	-103.972076416015625f, -103.97208404541015625f, 0.625f, -0.625f,
	0.927734375f, 0.92773443f, 4.0f, 44.0f, 1.0f, -1.0f,
};

static void
check_fn(const mfn *m)
{
	static float in[CHUNK], out[CHUNK];
	const void *ins[1] = {in};
	void *outs[1] = {out};
	run_fn run = NULL;
	cg_jit *j = build(m->op, &run);
	double worst = 0;
	float wx = 0;
	uint64_t u = 0;
	bool done = false;
	int nedge = (int)(sizeof edges / sizeof edges[0]);

	CHECK(j && run);
	if (!j || !run)
		return;
	while (!done) {
		int n = 0;
		if (u == 0)
			for (; n < nedge; n++)
				in[n] = edges[n];
		for (; n < CHUNK && !done; n++, u += STEP) {
			in[n] = bits_f((uint32_t)u);
			done = u + STEP > UINT32_MAX;
		}
		for (int i = n; i < CHUNK; i++)
			in[i] = 0;
		CHECK(run(ins, outs) == 0);
		for (int i = 0; i < n; i++) {
			double e = ulp_err(out[i], m->ref((double)in[i]));
			if (e > worst) {
				worst = e;
				wx = in[i];
			}
		}
	}
	printf("%s: max error %.3f ulp (at %a)\n", ir_ops[m->op].name, worst,
	       (double)wx);
	if (worst > m->max_ulp)
		fprintf(stderr, "%s: %.3f ulp at %a is over %.1f\n",
			ir_ops[m->op].name, worst, (double)wx, m->max_ulp);
	CHECK(worst <= m->max_ulp);
	cg_jit_free(j);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		check_fn(&fns[i]);
	return unit_report();
}
