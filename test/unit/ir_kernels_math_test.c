/* Unit test of the math kernels of issue 11 (inverse and hyperbolic
 * trigonometry, ...): tiny graphs built through ir.h, shape inference plus
 * the interpreter, against values computed with numpy (float32). */
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tg {
	ir_graph *g;
	ir_node *n;
	char err[512];
} tg;

static ir_node *
node(tg *t, ir_op op, int nin, ir_value *const *in)
{
	t->n = ir_add_node(t->g, op, "k", nin, in, 1);
	ir_add_output(t->g, t->n->out[0]);
	return t->n;
}

static bool
run(tg *t, const void *const *inputs, void *const *outputs)
{
	return unit_infer_run(t->g, inputs, outputs, t->err, sizeof t->err);
}

/* Expects shape inference to fail with a message containing what. */
static void
expect_error(tg *t, const char *what)
{
	CHECK(!run(t, NULL, NULL));
	CHECK(strstr(t->err, "node 'k'") && strstr(t->err, what));
	if (!strstr(t->err, what))
		fprintf(stderr, "  got: %s", t->err);
	ir_graph_free(t->g);
}

/* Relative closeness (exact for zeros and equal non-finite values). */
static bool
near(const float *a, const float *b, int n, float rtol)
{
	for (int i = 0; i < n; i++)
		if (!(a[i] == b[i] || fabsf(a[i] - b[i]) <= rtol * fabsf(b[i])))
			return false;
	return true;
}

static void
test_trig(void)
{
	static const ir_op ops[] = {OP_Acos, OP_Asin, OP_Atan, OP_Asinh,
				    OP_Atanh, OP_Cosh, OP_Sinh, OP_Tan};
	/* numpy arccos, arcsin, ... of x, in float32 */
	static const float ye[8][4] = {
		{2.09439516f, 1.57079637f, 1.31811619f, 0.451026857f},
		{-0.52359879f, 0, 0.252680242f, 1.11976957f},
		{-0.463647604f, 0, 0.244978666f, 0.732815087f},
		{-0.481211811f, 0, 0.24746646f, 0.808866918f},
		{-0.549306154f, 0, 0.255412817f, 1.47221935f},
		{1.12762606f, 1, 1.0314132f, 1.4330864f},
		{-0.521095276f, 0, 0.252612323f, 1.02651668f},
		{-0.546302497f, 0, 0.255341917f, 1.26015806f},
	};
	static const float ae[4] = {0, 0.962423623f, 1.31695795f, 2.99322295f};
	tg t = {.g = ir_graph_new("t")};
	ir_shape s4 = SH(4);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s4);
	ir_value *x1 = ir_add_input(t.g, "x1", IR_F32, &s4);
	for (int k = 0; k < 8; k++)
		node(&t, ops[k], 1, &x);
	node(&t, OP_Acosh, 1, &x1);
	float xv[] = {-0.5f, 0, 0.25f, 0.9f}, av[] = {1, 1.5f, 2, 10};
	float y[9][4];
	const void *in[] = {xv, av};
	void *out[9];
	for (int k = 0; k < 9; k++)
		out[k] = y[k];
	CHECK(run(&t, in, out));
	for (int k = 0; k < 8; k++) {
		CHECK(near(y[k], ye[k], 4, 1e-6f));
		if (!near(y[k], ye[k], 4, 1e-6f))
			fprintf(stderr, "  %s: %g %g %g %g\n",
				ir_ops[ops[k]].name, y[k][0], y[k][1],
				y[k][2], y[k][3]);
	}
	CHECK(near(y[8], ae, 4, 1e-6f));
	ir_graph_free(t.g);

	/* Out of the domain: NaN (acos 2, atanh 2, acosh 0.5); atanh(1) is
	 * inf. */
	t.g = ir_graph_new("t");
	ir_shape s1 = SH(1);
	x = ir_add_input(t.g, "x", IR_F64, &s1);
	node(&t, OP_Acos, 1, &x);
	node(&t, OP_Acosh, 1, &x);
	node(&t, OP_Atanh, 1, &x);
	double dv[] = {2}, dh[] = {0.5}, d1[] = {1}, r[3];
	void *dout[] = {&r[0], &r[1], &r[2]};
	const void *din[] = {dv};
	CHECK(run(&t, din, dout));
	CHECK(isnan(r[0]) && fabs(r[1] - 1.3169578969248166) < 1e-15 &&
	      isnan(r[2]));
	din[0] = dh;
	CHECK(run(&t, din, dout));
	CHECK(isnan(r[1]) && fabs(r[0] - 1.0471975511965979) < 1e-15);
	din[0] = d1;
	CHECK(run(&t, din, dout));
	CHECK(isinf(r[2]) && r[2] > 0 && r[0] == 0 && r[1] == 0);
	ir_graph_free(t.g);

	t.g = ir_graph_new("t");
	ir_shape s2 = SH(2);
	x = ir_add_input(t.g, "x", IR_I32, &s2);
	node(&t, OP_Tan, 1, &x);
	expect_error(&t, "unsupported element type i32");
}

int
main(void)
{
	test_trig();
	return unit_report();
}
