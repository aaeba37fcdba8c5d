/* Unit test of the math kernels of issue 11 (inverse and hyperbolic
 * trigonometry, Shrink, IsInf/IsNaN, BitShift, EyeLike, Size, CastLike,
 * ReduceLogSum, Hardmax, Det): tiny graphs built through ir.h, shape
 * inference plus the interpreter, against values computed with numpy
 * (float32) or by hand. */
#include "unit_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		node(&t, ops[k], 1, &x, 1);
	node(&t, OP_Acosh, 1, &x1, 1);
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
	node(&t, OP_Acos, 1, &x, 1);
	node(&t, OP_Acosh, 1, &x, 1);
	node(&t, OP_Atanh, 1, &x, 1);
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
	node(&t, OP_Tan, 1, &x, 1);
	expect_error(&t, "unsupported element type i32");
}

static void
set_attr_f(tg *t, ir_node *n, const char *name, double v)
{
	ir_set_attr(t->g, n, name, IR_ATTR_FLOAT)->f = v;
}

static void
set_attr_i(tg *t, ir_node *n, const char *name, int64_t v)
{
	ir_set_attr(t->g, n, name, IR_ATTR_INT)->i = v;
}

static void
set_attr_s(tg *t, ir_node *n, const char *name, const char *v)
{
	ir_set_attr(t->g, n, name, IR_ATTR_STRING)->s = v;
}

/* Shrink, IsInf, IsNaN: by hand, NaN giving 0 and false. */
static void
test_shrink_isinf(void)
{
	tg t = {.g = ir_graph_new("s")};
	ir_shape s6 = SH(6);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s6);
	node(&t, OP_Shrink, 1, &x, 1);
	ir_node *sh = node(&t, OP_Shrink, 1, &x, 1);
	set_attr_f(&t, sh, "lambd", 1.5);
	set_attr_f(&t, sh, "bias", 1);
	ir_node *ii = node(&t, OP_IsInf, 1, &x, 1);
	ir_node *ip = node(&t, OP_IsInf, 1, &x, 1);
	set_attr_i(&t, ip, "detect_negative", 0);
	node(&t, OP_IsNaN, 1, &x, 1);
	float xv[] = {-2, -0.5f, 0.75f, 3, NAN, -INFINITY};
	float y0[6], y1[6];
	uint8_t b0[6], b1[6], b2[6];
	const float e0[] = {-2, 0, 0.75f, 3, 0, -INFINITY};
	const float e1[] = {-1, 0, 0, 2, 0, -INFINITY};
	const uint8_t f0[] = {0, 0, 0, 0, 0, 1}, f1[] = {0, 0, 0, 0, 0, 0};
	const uint8_t f2[] = {0, 0, 0, 0, 1, 0};
	const void *in[] = {xv};
	void *out[] = {y0, y1, b0, b1, b2};
	CHECK(run(&t, in, out));
	CHECK(ii->out[0]->dtype == IR_BOOL);
	CHECK(near(y0, e0, 6, 0) && near(y1, e1, 6, 0));
	CHECK(!memcmp(b0, f0, 6) && !memcmp(b1, f1, 6) && !memcmp(b2, f2, 6));
	xv[5] = INFINITY;
	CHECK(run(&t, in, out) && b0[5] == 1 && b1[5] == 1 &&
	      y1[5] == INFINITY);
	ir_graph_free(t.g);

	t.g = ir_graph_new("s");
	x = ir_add_input(t.g, "x", IR_I32, &s6);
	node(&t, OP_IsNaN, 1, &x, 1);
	expect_error(&t, "unsupported element type i32");
}

/* BitShift on unsigned types, broadcast, shifts by the width or more
 * giving 0. */
static void
test_bitshift(void)
{
	tg t = {.g = ir_graph_new("b")};
	ir_shape s4 = SH(4), s1 = SH(1);
	ir_value *in2[2] = {ir_add_input(t.g, "a", IR_U8, &s4),
			    ir_add_input(t.g, "b", IR_U8, &s4)};
	set_attr_s(&t, node(&t, OP_BitShift, 2, in2, 1), "direction", "LEFT");
	set_attr_s(&t, node(&t, OP_BitShift, 2, in2, 1), "direction", "RIGHT");
	ir_value *w[2] = {ir_add_input(t.g, "c", IR_U64, &s4),
			  ir_add_input(t.g, "d", IR_U64, &s1)};
	set_attr_s(&t, node(&t, OP_BitShift, 2, w, 1), "direction", "LEFT");
	uint8_t a[] = {1, 0x81, 200, 7}, b[] = {3, 1, 8, 255}, l[4], r[4];
	uint64_t c[] = {1, 3, UINT64_MAX, 0}, dd[] = {63}, cl[4];
	const void *in[] = {a, b, c, dd};
	void *out[] = {l, r, cl};
	CHECK(run(&t, in, out));
	CHECK(l[0] == 8 && l[1] == 2 && l[2] == 0 && l[3] == 0);
	CHECK(r[0] == 0 && r[1] == 0x40 && r[2] == 0 && r[3] == 0);
	CHECK(cl[0] == UINT64_C(1) << 63 && cl[1] == UINT64_C(1) << 63 &&
	      cl[2] == UINT64_C(1) << 63 && cl[3] == 0);
	ir_graph_free(t.g);

	t.g = ir_graph_new("b");
	in2[0] = ir_add_input(t.g, "a", IR_I32, &s4);
	in2[1] = ir_add_input(t.g, "b", IR_I32, &s4);
	set_attr_s(&t, node(&t, OP_BitShift, 2, in2, 1), "direction", "LEFT");
	expect_error(&t, "unsupported element type i32");

	t.g = ir_graph_new("b");
	in2[0] = ir_add_input(t.g, "a", IR_U8, &s4);
	in2[1] = ir_add_input(t.g, "b", IR_U8, &s4);
	set_attr_s(&t, node(&t, OP_BitShift, 2, in2, 1), "direction", "UP");
	expect_error(&t, "direction must be LEFT or RIGHT, not 'UP'");

	t.g = ir_graph_new("b");
	in2[0] = ir_add_input(t.g, "a", IR_U8, &s4);
	in2[1] = ir_add_input(t.g, "b", IR_U8, &s4);
	node(&t, OP_BitShift, 2, in2, 1);
	expect_error(&t, "missing attribute 'direction'");
}

/* EyeLike (k, dtype), Size (data at shape inference), CastLike. */
static void
test_eyelike_size_castlike(void)
{
	tg t = {.g = ir_graph_new("e")};
	ir_shape s23 = SH(2, 3), s2 = SH(2);
	ir_value *x = ir_add_input(t.g, "x", IR_I32, &s23);
	ir_node *e0 = node(&t, OP_EyeLike, 1, &x, 1);
	ir_node *e1 = node(&t, OP_EyeLike, 1, &x, 1);
	set_attr_i(&t, e1, "k", 1);
	set_attr_i(&t, e1, "dtype", IR_F32);
	ir_node *e2 = node(&t, OP_EyeLike, 1, &x, 1);
	set_attr_i(&t, e2, "k", -1);
	set_attr_i(&t, e2, "dtype", IR_BOOL);
	ir_node *e3 = node(&t, OP_EyeLike, 1, &x, 1);
	set_attr_i(&t, e3, "k", 3);
	ir_node *sz = node(&t, OP_Size, 1, &x, 1);
	ir_value *f = ir_add_input(t.g, "f", IR_F64, &s2);
	ir_value *cl[2] = {x, f};
	ir_node *c = node(&t, OP_CastLike, 2, cl, 1);
	int32_t xv[6] = {1, -2, 3, 4, 5, 6}, y0[6], y3[6];
	float y1[6];
	uint8_t y2[6];
	int64_t n;
	double fv[2], cy[6];
	const int32_t w0[] = {1, 0, 0, 0, 1, 0}, w3[6] = {0};
	const float w1[] = {0, 1, 0, 0, 0, 1};
	const uint8_t w2[] = {0, 0, 0, 1, 0, 0};
	const void *in[] = {xv, fv};
	void *out[] = {y0, y1, y2, y3, &n, cy};
	CHECK(run(&t, in, out));
	CHECK(e0->out[0]->dtype == IR_I32 && e1->out[0]->dtype == IR_F32 &&
	      e2->out[0]->dtype == IR_BOOL);
	CHECK(!memcmp(y0, w0, sizeof w0) && near(y1, w1, 6, 0) &&
	      !memcmp(y2, w2, 6) && !memcmp(y3, w3, sizeof w3));
	CHECK(sz->out[0]->dtype == IR_I64 && sz->out[0]->shape.rank == 0 &&
	      sz->out[0]->data && *(int64_t *)sz->out[0]->data == 6 && n == 6);
	CHECK(c->out[0]->dtype == IR_F64 && ir_shape_eq(&c->out[0]->shape,
							 &s23));
	CHECK(cy[0] == 1 && cy[1] == -2 && cy[5] == 6);
	ir_graph_free(t.g);

	t.g = ir_graph_new("e");
	x = ir_add_input(t.g, "x", IR_F32, &s2);
	node(&t, OP_EyeLike, 1, &x, 1);
	expect_error(&t, "input must be 2-D, not of rank 1");

	t.g = ir_graph_new("e");
	x = ir_add_input(t.g, "x", IR_F32, &s23);
	set_attr_i(&t, node(&t, OP_EyeLike, 1, &x, 1), "dtype", IR_STRING);
	expect_error(&t, "unsupported dtype 8");
}

/* ReduceLogSum (float and, through double, integer), Hardmax (the first
 * maximum, the first NaN; the opset-11 form coerced to 2-D). */
static void
test_logsum_hardmax(void)
{
	tg t = {.g = ir_graph_new("r")};
	ir_shape s23 = SH(2, 3), s222 = SH(2, 2, 2);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s23);
	ir_node *r = node(&t, OP_ReduceLogSum, 1, &x, 1);
	ir_attr *ax = ir_set_attr(t.g, r, "axes", IR_ATTR_INTS);
	static int64_t one[] = {1};
	ax->n = 1;
	ax->ints = one;
	ir_node *h = node(&t, OP_Hardmax, 1, &x, 1);
	ir_node *h0 = node(&t, OP_Hardmax, 1, &x, 1);
	set_attr_i(&t, h0, "axis", 0);
	ir_value *xi = ir_add_input(t.g, "xi", IR_I32, &s23);
	node(&t, OP_ReduceLogSum, 1, &xi, 1);
	float xv[] = {1, 2, 3, 0.5f, NAN, 4}, y[2], hy[6], hy0[6];
	int32_t iv[] = {1, 2, 3, 4, 5, 6}, iy;
	/* log(6), log(4.5 + NaN); ln(21) = 3.04 truncates to 3 */
	const float hye[] = {0, 0, 1, 0, 1, 0}, hy0e[] = {1, 0, 0, 0, 1, 1};
	const void *in[] = {xv, iv};
	void *out[] = {y, hy, hy0, &iy};
	CHECK(run(&t, in, out));
	CHECK(r->out[0]->shape.rank == 2 && r->out[0]->shape.dim[1] == 1);
	CHECK(h->out[0]->dtype == IR_F32);
	CHECK(fabsf(y[0] - 1.79175947f) < 1e-6f && isnan(y[1]));
	CHECK(near(hy, hye, 6, 0) && near(hy0, hy0e, 6, 0));
	CHECK(iy == 3);
	ir_graph_free(t.g);

	/* Opset 11: the default axis 1 and 2-D: one line of 4 per batch. */
	t.g = ir_graph_new("r");
	t.g->opset = 11;
	x = ir_add_input(t.g, "x", IR_F32, &s222);
	node(&t, OP_Hardmax, 1, &x, 1);
	float lv[] = {1, 5, 2, 3, 9, 0, 9, 1}, ly[8];
	const float lye[] = {0, 1, 0, 0, 1, 0, 0, 0};
	const void *lin[] = {lv};
	void *lout[] = {ly};
	CHECK(run(&t, lin, lout));
	CHECK(near(ly, lye, 8, 0));
	ir_graph_free(t.g);

	t.g = ir_graph_new("r");
	x = ir_add_input(t.g, "x", IR_I64, &s23);
	node(&t, OP_Hardmax, 1, &x, 1);
	expect_error(&t, "unsupported element type i64");
}

/* Det by hand: a batch of 2x2, a 3x3 that needs a row swap, a singular
 * matrix, an empty (0x0) one, and the shapes refused. */
static void
test_det(void)
{
	tg t = {.g = ir_graph_new("d")};
	ir_shape s322 = SH(3, 2, 2), s33 = SH(3, 3), s200 = SH(2, 0, 0);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s322);
	ir_node *d2 = node(&t, OP_Det, 1, &x, 1);
	ir_value *x3 = ir_add_input(t.g, "x3", IR_F64, &s33);
	ir_node *d3 = node(&t, OP_Det, 1, &x3, 1);
	ir_value *x0 = ir_add_input(t.g, "x0", IR_F32, &s200);
	node(&t, OP_Det, 1, &x0, 1);
	float xv[] = {1, 2, 3, 4, 2, 4, 1, 2, 0, 1, 1, 0}, y[3], y0[2];
	double v3[] = {0, 1, 1, 4, -2, 5, 2, 8, 7}, y3;
	float none[1];
	const void *in[] = {xv, v3, none};
	void *out[] = {y, &y3, y0};
	CHECK(run(&t, in, out));
	CHECK(d2->out[0]->shape.rank == 1 && d2->out[0]->shape.dim[0] == 3);
	CHECK(d3->out[0]->shape.rank == 0 && d3->out[0]->dtype == IR_F64);
	/* 1*4 - 2*3; singular; 0*0 - 1*1; 0*(-14-40) - 1*(28-10) + 1*(32+4) */
	CHECK(y[0] == -2 && y[1] == 0 && y[2] == -1);
	CHECK(fabs(y3 - 18) < 1e-12);
	CHECK(y0[0] == 1 && y0[1] == 1);
	ir_graph_free(t.g);

	t.g = ir_graph_new("d");
	ir_shape s23 = SH(2, 3);
	x = ir_add_input(t.g, "x", IR_F32, &s23);
	node(&t, OP_Det, 1, &x, 1);
	expect_error(&t, "input [2,3] is not a batch of square matrices");

	t.g = ir_graph_new("d");
	ir_shape s4 = SH(4);
	x = ir_add_input(t.g, "x", IR_F32, &s4);
	node(&t, OP_Det, 1, &x, 1);
	expect_error(&t, "input [4] is not a batch of square matrices");

	t.g = ir_graph_new("d");
	ir_shape s22 = SH(2, 2);
	x = ir_add_input(t.g, "x", IR_I32, &s22);
	node(&t, OP_Det, 1, &x, 1);
	expect_error(&t, "unsupported element type i32");
}

int
main(void)
{
	test_trig();
	test_shrink_isinf();
	test_bitshift();
	test_eyelike_size_castlike();
	test_logsum_hardmax();
	test_det();
	return unit_report();
}
