/* Unit test of the math kernels (unary, binary, Softmax, reductions, Shape,
 * Constant, ConstantOfShape, Cast): tiny graphs built through ir.h, shape
 * inference plus the interpreter, against hand-computed values. */
#include "unit_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
set_int(tg *t, ir_node *n, const char *name, int64_t v)
{
	ir_set_attr(t->g, n, name, IR_ATTR_INT)->i = v;
}

static bool
has_shape(const ir_value *v, ir_shape s)
{
	return ir_shape_eq(&v->shape, &s);
}

static bool
near(const float *a, const float *b, int n, float tol)
{
	for (int i = 0; i < n; i++)
		if (!(fabsf(a[i] - b[i]) <= tol))
			return false;
	return true;
}

static void
test_broadcast(void)
{
	tg t = {.g = ir_graph_new("b")};
	ir_shape s13 = SH(1, 3), s21 = SH(2, 1);
	ir_value *in[2] = {ir_add_input(t.g, "a", IR_F32, &s13),
			   ir_add_input(t.g, "b", IR_F32, &s21)};
	ir_node *add = node(&t, OP_Add, 2, in, 1);
	ir_node *sub = node(&t, OP_Sub, 2, in, 1);
	float a[] = {1, 2, 3}, b[] = {10, 20}, y[6], z[6];
	float ye[] = {11, 12, 13, 21, 22, 23};
	float ze[] = {-9, -8, -7, -19, -18, -17};
	const void *xi[] = {a, b};
	void *yo[] = {y, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(add->out[0], SH(2, 3)));
	CHECK(has_shape(sub->out[0], SH(2, 3)));
	CHECK(near(y, ye, 6, 0) && near(z, ze, 6, 0));
	ir_graph_free(t.g);

	/* i64 shape arithmetic: C truncating division, exact big values. */
	t.g = ir_graph_new("b");
	ir_shape s4 = SH(4), s1 = SH(1);
	in[0] = ir_add_input(t.g, "a", IR_I64, &s4);
	in[1] = ir_add_input(t.g, "b", IR_I64, &s1);
	node(&t, OP_Div, 2, in, 1);
	node(&t, OP_Mul, 2, in, 1);
	int64_t ia[] = {-7, 7, 6, (int64_t)1 << 60}, ib[] = {2};
	int64_t q[4], m[4];
	const void *ii[] = {ia, ib};
	void *io[] = {q, m};
	CHECK(run(&t, ii, io));
	CHECK(q[0] == -3 && q[1] == 3 && q[2] == 3 &&
	      q[3] == (int64_t)1 << 59);
	CHECK(m[0] == -14 && m[3] == (int64_t)1 << 61);
	ib[0] = 0;
	CHECK(!run(&t, ii, io) && strstr(t.err, "division by zero"));
	ir_graph_free(t.g);

	t.g = ir_graph_new("b");
	ir_shape s23 = SH(2, 3);
	in[0] = ir_add_input(t.g, "a", IR_F32, &s23);
	in[1] = ir_add_input(t.g, "b", IR_F32, &s4);
	node(&t, OP_Add, 2, in, 1);
	expect_error(&t, "cannot broadcast [4] with [2,3]");

	t.g = ir_graph_new("b");
	in[0] = ir_add_input(t.g, "a", IR_F32, &s23);
	in[1] = ir_add_input(t.g, "b", IR_I64, &s1);
	node(&t, OP_Mul, 2, in, 1);
	expect_error(&t, "input types differ: f32 and i64");
}

static void
test_pow_prelu(void)
{
	tg t = {.g = ir_graph_new("p")};
	ir_shape s3 = SH(3), s23 = SH(2, 3), s13 = SH(1, 3);
	ir_value *in[2] = {ir_add_input(t.g, "a", IR_F32, &s3),
			   ir_add_input(t.g, "b", IR_I64, &s3)};
	ir_node *p = node(&t, OP_Pow, 2, in, 1);
	ir_value *ii[2] = {ir_add_input(t.g, "c", IR_I32, &s3),
			   ir_add_input(t.g, "d", IR_I32, &s3)};
	node(&t, OP_Pow, 2, ii, 1);
	ir_value *pi[2] = {ir_add_input(t.g, "x", IR_F32, &s23),
			   ir_add_input(t.g, "s", IR_F32, &s13)};
	node(&t, OP_PRelu, 2, pi, 1);
	float a[] = {2, -3, 0.5f}, y[3], x[] = {-1, 2, -3, 4, -5, 6};
	float sl[] = {0.5f, 2, 3}, z[6], ze[] = {-0.5f, 2, -9, 4, -10, 6};
	int64_t b[] = {3, 2, -1};
	int32_t c[] = {3, -2, 5}, dd[] = {4, 3, 0}, w[3];
	const void *xi[] = {a, b, c, dd, x, sl};
	void *yo[] = {y, w, z};
	CHECK(run(&t, xi, yo));
	CHECK(p->out[0]->dtype == IR_F32);
	CHECK(y[0] == 8 && y[1] == 9 && y[2] == 2);
	CHECK(w[0] == 81 && w[1] == -8 && w[2] == 1);
	CHECK(near(z, ze, 6, 0));
	ir_graph_free(t.g);

	/* The slope broadcasts to X, never the other way. */
	t.g = ir_graph_new("p");
	pi[0] = ir_add_input(t.g, "x", IR_F32, &s13);
	pi[1] = ir_add_input(t.g, "s", IR_F32, &s23);
	node(&t, OP_PRelu, 2, pi, 1);
	expect_error(&t, "cannot broadcast [2,3] to [1,3]");
}

static void
test_unary(void)
{
	tg t = {.g = ir_graph_new("u")};
	ir_shape s4 = SH(4), s0 = {.rank = 0};
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s4);
	float mn = 0;
	ir_value *ci[2] = {x, ir_add_const(t.g, "mn", IR_F32, &s0, &mn)};
	node(&t, OP_Clip, 2, ci, 1);
	node(&t, OP_Relu, 1, &x, 1);
	node(&t, OP_LeakyRelu, 1, &x, 1);
	node(&t, OP_HardSigmoid, 1, &x, 1);
	node(&t, OP_Sigmoid, 1, &x, 1);
	node(&t, OP_HardSwish, 1, &x, 1);
	ir_value *xi8 = ir_add_input(t.g, "i", IR_I8, &s4);
	node(&t, OP_Abs, 1, &xi8, 1);
	float xv[] = {-2, 0.5f, 3, -0.25f};
	int8_t iv[] = {-128, -5, 0, 7}, ia[4];
	float y[6][4];
	const float ye[6][4] = {
		{0, 0.5f, 3, 0},
		{0, 0.5f, 3, 0},
		{-0.02f, 0.5f, 3, -0.0025f},
		{0.1f, 0.6f, 1, 0.45f},
		{0.11920292f, 0.62245933f, 0.95257413f, 0.43782350f},
		{-1.0f / 3, 0.5f * 3.5f / 6, 3, -0.25f * 2.75f / 6},
	};
	const void *in[] = {xv, iv};
	void *out[] = {y[0], y[1], y[2], y[3], y[4], y[5], ia};
	CHECK(run(&t, in, out));
	for (int k = 0; k < 6; k++) {
		CHECK(near(y[k], ye[k], 4, 1e-6f));
		if (!near(y[k], ye[k], 4, 1e-6f))
			fprintf(stderr, "  op %d: %g %g %g %g\n", k, y[k][0],
				y[k][1], y[k][2], y[k][3]);
	}
	/* Abs wraps at the minimum like two's complement (numpy). */
	CHECK(ia[0] == -128 && ia[1] == 5 && ia[2] == 0 && ia[3] == 7);
	ir_graph_free(t.g);

	/* Clip with only max (min omitted), on integers. */
	t.g = ir_graph_new("u");
	int32_t mx = 3, cv[] = {-9, 2, 4, 100}, cy[4];
	ir_value *xi = ir_add_input(t.g, "x", IR_I32, &s4);
	ir_value *c3[3] = {xi, NULL, ir_add_const(t.g, "mx", IR_I32, &s0, &mx)};
	node(&t, OP_Clip, 3, c3, 1);
	const void *cin[] = {cv};
	void *cout[] = {cy};
	CHECK(run(&t, cin, cout));
	CHECK(cy[0] == -9 && cy[1] == 2 && cy[2] == 3 && cy[3] == 3);
	ir_graph_free(t.g);

	t.g = ir_graph_new("u");
	xi = ir_add_input(t.g, "x", IR_I32, &s4);
	node(&t, OP_Exp, 1, &xi, 1);
	expect_error(&t, "unsupported element type i32");
}

static void
test_softmax(void)
{
	tg t = {.g = ir_graph_new("s")};
	ir_shape s23 = SH(2, 3);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s23);
	node(&t, OP_Softmax, 1, &x, 1);
	node(&t, OP_LogSoftmax, 1, &x, 1);
	ir_node *s0 = node(&t, OP_Softmax, 1, &x, 1);
	set_int(&t, s0, "axis", 0);
	float xv[] = {1, 2, 3, 1, 1, 1}, y[6], ly[6], y0[6];
	const float ye[] = {0.09003057f, 0.24472847f, 0.66524096f,
			    1.0f / 3, 1.0f / 3, 1.0f / 3};
	const float ye0[] = {0.5f, 0.73105858f, 0.88079708f,
			     0.5f, 0.26894142f, 0.11920292f};
	const void *in[] = {xv};
	void *out[] = {y, ly, y0};
	CHECK(run(&t, in, out));
	CHECK(near(y, ye, 6, 1e-6f));
	CHECK(fabsf(y[0] + y[1] + y[2] - 1) < 1e-6f);
	CHECK(fabsf(y[3] + y[4] + y[5] - 1) < 1e-6f);
	for (int i = 0; i < 6; i++)
		CHECK(fabsf(ly[i] - logf(ye[i])) < 1e-5f);
	CHECK(near(y0, ye0, 6, 1e-6f));
	ir_graph_free(t.g);

	/* Opset 11: coerced to 2-D at the default axis 1, so each batch row
	 * of 2x2x2 is one softmax over 4 elements. */
	t.g = ir_graph_new("s");
	t.g->opset = 11;
	ir_shape s222 = SH(2, 2, 2);
	x = ir_add_input(t.g, "x", IR_F32, &s222);
	node(&t, OP_Softmax, 1, &x, 1);
	float lx[] = {0, 0, 0, 0, 1, 1, 1, 1}, lyv[8];
	const void *lin[] = {lx};
	void *lout[] = {lyv};
	CHECK(run(&t, lin, lout));
	for (int i = 0; i < 8; i++)
		CHECK(fabsf(lyv[i] - 0.25f) < 1e-6f);
	ir_graph_free(t.g);

	t.g = ir_graph_new("s");
	x = ir_add_input(t.g, "x", IR_F32, &s23);
	set_int(&t, node(&t, OP_Softmax, 1, &x, 1), "axis", 2);
	expect_error(&t, "axis 2 out of range for rank 2");
}

static ir_value *
axes(ir_graph *g, int k, const int64_t *v)
{
	ir_shape s = {.rank = 1, .dim = {k}};
	return ir_add_const(g, NULL, IR_I64, &s, v);
}

static void
test_reduce(void)
{
	tg t = {.g = ir_graph_new("r")};
	ir_shape s23 = SH(2, 3);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s23);
	ir_value *in1[2] = {x, axes(t.g, 1, (const int64_t[]){1})};
	ir_value *inm[2] = {x, axes(t.g, 1, (const int64_t[]){-2})};
	ir_value *ine[2] = {x, axes(t.g, 0, NULL)};
	ir_node *sk = node(&t, OP_ReduceSum, 2, in1, 1);
	ir_node *sn = node(&t, OP_ReduceSum, 2, in1, 1);
	set_int(&t, sn, "keepdims", 0);
	ir_node *mean = node(&t, OP_ReduceMean, 1, &x, 1);
	ir_node *mx = node(&t, OP_ReduceMax, 2, inm, 1);
	set_int(&t, mx, "keepdims", 0);
	ir_node *noop = node(&t, OP_ReduceSum, 2, ine, 1);
	set_int(&t, noop, "noop_with_empty_axes", 1);
	float xv[] = {1, 2, 3, 4, 5, 9}, s1[2], s2[2], m[1], mm[3], nv[6];
	const void *in[] = {xv};
	void *out[] = {s1, s2, m, mm, nv};
	CHECK(run(&t, in, out));
	CHECK(has_shape(sk->out[0], SH(2, 1)));
	CHECK(has_shape(sn->out[0], SH(2)));
	CHECK(has_shape(mean->out[0], SH(1, 1)));
	CHECK(has_shape(mx->out[0], SH(3)));
	CHECK(ir_shape_eq(&noop->out[0]->shape, &s23));
	CHECK(s1[0] == 6 && s1[1] == 18 && s2[0] == 6 && s2[1] == 18);
	CHECK(m[0] == 4);
	CHECK(mm[0] == 4 && mm[1] == 5 && mm[2] == 9);
	CHECK(memcmp(nv, xv, sizeof xv) == 0);
	ir_graph_free(t.g);

	/* i64 stays exact beyond 2^53; an axes attribute (old form in text
	 * IR) is honoured, not ignored. */
	t.g = ir_graph_new("r");
	x = ir_add_input(t.g, "x", IR_I64, &s23);
	ir_node *is = node(&t, OP_ReduceSum, 1, &x, 1);
	ir_node *im = node(&t, OP_ReduceMax, 1, &x, 1);
	ir_attr *aa = ir_set_attr(t.g, im, "axes", IR_ATTR_INTS);
	static int64_t ax1[] = {1};
	aa->n = 1;
	aa->ints = ax1;
	const int64_t big = ((int64_t)1 << 60) + 1;
	int64_t iv[] = {big, 1, -5, -1, -2, -3}, isum[1], imax[2];
	const void *iin[] = {iv};
	void *iout[] = {isum, imax};
	CHECK(run(&t, iin, iout));
	CHECK(has_shape(is->out[0], SH(1, 1)) && has_shape(im->out[0], SH(2, 1)));
	CHECK(isum[0] == big - 10);
	CHECK(imax[0] == big && imax[1] == -1);
	ir_graph_free(t.g);

	t.g = ir_graph_new("r");
	x = ir_add_input(t.g, "x", IR_F32, &s23);
	ir_shape s1d = SH(1);
	in1[0] = x;
	in1[1] = ir_add_input(t.g, "ax", IR_I64, &s1d);
	node(&t, OP_ReduceMean, 2, in1, 1);
	expect_error(&t, "axes (input 1) must be a constant");

	t.g = ir_graph_new("r");
	x = ir_add_input(t.g, "x", IR_F32, &s23);
	in1[0] = x;
	in1[1] = axes(t.g, 1, (const int64_t[]){2});
	node(&t, OP_ReduceMax, 2, in1, 1);
	expect_error(&t, "axis 2 out of range");
}

static void
test_argmax(void)
{
	tg t = {.g = ir_graph_new("a")};
	ir_shape s24 = SH(2, 4);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s24);
	ir_node *first = node(&t, OP_ArgMax, 1, &x, 1);
	set_int(&t, first, "axis", 1);
	ir_node *last = node(&t, OP_ArgMax, 1, &x, 1);
	set_int(&t, last, "axis", -1);
	set_int(&t, last, "keepdims", 0);
	set_int(&t, last, "select_last_index", 1);
	ir_node *ax0 = node(&t, OP_ArgMax, 1, &x, 1);
	float xv[] = {1, 3, 3, 2, 7, 0, 7, -1};
	int64_t f[2], l[2], a0[4];
	const void *in[] = {xv};
	void *out[] = {f, l, a0};
	CHECK(run(&t, in, out));
	CHECK(first->out[0]->dtype == IR_I64);
	CHECK(has_shape(first->out[0], SH(2, 1)));
	CHECK(has_shape(last->out[0], SH(2)));
	CHECK(has_shape(ax0->out[0], SH(1, 4)));
	CHECK(f[0] == 1 && f[1] == 0);
	CHECK(l[0] == 2 && l[1] == 2);
	CHECK(a0[0] == 1 && a0[1] == 0 && a0[2] == 1 && a0[3] == 0);
	ir_graph_free(t.g);
}

static void
test_cast(void)
{
	tg t = {.g = ir_graph_new("c")};
	ir_shape s4 = SH(4);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s4);
	set_int(&t, node(&t, OP_Cast, 1, &x, 1), "to", IR_I32);
	set_int(&t, node(&t, OP_Cast, 1, &x, 1), "to", IR_BOOL);
	set_int(&t, node(&t, OP_Cast, 1, &x, 1), "to", IR_F16);
	ir_value *xi = ir_add_input(t.g, "i", IR_I64, &s4);
	set_int(&t, node(&t, OP_Cast, 1, &xi, 1), "to", IR_U8);
	set_int(&t, node(&t, OP_Cast, 1, &xi, 1), "to", IR_F64);
	float xv[] = {-1.7f, 2.9f, NAN, 0};
	int64_t iv[] = {-1, 256, 300, (int64_t)1 << 40};
	int32_t i32[4];
	uint8_t bo[4], u8[4];
	uint16_t h[4];
	double f64[4];
	const void *in[] = {xv, iv};
	void *out[] = {i32, bo, h, u8, f64};
	CHECK(run(&t, in, out));
	CHECK(i32[0] == -1 && i32[1] == 2 && i32[3] == 0);
	CHECK(i32[2] == INT32_MIN); /* NaN, as numpy on x86 */
	CHECK(bo[0] == 1 && bo[1] == 1 && bo[2] == 1 && bo[3] == 0);
	/* f16 bits: -1.7 -> 0xbecd, 2.9 -> 0x41cd, NaN stays NaN. */
	CHECK(h[0] == 0xbecd && h[1] == 0x41cd && h[3] == 0);
	CHECK((h[2] & 0x7c00) == 0x7c00 && (h[2] & 0x3ff) != 0);
	CHECK(u8[0] == 255 && u8[1] == 0 && u8[2] == 44 && u8[3] == 0);
	CHECK(f64[0] == -1 && f64[3] == 1099511627776.0);
	ir_graph_free(t.g);

	t.g = ir_graph_new("c");
	x = ir_add_input(t.g, "x", IR_F32, &s4);
	set_int(&t, node(&t, OP_Cast, 1, &x, 1), "to", IR_STRING);
	expect_error(&t, "casts to string are not supported");
}

static void
test_misc(void)
{
	tg t = {.g = ir_graph_new("m")};
	ir_shape s = SH(2, 3, 5, 7);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s);
	ir_node *sh = node(&t, OP_Shape, 1, &x, 1);
	set_int(&t, sh, "start", 1);
	set_int(&t, sh, "end", -1);
	ir_node *all = node(&t, OP_Shape, 1, &x, 1);
	set_int(&t, all, "start", -10);
	/* ConstantOfShape fed by Shape: known at inference. */
	ir_node *cs = node(&t, OP_ConstantOfShape, 1, &sh->out[0], 1);
	ir_node *c = node(&t, OP_Constant, 0, NULL, 1);
	ir_attr *a = ir_set_attr(t.g, c, "value_ints", IR_ATTR_INTS);
	static int64_t vi[] = {4, -2};
	a->n = 2;
	a->ints = vi;
	CHECK(run(&t, NULL, NULL));
	const int64_t *sd = sh->out[0]->data, *ad = all->out[0]->data;
	CHECK(has_shape(sh->out[0], SH(2)));
	CHECK(sd && sd[0] == 3 && sd[1] == 5);
	CHECK(has_shape(all->out[0], SH(4)));
	CHECK(ad && ad[0] == 2 && ad[3] == 7);
	CHECK(cs->out[0]->dtype == IR_F32);
	CHECK(has_shape(cs->out[0], SH(3, 5)));
	CHECK(c->out[0]->dtype == IR_I64);
	const int64_t *cd = c->out[0]->data;
	CHECK(cd && cd[0] == 4 && cd[1] == -2);
	ir_graph_free(t.g);

	/* ConstantOfShape with a value, and run through the interpreter. */
	t.g = ir_graph_new("m");
	ir_shape s1 = SH(2);
	int64_t dims[] = {2, 2};
	ir_value *d = ir_add_const(t.g, "d", IR_I64, &s1, dims);
	ir_node *k = node(&t, OP_ConstantOfShape, 1, &d, 1);
	ir_attr *va = ir_set_attr(t.g, k, "value", IR_ATTR_TENSOR);
	static int32_t seven = 7;
	static ir_tensor vt = {.dtype = IR_I32, .shape = {.rank = 1,
							  .dim = {1}},
			       .data = &seven};
	va->t = &vt;
	int32_t kv[4];
	void *out[] = {kv};
	CHECK(run(&t, NULL, out));
	CHECK(kv[0] == 7 && kv[3] == 7);
	ir_graph_free(t.g);

	t.g = ir_graph_new("m");
	int64_t negd[] = {2, -1};
	d = ir_add_const(t.g, "d", IR_I64, &s1, negd);
	node(&t, OP_ConstantOfShape, 1, &d, 1);
	expect_error(&t, "negative dimension -1");

	t.g = ir_graph_new("m");
	d = ir_add_input(t.g, "d", IR_I64, &s1);
	node(&t, OP_ConstantOfShape, 1, &d, 1);
	expect_error(&t, "shape (input 0) must be a constant");
}

int
main(void)
{
	test_broadcast();
	test_pow_prelu();
	test_unary();
	test_softmax();
	test_reduce();
	test_argmax();
	test_cast();
	test_misc();
	return unit_report();
}
