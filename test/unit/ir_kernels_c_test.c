/* Unit test of the data-movement kernels (Reshape family, Transpose,
 * Concat/Split, Slice/Gather/Pad): tiny graphs built through ir.h, shape
 * inference plus the interpreter, against hand-computed values. */
#include "unit_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ir_value *
ints(ir_graph *g, int k, const int64_t *v)
{
	ir_shape s = {.rank = 1, .dim = {k}};
	return ir_add_const(g, NULL, IR_I64, &s, v);
}

#define INTS(g, ...) ints(g, \
	(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
	(const int64_t[]){__VA_ARGS__})

static bool
has_shape(const ir_value *v, ir_shape s)
{
	return ir_shape_eq(&v->shape, &s);
}

static bool
feq(const float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static void
test_reshape(void)
{
	tg t = {.g = ir_graph_new("r")};
	ir_shape s = SH(2, 3, 4);
	ir_value *in[2] = {ir_add_input(t.g, "x", IR_F32, &s),
			   INTS(t.g, 0, -1)};
	node(&t, OP_Reshape, 2, in, 1);
	float x[24], y[24];
	for (int i = 0; i < 24; i++)
		x[i] = (float)i;
	const void *xi[] = {x};
	void *yo[] = {y};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(t.n->out[0], SH(2, 12)));
	CHECK(feq(x, y, 24));
	ir_graph_free(t.g);

	/* Two -1s, then a count mismatch, then allowzero. */
	const int64_t bad[][3] = {{-1, -1, 2}, {5, 5, 1}, {0, 3, 8}};
	for (int k = 0; k < 3; k++) {
		t.g = ir_graph_new("r");
		in[0] = ir_add_input(t.g, "x", IR_F32, &s);
		in[1] = ints(t.g, 3, bad[k]);
		node(&t, OP_Reshape, 2, in, 1);
		if (k == 2)
			ir_set_attr(t.g, t.n, "allowzero", IR_ATTR_INT)->i = 1;
		CHECK(!run(&t, NULL, NULL));
		CHECK(strstr(t.err, "node 'k' (Reshape)") != NULL);
		ir_graph_free(t.g);
	}
	/* A non-constant shape input must be named in the error. */
	t.g = ir_graph_new("r");
	ir_shape s1 = SH(2);
	in[0] = ir_add_input(t.g, "x", IR_F32, &s);
	in[1] = ir_add_input(t.g, "s", IR_I64, &s1);
	node(&t, OP_Reshape, 2, in, 1);
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "input 1 (shape) must be a constant") != NULL);
	ir_graph_free(t.g);
}

static void
test_views(void)
{
	/* Flatten axis -1, Squeeze of all 1-dims, Unsqueeze at -1 and 0. */
	tg t = {.g = ir_graph_new("v")};
	ir_shape s = SH(1, 3, 1, 2);
	ir_value *x = ir_add_input(t.g, "x", IR_I8, &s);
	ir_node *f = node(&t, OP_Flatten, 1, &x, 1);
	ir_set_attr(t.g, f, "axis", IR_ATTR_INT)->i = -1;
	ir_node *sq = node(&t, OP_Squeeze, 1, &x, 1);
	ir_value *ui[2] = {x, INTS(t.g, -1, 0)};
	ir_node *us = node(&t, OP_Unsqueeze, 2, ui, 1);
	ir_value *si[2] = {x, INTS(t.g, -2)};
	ir_node *sq2 = node(&t, OP_Squeeze, 2, si, 1);
	ir_node *dr = node(&t, OP_Dropout, 1, &x, 2);
	signed char xv[6] = {1, -2, 3, -4, 5, -6}, y[5][6];
	bool mask[6];
	const void *xi[] = {xv};
	void *yo[] = {y[0], y[1], y[2], y[3], y[4], mask};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(f->out[0], SH(3, 2)));
	CHECK(has_shape(sq->out[0], SH(3, 2)));
	CHECK(has_shape(us->out[0], SH(1, 1, 3, 1, 2, 1)));
	CHECK(has_shape(sq2->out[0], SH(1, 3, 2)));
	CHECK(dr->out[1]->dtype == IR_BOOL && dr->out[0]->dtype == IR_I8);
	for (int i = 0; i < 5; i++)
		CHECK(memcmp(y[i], xv, 6) == 0);
	CHECK(mask[0] && mask[5]);
	ir_graph_free(t.g);

	/* Training-mode Dropout: ratio 0 is the identity; a non-zero ratio
	 * is random and refused at run time. Generated code is the
	 * identity, so the training flag must be a constant, and the ratio
	 * too when it is set. */
	t.g = ir_graph_new("v");
	ir_shape s0 = {0};
	x = ir_add_input(t.g, "x", IR_I8, &s);
	float ratio = 0.0f;
	bool train = true;
	ir_value *di[3] = {x, ir_add_input(t.g, "r", IR_F32, &s0),
			   ir_add_const(t.g, "t", IR_BOOL, &s0, &train)};
	node(&t, OP_Dropout, 3, di, 1);
	const void *di_in[] = {xv, &ratio};
	CHECK(!run(&t, di_in, yo));
	CHECK(strstr(t.err, "ratio (input 1) must be a constant") != NULL);
	ir_graph_free(t.g);
	t.g = ir_graph_new("v");
	x = ir_add_input(t.g, "x", IR_I8, &s);
	di[0] = x;
	di[1] = ir_add_const(t.g, "r", IR_F32, &s0, &ratio);
	di[2] = ir_add_const(t.g, "t", IR_BOOL, &s0, &train);
	node(&t, OP_Dropout, 3, di, 1);
	CHECK(run(&t, di_in, yo));
	CHECK(memcmp(y[0], xv, 6) == 0);
	ir_graph_free(t.g);
	ratio = 0.5f;
	t.g = ir_graph_new("v");
	x = ir_add_input(t.g, "x", IR_I8, &s);
	di[0] = x;
	di[1] = ir_add_const(t.g, "r", IR_F32, &s0, &ratio);
	di[2] = ir_add_const(t.g, "t", IR_BOOL, &s0, &train);
	node(&t, OP_Dropout, 3, di, 1);
	CHECK(!run(&t, di_in, yo));
	CHECK(strstr(t.err, "training-mode Dropout") != NULL);
	ir_graph_free(t.g);
	t.g = ir_graph_new("v");
	x = ir_add_input(t.g, "x", IR_I8, &s);
	di[0] = x;
	di[1] = ir_add_const(t.g, "r", IR_F32, &s0, &ratio);
	di[2] = ir_add_input(t.g, "t", IR_BOOL, &s0);
	node(&t, OP_Dropout, 3, di, 1);
	CHECK(!run(&t, di_in, yo));
	CHECK(strstr(t.err, "training_mode (input 2) must be a constant") !=
	      NULL);
	ir_graph_free(t.g);

	/* Squeezing a dim that is not 1. */
	t.g = ir_graph_new("v");
	x = ir_add_input(t.g, "x", IR_F32, &s);
	si[0] = x;
	si[1] = INTS(t.g, 1);
	node(&t, OP_Squeeze, 2, si, 1);
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "dim is not 1") != NULL);
	ir_graph_free(t.g);
}

static void
test_transpose(void)
{
	tg t = {.g = ir_graph_new("t")};
	ir_shape s = SH(2, 3), s3 = SH(2, 3, 2);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s);
	ir_value *z = ir_add_input(t.g, "z", IR_I64, &s3);
	ir_node *a = node(&t, OP_Transpose, 1, &x, 1);
	ir_node *b = node(&t, OP_Transpose, 1, &z, 1);
	ir_attr *p = ir_set_attr(t.g, b, "perm", IR_ATTR_INTS);
	static int64_t perm[] = {2, 0, 1};
	p->n = 3;
	p->ints = perm;
	float xv[] = {1, 2, 3, 4, 5, 6}, y[6], ye[] = {1, 4, 2, 5, 3, 6};
	int64_t zv[12], zy[12];
	for (int i = 0; i < 12; i++)
		zv[i] = i;
	/* out[k][i][j] = z[i][j][k] */
	int64_t ze[] = {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11};
	const void *xi[] = {xv, zv};
	void *yo[] = {y, zy};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(a->out[0], SH(3, 2)));
	CHECK(has_shape(b->out[0], SH(2, 2, 3)));
	CHECK(feq(y, ye, 6));
	CHECK(memcmp(zy, ze, sizeof ze) == 0);
	ir_graph_free(t.g);

	t.g = ir_graph_new("t");
	z = ir_add_input(t.g, "z", IR_I64, &s3);
	b = node(&t, OP_Transpose, 1, &z, 1);
	p = ir_set_attr(t.g, b, "perm", IR_ATTR_INTS);
	static int64_t bad[] = {0, 2, 0};
	p->n = 3;
	p->ints = bad;
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "not a permutation") != NULL);
	ir_graph_free(t.g);
}

static void
test_concat_split(void)
{
	tg t = {.g = ir_graph_new("c")};
	ir_shape s1 = SH(2, 2), s2 = SH(2, 1), s5 = SH(5);
	ir_value *in[2] = {ir_add_input(t.g, "a", IR_F32, &s1),
			   ir_add_input(t.g, "b", IR_F32, &s2)};
	ir_node *c = node(&t, OP_Concat, 2, in, 1);
	ir_set_attr(t.g, c, "axis", IR_ATTR_INT)->i = -1;
	ir_value *v = ir_add_input(t.g, "v", IR_F32, &s5);
	ir_node *sp = node(&t, OP_Split, 1, &v, 2);
	ir_set_attr(t.g, sp, "num_outputs", IR_ATTR_INT)->i = 2;
	ir_value *si[2] = {v, INTS(t.g, 1, 0, 4)};
	ir_node *sp3 = node(&t, OP_Split, 2, si, 3);
	float a[] = {1, 2, 3, 4}, b[] = {5, 6}, vv[] = {1, 2, 3, 4, 5};
	float y[6], p[3], q[2], r[1], r2[1], r3[4];
	float ye[] = {1, 2, 5, 3, 4, 6};
	const void *xi[] = {a, b, vv};
	void *yo[] = {y, p, q, r, r2, r3};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(c->out[0], SH(2, 3)));
	CHECK(feq(y, ye, 6));
	CHECK(has_shape(sp->out[0], SH(3)) && has_shape(sp->out[1], SH(2)));
	CHECK(feq(p, (float[]){1, 2, 3}, 3) && feq(q, (float[]){4, 5}, 2));
	CHECK(has_shape(sp3->out[1], SH(0)));
	CHECK(r[0] == 1 && feq(r3, (float[]){2, 3, 4, 5}, 4));
	ir_graph_free(t.g);

	/* Concat dims mismatch; split sizes not summing to the dim. */
	t.g = ir_graph_new("c");
	in[0] = ir_add_input(t.g, "a", IR_F32, &s1);
	in[1] = ir_add_input(t.g, "b", IR_F32, &s2);
	c = node(&t, OP_Concat, 2, in, 1);
	ir_set_attr(t.g, c, "axis", IR_ATTR_INT)->i = 0;
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "does not match") != NULL);
	ir_graph_free(t.g);
	t.g = ir_graph_new("c");
	si[0] = ir_add_input(t.g, "v", IR_F32, &s5);
	si[1] = INTS(t.g, 2, 2);
	node(&t, OP_Split, 2, si, 2);
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "sum to 4") != NULL);
	ir_graph_free(t.g);
}

static void
test_slice(void)
{
	tg t = {.g = ir_graph_new("s")};
	ir_shape s = SH(10), s2 = SH(3, 4);
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s);
	ir_value *in[5] = {x, INTS(t.g, -1), INTS(t.g, INT64_MIN), NULL,
			   INTS(t.g, -3)};
	ir_node *a = node(&t, OP_Slice, 5, in, 1);
	ir_value *m = ir_add_input(t.g, "m", IR_I16, &s2);
	ir_value *in2[5] = {m, INTS(t.g, 0, 3), INTS(t.g, INT64_MAX, 0),
			    INTS(t.g, 0, -1), INTS(t.g, 2, -1)};
	ir_node *b = node(&t, OP_Slice, 5, in2, 1);
	ir_value *in3[3] = {x, INTS(t.g, 1000), INTS(t.g, 1000)};
	ir_node *c = node(&t, OP_Slice, 3, in3, 1);
	float xv[10], y[4], yc[1];
	short mv[12], my[6];
	for (int i = 0; i < 10; i++)
		xv[i] = (float)i;
	for (int i = 0; i < 12; i++)
		mv[i] = (short)i;
	const void *xi[] = {xv, mv};
	void *yo[] = {y, my, yc};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(a->out[0], SH(4)));
	CHECK(feq(y, (float[]){9, 6, 3, 0}, 4));
	CHECK(has_shape(b->out[0], SH(2, 3)));
	CHECK(memcmp(my, (short[]){3, 2, 1, 11, 10, 9}, sizeof my) == 0);
	CHECK(has_shape(c->out[0], SH(0)));
	ir_graph_free(t.g);
}

static void
test_gather(void)
{
	tg t = {.g = ir_graph_new("g")};
	ir_shape s = SH(3, 2), si = SH(2), s11 = SH(1, 1);
	ir_value *in[2] = {ir_add_input(t.g, "x", IR_F32, &s),
			   ir_add_input(t.g, "i", IR_I32, &si)};
	ir_node *a = node(&t, OP_Gather, 2, in, 1);
	int64_t one = 1;
	ir_value *in2[2] = {in[0], ir_add_const(t.g, NULL, IR_I64, &s11, &one)};
	ir_node *b = node(&t, OP_Gather, 2, in2, 1);
	ir_set_attr(t.g, b, "axis", IR_ATTR_INT)->i = -1;
	float xv[] = {1, 2, 3, 4, 5, 6}, y[4], yb[3];
	int32_t iv[] = {-1, 0};
	const void *xi[] = {xv, iv};
	void *yo[] = {y, yb};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(a->out[0], SH(2, 2)));
	CHECK(feq(y, (float[]){5, 6, 1, 2}, 4));
	CHECK(has_shape(b->out[0], SH(3, 1, 1)));
	CHECK(feq(yb, (float[]){2, 4, 6}, 3));
	/* A data-dependent out-of-range index fails at run time. */
	iv[0] = 3;
	CHECK(!run(&t, xi, yo));
	CHECK(strstr(t.err, "index 3 out of range") != NULL);
	ir_graph_free(t.g);

	/* A constant out-of-range index fails in shape inference. */
	t.g = ir_graph_new("g");
	in[0] = ir_add_input(t.g, "x", IR_F32, &s);
	in[1] = INTS(t.g, -4);
	node(&t, OP_Gather, 2, in, 1);
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "index -4 out of range") != NULL);
	ir_graph_free(t.g);
}

static ir_node *
pad(tg *t, ir_value *x, ir_value *pads, ir_value *val, ir_value *axes,
    const char *mode)
{
	ir_value *in[4] = {x, pads, val, axes};
	ir_node *n = node(t, OP_Pad, axes ? 4 : val ? 3 : 2, in, 1);
	if (mode)
		ir_set_attr(t->g, n, "mode", IR_ATTR_STRING)->s = mode;
	return n;
}

static void
test_pad(void)
{
	tg t = {.g = ir_graph_new("p")};
	ir_shape s = SH(3), s2 = SH(2, 2), s0 = {0};
	ir_value *x = ir_add_input(t.g, "x", IR_F32, &s);
	ir_node *a = pad(&t, x, INTS(t.g, 2, 2), NULL, NULL, "reflect");
	pad(&t, x, INTS(t.g, 2, 2), NULL, NULL, "edge");
	pad(&t, x, INTS(t.g, 5, -1), NULL, NULL, "reflect");
	float nine = 9.5f;
	ir_value *m = ir_add_input(t.g, "m", IR_F32, &s2);
	ir_node *d = pad(&t, m, INTS(t.g, 1, 0), ir_add_const(t.g, NULL,
			 IR_F32, &s0, &nine), INTS(t.g, -1), NULL);
	float xv[] = {1, 2, 3}, mv[] = {1, 2, 3, 4};
	float ya[7], yb[7], yc[7], yd[6];
	const void *xi[] = {xv, mv};
	void *yo[] = {ya, yb, yc, yd};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(a->out[0], SH(7)));
	CHECK(feq(ya, (float[]){3, 2, 1, 2, 3, 2, 1}, 7));
	CHECK(feq(yb, (float[]){1, 1, 1, 2, 3, 3, 3}, 7));
	/* numpy: np.pad([1,2,3], 5, 'reflect')[:7] */
	CHECK(feq(yc, (float[]){2, 1, 2, 3, 2, 1, 2}, 7));
	CHECK(has_shape(d->out[0], SH(2, 3)));
	CHECK(feq(yd, (float[]){9.5f, 1, 2, 9.5f, 3, 4}, 6));
	ir_graph_free(t.g);

	/* wrap: np.pad([1,2,3], (2,1), 'wrap') then a crop of 2 at the end
	 * (numpy 1.24 is not periodic for wide asymmetric pads; ONNX means
	 * the periodic extension, which this is). */
	t.g = ir_graph_new("p");
	x = ir_add_input(t.g, "x", IR_F32, &s);
	pad(&t, x, INTS(t.g, 2, -2), NULL, NULL, "wrap");
	float yw[3];
	void *ywo[] = {yw};
	CHECK(run(&t, xi, ywo));
	CHECK(has_shape(t.n->out[0], SH(3)));
	CHECK(feq(yw, (float[]){2, 3, 1}, 3));
	ir_graph_free(t.g);

	t.g = ir_graph_new("p");
	x = ir_add_input(t.g, "x", IR_F32, &s);
	pad(&t, x, INTS(t.g, 1, 1), NULL, NULL, "mirror");
	CHECK(!run(&t, NULL, NULL));
	CHECK(strstr(t.err, "unknown mode 'mirror'") != NULL);
	ir_graph_free(t.g);
}

int
main(void)
{
	test_reshape();
	test_views();
	test_transpose();
	test_concat_split();
	test_slice();
	test_gather();
	test_pad();
	return unit_report();
}
