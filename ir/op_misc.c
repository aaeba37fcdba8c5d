/* Shape, Size, Constant, ConstantOfShape, EyeLike, Cast and CastLike:
 * shape inference and reference kernels. Shape, Size and Constant also
 * fill their output data at shape inference, since none depends on input
 * data. */
#include <math.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

/* ---- Shape ---- */

/* The [start, end) range of dims that Shape returns (clamped as ONNX). */
static void
shape_range(const ir_node *n, int64_t *start, int64_t *end)
{
	int64_t r = n->in[0]->shape.rank;
	/* end has no default: absent, it is the rank (every dim) */
	int64_t s = ir_attr_i(n, "start"), e = ir_attr_int(n, "end", r);
	s = s < 0 ? s + r : s;
	e = e < 0 ? e + r : e;
	s = s < 0 ? 0 : s > r ? r : s;
	e = e < 0 ? 0 : e > r ? r : e;
	*start = s;
	*end = e < s ? s : e;
}

bool
ir_shape_shape(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)d;
	int64_t s, e;
	if (n->op == OP_Size) {
		int64_t *p = nn_alloc(g->weights, sizeof *p);
		*p = ir_shape_numel(&n->in[0]->shape);
		n->out[0]->dtype = IR_I64;
		n->out[0]->shape = (ir_shape){.rank = 0};
		n->out[0]->data = p;
		return true;
	}
	shape_range(n, &s, &e);
	ir_value *o = n->out[0];
	o->dtype = IR_I64;
	o->shape = (ir_shape){.rank = 1, .dim = {e - s}};
	int64_t *p = nn_alloc_array(g->weights, (size_t)(e - s + 1), 8);
	for (int64_t i = s; i < e; i++)
		p[i - s] = n->in[0]->shape.dim[i];
	o->data = p;
	return true;
}

bool
ir_eval_shape(const ir_node *n, const void *const *in, void *const *out,
	      nn_diag *d)
{
	(void)in;
	(void)d;
	int64_t s, e, *p = out[0];
	if (n->op == OP_Size) {
		*p = ir_shape_numel(&n->in[0]->shape);
		return true;
	}
	shape_range(n, &s, &e);
	for (int64_t i = s; i < e; i++)
		p[i - s] = n->in[0]->shape.dim[i];
	return true;
}

/* ---- Constant, ConstantOfShape ---- */

/* Constant's value attribute (value, value_float, ...): exactly one is
 * allowed, else NULL. */
static const ir_attr *
constant_attr(const ir_node *n)
{
	const ir_attr *a = NULL;
	for (int i = 0; i < n->nattrs; i++)
		if (strncmp(n->attrs[i].name, "value", 5) == 0) {
			if (a)
				return NULL;
			a = &n->attrs[i];
		}
	return a;
}

/* Type and shape of the value held by attribute a; false if its kind
 * cannot be a Constant's value. */
static bool
constant_type(const ir_attr *a, ir_dtype *t, ir_shape *s)
{
	*s = (ir_shape){.rank = 0};
	switch (a->kind) {
	case IR_ATTR_TENSOR:
		*t = a->t->dtype;
		*s = a->t->shape;
		return ir_dtype_size(*t) != 0 &&
		       (a->t->data || ir_shape_numel(s) == 0);
	case IR_ATTR_FLOAT: *t = IR_F32; return true;
	case IR_ATTR_INT: *t = IR_I64; return true;
	case IR_ATTR_FLOATS: *t = IR_F32; break;
	case IR_ATTR_INTS: *t = IR_I64; break;
	default: return false;
	}
	*s = (ir_shape){.rank = 1, .dim = {a->n}};
	return true;
}

static void
constant_fill(const ir_attr *a, void *out, int64_t cnt, size_t es)
{
	switch (a->kind) {
	case IR_ATTR_TENSOR:
		if (cnt > 0)
			memcpy(out, a->t->data, (size_t)cnt * es);
		break;
	case IR_ATTR_FLOAT: *(float *)out = (float)a->f; break;
	case IR_ATTR_INT: *(int64_t *)out = a->i; break;
	case IR_ATTR_FLOATS:
		for (int64_t i = 0; i < cnt; i++)
			((float *)out)[i] = (float)a->floats[i];
		break;
	case IR_ATTR_INTS:
		if (cnt > 0)
			memcpy(out, a->ints, (size_t)cnt * 8);
		break;
	default: nn_unreachable();
	}
}

/* The tensor of ConstantOfShape's shape input, read from its data. */
static bool
cos_shape(ir_node *n, ir_shape *s, nn_diag *d)
{
	ir_value *x = n->in[0];
	if (!ir_dtype_is_int(x->dtype) || x->shape.rank != 1) {
		nn_error_node(d, n, "shape input must be a 1-D integer tensor");
		return false;
	}
	if (!x->data) {
		nn_error_node(d, n, "shape (input 0) must be a constant");
		return false;
	}
	if (x->shape.dim[0] > IR_MAX_RANK) {
		nn_error_node(d, n, "rank %lld exceeds %d",
			      (long long)x->shape.dim[0], IR_MAX_RANK);
		return false;
	}
	*s = (ir_shape){.rank = (int)x->shape.dim[0]};
	for (int i = 0; i < s->rank; i++) {
		s->dim[i] = ir_load_i64(x->data, x->dtype, i);
		if (s->dim[i] < 0) {
			nn_error_node(d, n, "negative dimension %lld",
				      (long long)s->dim[i]);
			return false;
		}
	}
	if (ir_shape_numel(s) < 0) {
		nn_error_node(d, n, "output too large");
		return false;
	}
	return true;
}

static bool
cos_value_ok(ir_node *n, nn_diag *d)
{
	const ir_attr *a = ir_get_attr(n, "value");
	if (!a)
		return true;
	if (a->kind != IR_ATTR_TENSOR || ir_dtype_size(a->t->dtype) == 0 ||
	    ir_shape_numel(&a->t->shape) != 1 || !a->t->data) {
		nn_error_node(d, n, "value must be a one-element tensor");
		return false;
	}
	return true;
}

/* EyeLike: a 2-D input's shape, the element type of `dtype` (else the
 * input's). */
static bool
eyelike_shape(ir_node *n, nn_diag *d)
{
	ir_value *x = n->in[0], *o = n->out[0];
	const ir_attr *a = ir_get_attr(n, "dtype");
	if (x->shape.rank != 2) {
		nn_error_node(d, n, "input must be 2-D, not of rank %d",
			      x->shape.rank);
		return false;
	}
	o->dtype = x->dtype;
	if (a) {
		if (a->i <= 0 || a->i >= IR_NDTYPE || a->i == IR_STRING ||
		    ir_dtype_size((ir_dtype)a->i) == 0) {
			nn_error_node(d, n, "unsupported dtype %lld (ONNX "
				      "TensorProto.DataType)", (long long)a->i);
			return false;
		}
		o->dtype = (ir_dtype)a->i;
	}
	o->shape = x->shape;
	return true;
}

bool
ir_shape_constant(ir_graph *g, ir_node *n, nn_diag *d)
{
	ir_value *o = n->out[0];
	if (n->op == OP_EyeLike)
		return eyelike_shape(n, d);
	if (n->op == OP_ConstantOfShape) {
		const ir_attr *a = ir_get_attr(n, "value");
		if (!cos_value_ok(n, d) || !cos_shape(n, &o->shape, d))
			return false;
		o->dtype = a ? a->t->dtype : IR_F32;
		return true;
	}
	const ir_attr *a = constant_attr(n);
	if (!a || !constant_type(a, &o->dtype, &o->shape)) {
		nn_error_node(d, n, "needs exactly one value attribute of a "
				    "supported type");
		return false;
	}
	int64_t cnt = ir_shape_numel(&o->shape);
	size_t es = ir_dtype_size(o->dtype);
	o->data = nn_alloc(g->weights, cnt > 0 ? (size_t)cnt * es : 1);
	constant_fill(a, o->data, cnt, es);
	return true;
}

bool
ir_eval_constant(const ir_node *n, const void *const *in, void *const *out,
		 nn_diag *d)
{
	(void)in;
	(void)d;
	const ir_value *o = n->out[0];
	size_t es = ir_dtype_size(o->dtype);
	int64_t cnt = ir_shape_numel(&o->shape);
	if (n->op == OP_Constant) {
		constant_fill(constant_attr(n), out[0], cnt, es);
		return true;
	}
	if (n->op == OP_EyeLike) {
		/* ones on the diagonal k (> 0 above the main one) */
		int64_t r = o->shape.dim[0], c = o->shape.dim[1];
		int64_t k = ir_attr_i(n, "k");
		if (cnt > 0)
			memset(out[0], 0, (size_t)cnt * es);
		if (k >= c || k <= -r)
			return true; /* no diagonal inside (nor overflow) */
		for (int64_t i = k < 0 ? -k : 0; i < r && i + k < c; i++)
			ir_store_f64(out[0], o->dtype, i * c + i + k, 1);
		return true;
	}
	const ir_attr *a = ir_get_attr(n, "value");
	for (int64_t i = 0; i < cnt; i++) {
		if (a)
			memcpy((char *)out[0] + i * (int64_t)es, a->t->data, es);
		else
			((float *)out[0])[i] = 0;
	}
	return true;
}

/* ---- Cast ---- */

bool
ir_shape_cast(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	ir_value *x = n->in[0];
	const ir_attr *a = ir_get_attr(n, "to");
	if (n->op == OP_CastLike) {
		if (ir_dtype_size(x->dtype) == 0 ||
		    ir_dtype_size(n->in[1]->dtype) == 0) {
			nn_error_node(d, n, "unsupported types %s to %s",
				      ir_dtype_name(x->dtype),
				      ir_dtype_name(n->in[1]->dtype));
			return false;
		}
		n->out[0]->dtype = n->in[1]->dtype;
		n->out[0]->shape = x->shape;
		return true;
	}
	if (!a) {
		nn_error_node(d, n, "missing attribute 'to'");
		return false;
	}
	if (a->i == IR_STRING) {
		nn_error_node(d, n, "casts to string are not supported");
		return false;
	}
	if (a->i <= 0 || a->i >= IR_NDTYPE ||
	    ir_dtype_size((ir_dtype)a->i) == 0) {
		nn_error_node(d, n, "unsupported target type %lld (ONNX "
				    "TensorProto.DataType)", (long long)a->i);
		return false;
	}
	if (ir_dtype_size(x->dtype) == 0) {
		nn_error_node(d, n, "unsupported input type %s",
			      ir_dtype_name(x->dtype));
		return false;
	}
	n->out[0]->dtype = (ir_dtype)a->i;
	n->out[0]->shape = x->shape;
	return true;
}

/* Float to integer bits: truncation toward zero like a C cast where that
 * is defined; NaN and out-of-range values give what numpy gives on x86
 * (the conversion instruction's "indefinite" value, narrow types taking
 * the low bits of a 32-bit conversion) instead of undefined behaviour. */
static uint64_t
float_to_bits(double v, ir_dtype to)
{
	size_t sz = ir_dtype_size(to);
	if (to == IR_U32 || to == IR_U64) {
		double top = to == IR_U32 ? 0x1p32 : 0x1p64;
		if (v >= 0 && v < top)
			return (uint64_t)v;
		if (v > -0x1p63 && v < 0)
			return (uint64_t)(int64_t)v;
		return isnan(v) ? UINT64_C(1) << (sz * 8 - 1) : 0;
	}
	if (to == IR_I64)
		return v >= -0x1p63 && v < 0x1p63 ? (uint64_t)(int64_t)v
						  : UINT64_C(1) << 63;
	if (v > -0x1p31 - 1 && v < 0x1p31)
		return (uint64_t)(int64_t)v;
	return (uint64_t)(int64_t)INT32_MIN;
}

/* An integer or bool pattern of type t as a double (exact up to 2^53). */
static double
bits_to_double(uint64_t b, ir_dtype t)
{
	return elem_is_unsigned(t) ? (double)b : (double)(int64_t)b;
}

static void
cast_elem(const void *x, ir_dtype from, void *y, ir_dtype to, int64_t i)
{
	if (ir_dtype_is_float(from)) {
		double v = ir_load_f64(x, from, i);
		if (ir_dtype_is_int(to))
			elem_store_bits(y, to, i, float_to_bits(v, to));
		else
			ir_store_f64(y, to, i, v); /* bool: NaN is true */
		return;
	}
	uint64_t b = elem_load_bits(x, from, i);
	if (to == IR_BOOL)
		elem_store_bits(y, to, i, b != 0);
	else if (ir_dtype_is_int(to))
		elem_store_bits(y, to, i, b);
	else if (to == IR_F32)
		((float *)y)[i] = elem_is_unsigned(from) ? (float)b
							 : (float)(int64_t)b;
	else
		ir_store_f64(y, to, i, bits_to_double(b, from));
}

bool
ir_eval_cast(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	(void)d;
	ir_dtype from = n->in[0]->dtype, to = n->out[0]->dtype;
	int64_t cnt = ir_shape_numel(&n->in[0]->shape);
	if (from == to) {
		if (cnt > 0)
			memcpy(out[0], in[0], (size_t)cnt * ir_dtype_size(to));
		return true;
	}
	if (from == IR_F32 && to == IR_F16) {
		const float *x = in[0];
		uint16_t *y = out[0];
		for (int64_t i = 0; i < cnt; i++)
			y[i] = ir_f32_to_f16(x[i]);
		return true;
	}
	for (int64_t i = 0; i < cnt; i++)
		cast_elem(in[0], from, out[0], to, i);
	return true;
}
