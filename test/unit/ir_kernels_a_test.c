/* Unit test of the Conv/ConvTranspose, Gemm/MatMul, pool, norm and Resize
 * kernels: one-node graphs built through ir.h, shape inference plus the
 * interpreter, against values computed by hand (in the comments). */
#include "unit_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ir_value *
input(tg *t, const char *name, ir_shape s)
{
	return ir_add_input(t->g, name, IR_F32, &s);
}

static ir_value *
cst(tg *t, const char *name, ir_dtype dt, ir_shape s, const void *data)
{
	return ir_add_const(t->g, name, dt, &s, data);
}

static void
set_ints(tg *t, const char *name, int n, const int64_t *v)
{
	ir_attr *a = ir_set_attr(t->g, t->n, name, IR_ATTR_INTS);
	a->n = n;
	a->ints = nn_alloc_array(t->g->arena, (size_t)n, sizeof *a->ints);
	memcpy(a->ints, v, (size_t)n * sizeof *v);
}

#define INTS(t, name, ...) set_ints(t, name, \
	(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
	(const int64_t[]){__VA_ARGS__})

static void
set_int(tg *t, const char *name, int64_t v)
{
	ir_set_attr(t->g, t->n, name, IR_ATTR_INT)->i = v;
}

static void
set_float(tg *t, const char *name, double v)
{
	ir_set_attr(t->g, t->n, name, IR_ATTR_FLOAT)->f = v;
}

static void
set_str(tg *t, const char *name, const char *s)
{
	ir_set_attr(t->g, t->n, name, IR_ATTR_STRING)->s = s;
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
		if (!(fabsf(a[i] - b[i]) <= tol)) {
			fprintf(stderr, "  [%d]: got %g, expected %g\n", i,
				a[i], b[i]);
			return false;
		}
	return true;
}

static const float x9[] = {0, 1, 2, 3, 4, 5, 6, 7, 8}; /* a 3x3 ramp */
static const float ones9[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

/* One single-input-single-weight conv on the 3x3 ramp, checked. */
static void
conv_case(const char *what, int line, void (*attrs)(tg *),
	  const float *w, ir_shape ws, ir_shape ys, const float *ye, int ny)
{
	tg t = {.g = ir_graph_new("c")};
	ir_value *in[2] = {input(&t, "x", SH(1, 1, 3, 3)),
			   cst(&t, "w", IR_F32, ws, w)};
	node(&t, OP_Conv, 2, in, 1);
	if (attrs)
		attrs(&t);
	float y[16];
	const void *xi[] = {x9};
	void *yo[] = {y};
	bool ok = run(&t, xi, yo);
	if (!ok)
		fprintf(stderr, "  %s: %s", what, t.err);
	check(ok && has_shape(t.n->out[0], ys) && near(y, ye, ny, 1e-5f),
	      what, line);
	ir_graph_free(t.g);
}

static void
pad1(tg *t)
{
	INTS(t, "pads", 1, 1, 1, 1);
}

static void
pad1_stride2(tg *t)
{
	INTS(t, "pads", 1, 1, 1, 1);
	INTS(t, "strides", 2, 2);
}

static void
same_lower(tg *t)
{
	set_str(t, "auto_pad", "SAME_LOWER");
}

static void
test_conv2d(void)
{
	/* 2x2 ones over the ramp: sums of 2x2 blocks. */
	float y22[] = {8, 12, 20, 24};
	conv_case("conv valid", __LINE__, NULL, ones9, SH(1, 1, 2, 2),
		  SH(1, 1, 2, 2), y22, 4);
	/* 3x3 ones, pads 1: neighbourhood sums. */
	float y33[] = {8, 15, 12, 21, 36, 27, 20, 33, 24};
	conv_case("conv padded", __LINE__, pad1, ones9, SH(1, 1, 3, 3),
		  SH(1, 1, 3, 3), y33, 9);
	/* Same with stride 2: the four corners of the above. */
	float ys[] = {8, 12, 20, 24};
	conv_case("conv strided", __LINE__, pad1_stride2, ones9,
		  SH(1, 1, 3, 3), SH(1, 1, 2, 2), ys, 4);
	/* SAME_LOWER with a 2x2 kernel pads one row/col at the top/left. */
	float ysl[] = {0, 1, 3, 3, 8, 12, 9, 20, 24};
	conv_case("conv same_lower", __LINE__, same_lower, ones9,
		  SH(1, 1, 2, 2), SH(1, 1, 3, 3), ysl, 9);
}

static void
test_conv_group(void)
{
	/* Two channels, group 2: a 1x1 conv (pointwise path) with bias, and
	 * a depthwise 2x2 one (im2col path). */
	tg t = {.g = ir_graph_new("g")};
	float w1[] = {2, 3}, b[] = {1, -1}, w2[] = {1, 1, 1, 1, 1, 0, 0, 1};
	ir_value *x = input(&t, "x", SH(1, 2, 2, 2));
	ir_value *in[3] = {x, cst(&t, "w1", IR_F32, SH(2, 1, 1, 1), w1),
			   cst(&t, "b", IR_F32, SH(2), b)};
	node(&t, OP_Conv, 3, in, 1);
	set_int(&t, "group", 2);
	ir_value *in2[2] = {x, cst(&t, "w2", IR_F32, SH(2, 1, 2, 2), w2)};
	ir_node *dw = node(&t, OP_Conv, 2, in2, 1);
	set_int(&t, "group", 2);
	float xv[] = {1, 2, 3, 4, 10, 20, 30, 40}, y[8], z[2];
	float ye[] = {3, 5, 7, 9, 29, 59, 89, 119}, ze[] = {10, 50};
	const void *xi[] = {xv};
	void *yo[] = {y, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(dw->out[0], SH(1, 2, 1, 1)));
	CHECK(near(y, ye, 8, 0) && near(z, ze, 2, 0));
	ir_graph_free(t.g);
}

static void
test_conv1d(void)
{
	/* x[i] - x[i+2] (dilation 2), and SAME_UPPER pads at the end. */
	tg t = {.g = ir_graph_new("c1")};
	float w[] = {1, -1}, w1[] = {1, 1};
	ir_value *x = input(&t, "x", SH(1, 1, 5));
	ir_value *in[2] = {x, cst(&t, "w", IR_F32, SH(1, 1, 2), w)};
	node(&t, OP_Conv, 2, in, 1);
	INTS(&t, "dilations", 2);
	ir_value *in2[2] = {x, cst(&t, "w1", IR_F32, SH(1, 1, 2), w1)};
	ir_node *su = node(&t, OP_Conv, 2, in2, 1);
	set_str(&t, "auto_pad", "SAME_UPPER");
	INTS(&t, "kernel_shape", 2);
	float xv[] = {1, 2, 4, 8, 16}, y[3], z[5];
	float ye[] = {-3, -6, -12}, ze[] = {3, 6, 12, 24, 16};
	const void *xi[] = {xv};
	void *yo[] = {y, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(su->out[0], SH(1, 1, 5)));
	CHECK(near(y, ye, 3, 0) && near(z, ze, 5, 0));
	ir_graph_free(t.g);
}

static void
test_conv_errors(void)
{
	tg t = {.g = ir_graph_new("e")};
	ir_value *in[2] = {input(&t, "x", SH(1, 3, 4, 4)),
			   input(&t, "w", SH(2, 2, 3, 3))};
	node(&t, OP_Conv, 2, in, 1);
	expect_error(&t, "weight expects 2 input channels (group 1), input "
		     "has 3");

	t.g = ir_graph_new("e");
	in[0] = input(&t, "x", SH(1, 4, 4, 4));
	in[1] = input(&t, "w", SH(2, 2, 3, 3));
	node(&t, OP_Conv, 2, in, 1);
	set_int(&t, "group", 3);
	expect_error(&t, "group 3 does not divide the 4 input channels");

	t.g = ir_graph_new("e");
	in[0] = input(&t, "x", SH(1, 1, 2, 2));
	in[1] = input(&t, "w", SH(1, 1, 3, 3));
	node(&t, OP_Conv, 2, in, 1);
	expect_error(&t, "input size 2 is too small for kernel 3");

	t.g = ir_graph_new("e");
	in[0] = input(&t, "x", SH(1, 1, 4, 4));
	in[1] = input(&t, "w", SH(1, 1, 3));
	node(&t, OP_Conv, 2, in, 1);
	expect_error(&t, "weight rank 3 != input rank 4");

	t.g = ir_graph_new("e");
	in[0] = input(&t, "x", SH(1, 1, 4, 4));
	in[1] = input(&t, "w", SH(1, 1, 3, 3));
	node(&t, OP_Conv, 2, in, 1);
	INTS(&t, "strides", 0, 1);
	expect_error(&t, "must be >= 1");
}

static void
test_convtranspose(void)
{
	tg t = {.g = ir_graph_new("t")};
	ir_value *x = input(&t, "x", SH(1, 1, 2, 2));
	ir_value *in[2] = {x, cst(&t, "w", IR_F32, SH(1, 1, 2, 2), ones9)};
	node(&t, OP_ConvTranspose, 2, in, 1);
	ir_node *s2 = node(&t, OP_ConvTranspose, 2, in, 1);
	INTS(&t, "strides", 2, 2);
	/* pads 1 at the start and output_padding 1 shift the stride-2
	 * result by one and keep its size. */
	ir_node *p = node(&t, OP_ConvTranspose, 2, in, 1);
	INTS(&t, "strides", 2, 2);
	INTS(&t, "pads", 1, 1, 0, 0);
	INTS(&t, "output_padding", 1, 1);
	float xv[] = {1, 2, 3, 4}, y[9], z[16], u[16];
	float ye[] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
	float ze[] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
	float ue[] = {1, 2, 2, 0, 3, 4, 4, 0, 3, 4, 4, 0, 0, 0, 0, 0};
	const void *xi[] = {xv};
	void *yo[] = {y, z, u};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(s2->out[0], SH(1, 1, 4, 4)));
	CHECK(has_shape(p->out[0], SH(1, 1, 4, 4)));
	CHECK(near(y, ye, 9, 0) && near(z, ze, 16, 0) && near(u, ue, 16, 0));
	ir_graph_free(t.g);
}

static void
test_gemm(void)
{
	/* A = [[1,2,3],[4,5,6]], B = A^T reshaped: AB = [[22,28],[49,64]];
	 * y = 2 AB + 0.5 [1,2], with A and B given transposed. */
	tg t = {.g = ir_graph_new("gemm")};
	float at[] = {1, 4, 2, 5, 3, 6}, bt[] = {1, 3, 5, 2, 4, 6};
	float c[] = {1, 2}, b[] = {1, 2, 3, 4, 5, 6};
	ir_value *a = input(&t, "a", SH(3, 2));
	ir_value *in[3] = {a, cst(&t, "bt", IR_F32, SH(2, 3), bt),
			   cst(&t, "c", IR_F32, SH(2), c)};
	ir_node *g = node(&t, OP_Gemm, 3, in, 1);
	set_int(&t, "transA", 1);
	set_int(&t, "transB", 1);
	set_float(&t, "alpha", 2);
	set_float(&t, "beta", 0.5);
	ir_value *in2[2] = {a, cst(&t, "b", IR_F32, SH(2, 3), b)};
	node(&t, OP_Gemm, 2, in2, 1); /* a (3x2) @ b, no C */
	float y[4], z[9];
	float ye[] = {44.5f, 57, 98.5f, 129};
	float ze[] = {17, 22, 27, 22, 29, 36, 27, 36, 45};
	const void *xi[] = {at};
	void *yo[] = {y, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(g->out[0], SH(2, 2)));
	CHECK(near(y, ye, 4, 1e-5f) && near(z, ze, 9, 1e-5f));
	ir_graph_free(t.g);

	t.g = ir_graph_new("gemm");
	in[0] = input(&t, "a", SH(2, 3));
	in[1] = input(&t, "b", SH(2, 3));
	node(&t, OP_Gemm, 2, in, 1);
	expect_error(&t, "inner dimensions differ");

	t.g = ir_graph_new("gemm");
	in[0] = input(&t, "a", SH(2, 3));
	in[1] = input(&t, "b", SH(3, 2));
	in[2] = input(&t, "c", SH(3));
	node(&t, OP_Gemm, 3, in, 1);
	expect_error(&t, "C of shape [3] does not broadcast to [2,2]");
}

static void
test_matmul(void)
{
	/* 1-D @ 2-D, and a [2,2,2] batch @ a broadcast [2,2] matrix. */
	tg t = {.g = ir_graph_new("mm")};
	float bm[] = {1, 2, 3, 4};
	ir_value *v = input(&t, "v", SH(2));
	ir_value *bb = input(&t, "bb", SH(2, 2, 2));
	ir_value *m = cst(&t, "m", IR_F32, SH(2, 2), bm);
	ir_value *in[2] = {v, m};
	ir_node *a = node(&t, OP_MatMul, 2, in, 1);
	ir_value *in2[2] = {bb, m};
	ir_node *b = node(&t, OP_MatMul, 2, in2, 1);
	ir_value *in3[2] = {m, v};
	ir_node *c = node(&t, OP_MatMul, 2, in3, 1);
	float vv[] = {1, 2}, bv[] = {1, 0, 0, 1, 0, 1, 1, 0};
	float y[2], z[8], w[2], ye[] = {7, 10}, we[] = {5, 11};
	float ze[] = {1, 2, 3, 4, 3, 4, 1, 2};
	const void *xi[] = {vv, bv};
	void *yo[] = {y, z, w};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(a->out[0], SH(2)) && has_shape(b->out[0], SH(2, 2, 2)));
	CHECK(has_shape(c->out[0], SH(2)));
	CHECK(near(y, ye, 2, 0) && near(z, ze, 8, 0) && near(w, we, 2, 0));
	ir_graph_free(t.g);

	/* Integer MatMul runs exactly. */
	t.g = ir_graph_new("mm");
	ir_shape s22 = SH(2, 2);
	ir_value *ii[2] = {ir_add_input(t.g, "a", IR_I64, &s22),
			   ir_add_input(t.g, "b", IR_I64, &s22)};
	node(&t, OP_MatMul, 2, ii, 1);
	int64_t ia[] = {1, 2, 3, 4}, ib[] = {5, 6, 7, 8}, iy[4];
	const void *ix[] = {ia, ib};
	void *iyo[] = {iy};
	CHECK(run(&t, ix, iyo));
	CHECK(iy[0] == 19 && iy[1] == 22 && iy[2] == 43 && iy[3] == 50);
	ir_graph_free(t.g);
}

static void
test_maxpool(void)
{
	tg t = {.g = ir_graph_new("p")};
	ir_value *x = input(&t, "x", SH(1, 1, 4, 4));
	ir_value *x3 = input(&t, "x3", SH(1, 1, 3, 3));
	ir_node *m = node(&t, OP_MaxPool, 1, &x, 2);
	INTS(&t, "kernel_shape", 2, 2);
	INTS(&t, "strides", 2, 2);
	node(&t, OP_MaxPool, 1, &x, 2);
	INTS(&t, "kernel_shape", 2, 2);
	INTS(&t, "strides", 2, 2);
	set_int(&t, "storage_order", 1);
	ir_node *c = node(&t, OP_MaxPool, 1, &x3, 1);
	INTS(&t, "kernel_shape", 2, 2);
	INTS(&t, "strides", 2, 2);
	set_int(&t, "ceil_mode", 1);
	float xv[16], y[4], y2[4], z[4];
	for (int i = 0; i < 16; i++)
		xv[i] = (float)i;
	int64_t ind[4], ind2[4];
	const void *xi[] = {xv, x9};
	void *yo[] = {y, ind, y2, ind2, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(m->out[0], SH(1, 1, 2, 2)));
	CHECK(m->out[1]->dtype == IR_I64);
	CHECK(has_shape(c->out[0], SH(1, 1, 2, 2)));
	float ye[] = {5, 7, 13, 15}, ze[] = {4, 5, 7, 8};
	CHECK(near(y, ye, 4, 0) && near(y2, ye, 4, 0) && near(z, ze, 4, 0));
	CHECK(ind[0] == 5 && ind[1] == 7 && ind[2] == 13 && ind[3] == 15);
	/* Column-major: (h, w) -> w * 4 + h. */
	CHECK(ind2[0] == 5 && ind2[1] == 13 && ind2[2] == 7 && ind2[3] == 15);
	ir_graph_free(t.g);

	t.g = ir_graph_new("p");
	x = input(&t, "x", SH(1, 1, 4, 4));
	node(&t, OP_MaxPool, 1, &x, 1);
	INTS(&t, "kernel_shape", 2);
	expect_error(&t, "kernel_shape has 1 values but the input has 2 "
		     "spatial dims");
}

static void
test_avgpool(void)
{
	/* 3x3 window, pads 1, over the ramp: corner (0+1+3+4)/4 or /9,
	 * edge 15/6 or /9, centre 36/9. */
	tg t = {.g = ir_graph_new("a")};
	ir_value *x = input(&t, "x", SH(1, 1, 3, 3));
	node(&t, OP_AveragePool, 1, &x, 1);
	INTS(&t, "kernel_shape", 3, 3);
	INTS(&t, "pads", 1, 1, 1, 1);
	node(&t, OP_AveragePool, 1, &x, 1);
	INTS(&t, "kernel_shape", 3, 3);
	INTS(&t, "pads", 1, 1, 1, 1);
	set_int(&t, "count_include_pad", 1);
	ir_node *gp = node(&t, OP_GlobalAveragePool, 1, &x, 1);
	ir_node *gm = node(&t, OP_GlobalMaxPool, 1, &x, 1);
	float y[9], z[9], ga, gmx;
	float ye[] = {2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f, 6};
	float ze[] = {8 / 9.f, 15 / 9.f, 12 / 9.f, 21 / 9.f, 4, 27 / 9.f,
		      20 / 9.f, 33 / 9.f, 24 / 9.f};
	const void *xi[] = {x9};
	void *yo[] = {y, z, &ga, &gmx};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(gp->out[0], SH(1, 1, 1, 1)));
	CHECK(has_shape(gm->out[0], SH(1, 1, 1, 1)));
	CHECK(near(y, ye, 9, 1e-6f) && near(z, ze, 9, 1e-6f));
	CHECK(ga == 4 && gmx == 8);
	ir_graph_free(t.g);
}

static void
test_norm(void)
{
	/* BN: c0 (x-1)/2, c1 2(x-3)/1 + 1 (epsilon 0). */
	tg t = {.g = ir_graph_new("n")};
	float sc[] = {1, 2}, bi[] = {0, 1}, mu[] = {1, 3}, var[] = {4, 1};
	ir_value *in[5] = {input(&t, "x", SH(1, 2, 1, 2)),
			   cst(&t, "s", IR_F32, SH(2), sc),
			   cst(&t, "b", IR_F32, SH(2), bi),
			   cst(&t, "m", IR_F32, SH(2), mu),
			   cst(&t, "v", IR_F32, SH(2), var)};
	node(&t, OP_BatchNormalization, 5, in, 1);
	set_float(&t, "epsilon", 0);
	/* LN over the last axis of [1,4]: mean 2.5, variance 1.25. */
	float one4[] = {1, 1, 1, 1}, zero4[] = {0, 0, 0, 0};
	ir_value *ln[3] = {input(&t, "x2", SH(1, 4)),
			   cst(&t, "ls", IR_F32, SH(4), one4),
			   cst(&t, "lb", IR_F32, SH(4), zero4)};
	ir_node *l = node(&t, OP_LayerNormalization, 3, ln, 3);
	set_float(&t, "epsilon", 0);
	float xv[] = {1, 2, 3, 4}, y[4], z[4], mean, inv;
	float ye[] = {0, 0.5f, 1, 3};
	float is = 1 / sqrtf(1.25f);
	float ze[] = {-1.5f * is, -0.5f * is, 0.5f * is, 1.5f * is};
	const void *xi[] = {xv, xv};
	void *yo[] = {y, z, &mean, &inv};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(l->out[1], SH(1, 1)) && l->out[2]->dtype == IR_F32);
	CHECK(near(y, ye, 4, 1e-6f) && near(z, ze, 4, 1e-6f));
	CHECK(mean == 2.5f && fabsf(inv - is) < 1e-6f);
	ir_graph_free(t.g);

	t.g = ir_graph_new("n");
	ln[0] = input(&t, "x", SH(2, 3));
	ln[1] = input(&t, "s", SH(2));
	node(&t, OP_LayerNormalization, 2, ln, 1);
	expect_error(&t, "scale of shape [2] does not broadcast");

	t.g = ir_graph_new("n");
	in[0] = input(&t, "x", SH(1, 3, 2));
	for (int i = 1; i < 5; i++)
		in[i] = input(&t, i == 1 ? "s" : i == 2 ? "b" : i == 3 ? "m" : "v",
			      SH(2));
	node(&t, OP_BatchNormalization, 5, in, 1);
	expect_error(&t, "input 'scale' must have shape [3]");
}

static void
test_resize_crop_axes(void)
{
	/* tf_crop_and_resize of [1,2,3,4] over roi width [0.5, 1.5] into 3:
	 * coords 1.5, 3, 4.5 (outside: extrapolation value 9). */
	tg t = {.g = ir_graph_new("r")};
	float roi[] = {0, 0, 0, 0.5f, 1, 1, 1, 1.5f};
	int64_t sz[] = {1, 1, 1, 3}, sz2[] = {4, 4};
	ir_value *in[4] = {input(&t, "x", SH(1, 1, 1, 4)),
			   cst(&t, "roi", IR_F32, SH(8), roi), NULL,
			   cst(&t, "sz", IR_I64, SH(4), sz)};
	node(&t, OP_Resize, 4, in, 1);
	set_str(&t, "mode", "linear");
	set_str(&t, "coordinate_transformation_mode", "tf_crop_and_resize");
	set_float(&t, "extrapolation_value", 9);
	/* axes 2,3 with sizes 4x4 on a 2x4 input: not_larger keeps scale 1,
	 * not_smaller takes scale 2 for both axes. */
	ir_value *x2 = input(&t, "x2", SH(1, 1, 2, 4));
	ir_value *in2[4] = {x2, NULL, NULL, cst(&t, "sz2", IR_I64, SH(2), sz2)};
	ir_node *nl = node(&t, OP_Resize, 4, in2, 1);
	INTS(&t, "axes", 2, -1);
	set_str(&t, "keep_aspect_ratio_policy", "not_larger");
	ir_node *ns = node(&t, OP_Resize, 4, in2, 1);
	INTS(&t, "axes", 2, 3);
	set_str(&t, "keep_aspect_ratio_policy", "not_smaller");
	float xv[] = {1, 2, 3, 4}, x2v[8], y[3], z[8], u[32];
	float ye[] = {2.5f, 4, 9};
	for (int i = 0; i < 8; i++)
		x2v[i] = (float)i;
	const void *xi[] = {xv, x2v};
	void *yo[] = {y, z, u};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(nl->out[0], SH(1, 1, 2, 4)));
	CHECK(has_shape(ns->out[0], SH(1, 1, 4, 8)));
	CHECK(near(y, ye, 3, 1e-6f) && near(z, x2v, 8, 0));
	/* Nearest x2 of row 1 (4..7), half_pixel: 4 4 5 5 6 6 7 7. */
	CHECK(u[16] == 4 && u[17] == 4 && u[18] == 5 && u[31] == 7);
	ir_graph_free(t.g);
}

static void
test_resize(void)
{
	tg t = {.g = ir_graph_new("r")};
	float s2[] = {1, 1, 2, 2}, s12[] = {1, 1, 1, 2};
	int64_t sz[] = {1, 1, 1, 4};
	ir_value *x = input(&t, "x", SH(1, 1, 2, 2));
	ir_value *x2 = input(&t, "x2", SH(1, 1, 1, 2));
	ir_value *in[4] = {x, NULL, cst(&t, "s", IR_F32, SH(4), s2), NULL};
	ir_node *r = node(&t, OP_Resize, 3, in, 1);
	/* Linear, half_pixel, [0,4] x2: coords -0.25, 0.25, 0.75, 1.25. */
	ir_value *in2[3] = {x2, NULL, cst(&t, "s12", IR_F32, SH(4), s12)};
	node(&t, OP_Resize, 3, in2, 1);
	set_str(&t, "mode", "linear");
	/* Linear, align_corners, sizes 4: coords 0, 1/3, 2/3, 1. */
	ir_value *in3[4] = {x2, NULL, NULL, cst(&t, "sz", IR_I64, SH(4), sz)};
	node(&t, OP_Resize, 4, in3, 1);
	set_str(&t, "mode", "linear");
	set_str(&t, "coordinate_transformation_mode", "align_corners");
	float xv[] = {1, 2, 3, 4}, x2v[] = {0, 4}, y[16], z[4], u[4];
	float ye[] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
	float ze[] = {0, 1, 3, 4}, ue[] = {0, 4 / 3.f, 8 / 3.f, 4};
	const void *xi[] = {xv, x2v};
	void *yo[] = {y, z, u};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(r->out[0], SH(1, 1, 4, 4)));
	CHECK(near(y, ye, 16, 0) && near(z, ze, 4, 1e-6f) &&
	      near(u, ue, 4, 1e-6f));
	ir_graph_free(t.g);

	test_resize_crop_axes();

	t.g = ir_graph_new("r");
	in[0] = input(&t, "x", SH(1, 1, 2, 2));
	in[2] = cst(&t, "s", IR_F32, SH(4), s2);
	node(&t, OP_Resize, 3, in, 1);
	set_str(&t, "mode", "bicubic");
	expect_error(&t, "mode 'bicubic' is not supported");

	t.g = ir_graph_new("r");
	in[0] = input(&t, "x", SH(1, 1, 2, 2));
	in[2] = input(&t, "s", SH(4));
	node(&t, OP_Resize, 3, in, 1);
	expect_error(&t, "input 'scales' must be a constant");
}

static void
test_resize_cubic(void)
{
	/* Cubic x2 of [0, 32, 0, 0], asymmetric: coordinate k/2. Keys kernel
	 * (a = -0.75) at distances 0.5 and 1.5: 0.59375 and -0.09375, so
	 * half-way points are 32 * 0.59375 = 19 next to the 32 and
	 * 32 * -0.09375 = -3 one further; integer points copy the input. */
	tg t = {.g = ir_graph_new("c")};
	float s2[] = {1, 2};
	ir_value *in[3] = {input(&t, "x", SH(1, 4)), NULL,
			   cst(&t, "s", IR_F32, SH(2), s2)};
	ir_node *r = node(&t, OP_Resize, 3, in, 1);
	set_str(&t, "mode", "cubic");
	set_str(&t, "coordinate_transformation_mode", "asymmetric");
	/* a = -0.5, exclude_outside, half_pixel: output 0 at -0.25 keeps
	 * taps 0 and 1 (weights 0.8671875, -0.0703125, sum 51/64), so
	 * 32 * -0.0703125 / (51/64) = -48/17; output 1 at 0.25 keeps taps
	 * 0..2 (0.8671875, 0.2265625, -0.0234375, sum 137/128): 928/137. */
	node(&t, OP_Resize, 3, in, 1);
	set_str(&t, "mode", "cubic");
	set_float(&t, "cubic_coeff_a", -0.5);
	set_int(&t, "exclude_outside", 1);
	float xv[] = {0, 32, 0, 0}, y[8], z[8];
	float ye[] = {0, 19, 32, 19, 0, -3, 0, 0};
	const void *xi[] = {xv};
	void *yo[] = {y, z};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(r->out[0], SH(1, 8)));
	CHECK(near(y, ye, 8, 1e-5f));
	CHECK(fabsf(z[0] + 48 / 17.f) < 1e-5f &&
	      fabsf(z[1] - 928 / 137.f) < 1e-5f);
	ir_graph_free(t.g);
}

static void
test_bn_training(void)
{
	/* x [2,2,1] = {1, 2, 3, 6}: channel 0 holds 1, 3 (batch mean 2,
	 * population variance 1), channel 1 holds 2, 6 (mean 4, variance 4).
	 * scale {1, 2}, bias {0, 1}, epsilon 0: y = {-1, -1, 1, 3}. Running
	 * stats with momentum 0.5 from mean {0, 10}, var {1, 1}:
	 * mean {1, 7}, var {1, 2.5}. */
	tg t = {.g = ir_graph_new("bt")};
	float sc[] = {1, 2}, bi[] = {0, 1}, mu[] = {0, 10}, var[] = {1, 1};
	ir_value *in[5] = {input(&t, "x", SH(2, 2, 1)),
			   cst(&t, "s", IR_F32, SH(2), sc),
			   cst(&t, "b", IR_F32, SH(2), bi),
			   cst(&t, "m", IR_F32, SH(2), mu),
			   cst(&t, "v", IR_F32, SH(2), var)};
	ir_node *n = node(&t, OP_BatchNormalization, 5, in, 3);
	set_float(&t, "epsilon", 0);
	set_float(&t, "momentum", 0.5);
	set_int(&t, "training_mode", 1);
	float xv[] = {1, 2, 3, 6}, y[4], rm[2], rv[2];
	float ye[] = {-1, -1, 1, 3}, rme[] = {1, 7}, rve[] = {1, 2.5f};
	const void *xi[] = {xv};
	void *yo[] = {y, rm, rv};
	CHECK(run(&t, xi, yo));
	CHECK(has_shape(n->out[1], SH(2)) && has_shape(n->out[2], SH(2)));
	CHECK(near(y, ye, 4, 1e-6f) && near(rm, rme, 2, 1e-6f) &&
	      near(rv, rve, 2, 1e-6f));
	ir_graph_free(t.g);

	t.g = ir_graph_new("bt");
	in[0] = input(&t, "x", SH(2, 2, 1));
	for (int i = 1; i < 5; i++)
		in[i] = input(&t, i == 1 ? "s" : i == 2 ? "b" : i == 3 ? "m" : "v",
			      SH(2));
	node(&t, OP_BatchNormalization, 5, in, 1);
	set_int(&t, "training_mode", 2);
	expect_error(&t, "training_mode=2 is not supported");
}

int
main(void)
{
	test_conv2d();
	test_conv_group();
	test_conv1d();
	test_conv_errors();
	test_convtranspose();
	test_gemm();
	test_matmul();
	test_maxpool();
	test_avgpool();
	test_norm();
	test_resize();
	test_resize_cubic();
	test_bn_training();
	return unit_report();
}
