/* Two-input elementwise ops with numpy broadcasting (Add, Sub, Mul, Div,
 * Pow, PRelu): shape inference and reference kernels. Integer Div
 * truncates toward zero like C (and ONNX Runtime), not like numpy's //. */
#include <math.h>

#include "elem.h"
#include "ir.h"

static bool
is_numeric(ir_dtype t)
{
	return ir_dtype_is_float(t) || ir_dtype_is_int(t);
}

static bool
check_types(ir_node *n, nn_diag *d)
{
	ir_dtype a = n->in[0]->dtype, b = n->in[1]->dtype;
	if (!is_numeric(a) || !is_numeric(b)) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(is_numeric(a) ? b : a));
		return false;
	}
	/* Only Pow's exponent may differ (ONNX Pow-12 and later). */
	if (a != b && n->op != OP_Pow) {
		nn_error_node(d, n, "input types differ: %s and %s",
			      ir_dtype_name(a), ir_dtype_name(b));
		return false;
	}
	return true;
}

bool
ir_check_divisor(const ir_node *n, const char *what, nn_diag *d)
{
	const ir_value *b = n->in[1];
	int64_t cnt = ir_shape_numel(&b->shape);

	if (!ir_dtype_is_int(b->dtype) || !b->data ||
	    ir_shape_numel(&n->out[0]->shape) == 0)
		return true;
	for (int64_t i = 0; i < cnt; i++)
		if (elem_load_bits(b->data, b->dtype, i) == 0) {
			nn_error_node(d, n, "integer %s by zero: the divisor "
				      "'%s' is a constant with a zero at "
				      "element %lld", what, ir_value_label(b),
				      (long long)i);
			return false;
		}
	return true;
}

bool
ir_shape_binary(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	ir_value *a = n->in[0], *b = n->in[1];
	if (!check_types(n, d))
		return false;
	ir_shape s;
	bool ok = ir_shape_broadcast(&a->shape, &b->shape, &s);
	/* PRelu broadcasts the slope to X only, never X to the slope. */
	if (ok && n->op == OP_PRelu && !ir_shape_eq(&s, &a->shape))
		ok = false;
	if (!ok) {
		char sa[128], sb[128];
		ir_shape_str(&a->shape, sa, sizeof sa);
		ir_shape_str(&b->shape, sb, sizeof sb);
		nn_error_node(d, n, "cannot broadcast %s %s %s", sb,
			      n->op == OP_PRelu ? "to" : "with", sa);
		return false;
	}
	n->out[0]->dtype = a->dtype;
	n->out[0]->shape = s;
	return n->op != OP_Div || ir_check_divisor(n, "division", d);
}

/* Element strides of s over the output o's dims, 0 where s broadcasts,
 * so one walk serves every broadcast pattern. */
static void
strides_of(const ir_shape *s, const ir_shape *o, int64_t *st)
{
	int64_t acc = 1;
	for (int i = o->rank - 1; i >= 0; i--) {
		int j = s->rank - o->rank + i;
		int64_t dim = j >= 0 ? s->dim[j] : 1;
		st[i] = dim == 1 ? 0 : acc;
		acc *= dim;
	}
}

typedef struct row {
	const void *a, *b;
	void *o;
	ir_dtype ta, tb, to;
	int64_t ia, sa, ib, sb, io, len;
} row;

static float
binary_f32(ir_op op, float x, float y)
{
	switch (op) {
	case OP_Add: return x + y;
	case OP_Sub: return x - y;
	case OP_Mul: return x * y;
	case OP_Div: return x / y;
	case OP_Pow: return powf(x, y);
	case OP_PRelu: return x < 0 ? x * y : x;
	default: nn_unreachable();
	}
}

static double
binary_f64(ir_op op, double x, double y)
{
	switch (op) {
	case OP_Add: return x + y;
	case OP_Sub: return x - y;
	case OP_Mul: return x * y;
	case OP_Div: return x / y;
	case OP_Pow: return pow(x, y);
	case OP_PRelu: return x < 0 ? x * y : x;
	default: nn_unreachable();
	}
}

/* Integer power with wrap-around; a negative exponent gives the
 * truncated real result (0 unless the base is 1 or -1). */
static uint64_t
ipow(uint64_t x, uint64_t e, bool sgn)
{
	if (sgn && (int64_t)e < 0) {
		if (x == 1)
			return 1;
		if ((int64_t)x == -1)
			return (e & 1) ? x : 1;
		return 0;
	}
	uint64_t r = 1;
	for (; e; e >>= 1, x *= x)
		if (e & 1)
			r *= x;
	return r;
}

static bool
binary_int(const ir_node *n, uint64_t x, uint64_t y, ir_dtype t,
	   uint64_t *r, nn_diag *d)
{
	bool sgn = !elem_is_unsigned(t);
	switch (n->op) {
	case OP_Add: *r = x + y; return true;
	case OP_Sub: *r = x - y; return true;
	case OP_Mul: *r = x * y; return true;
	case OP_Pow: *r = ipow(x, y, sgn); return true;
	case OP_PRelu: *r = sgn && (int64_t)x < 0 ? x * y : x; return true;
	case OP_Div: break;
	default: nn_unreachable();
	}
	if (y == 0) {
		nn_error_node(d, n, "integer division by zero");
		return false;
	}
	if (!sgn)
		*r = x / y;
	else if ((int64_t)x == INT64_MIN && (int64_t)y == -1)
		*r = x; /* wraps, as the narrower types do */
	else
		*r = (uint64_t)((int64_t)x / (int64_t)y);
	return true;
}

static bool
row_eval(const ir_node *n, const row *r, nn_diag *d)
{
	int64_t ia = r->ia, ib = r->ib, io = r->io;
	if (ir_dtype_is_int(r->to) && ir_dtype_is_int(r->tb)) {
		for (int64_t k = 0; k < r->len; k++, ia += r->sa, ib += r->sb) {
			uint64_t v;
			if (!binary_int(n, elem_load_bits(r->a, r->ta, ia),
					elem_load_bits(r->b, r->tb, ib), r->to,
					&v, d))
				return false;
			elem_store_bits(r->o, r->to, io + k, v);
		}
	} else if (r->ta == IR_F32 && r->tb == IR_F32) {
		const float *a = r->a, *b = r->b;
		float *o = r->o;
		for (int64_t k = 0; k < r->len; k++, ia += r->sa, ib += r->sb)
			o[io + k] = binary_f32(n->op, a[ia], b[ib]);
	} else {
		for (int64_t k = 0; k < r->len; k++, ia += r->sa, ib += r->sb)
			ir_store_f64(r->o, r->to, io + k,
				     binary_f64(n->op,
						ir_load_f64(r->a, r->ta, ia),
						ir_load_f64(r->b, r->tb, ib)));
	}
	return true;
}

bool
ir_eval_binary(const ir_node *n, const void *const *in, void *const *out,
	       nn_diag *d)
{
	const ir_shape *os = &n->out[0]->shape;
	int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	strides_of(&n->in[0]->shape, os, sa);
	strides_of(&n->in[1]->shape, os, sb);
	int64_t total = ir_shape_numel(os);
	int last = os->rank - 1;
	row r = {in[0], in[1], out[0], n->in[0]->dtype, n->in[1]->dtype,
		 n->out[0]->dtype, 0, last >= 0 ? sa[last] : 0, 0,
		 last >= 0 ? sb[last] : 0, 0, last >= 0 ? os->dim[last] : 1};
	if (total <= 0 || r.len == 0)
		return true;
	for (r.io = 0; r.io < total; r.io += r.len) {
		if (!row_eval(n, &r, d))
			return false;
		/* Advance the outer index (all dims but the last). */
		for (int i = last - 1; i >= 0; i--) {
			r.ia += sa[i];
			r.ib += sb[i];
			if (++idx[i] < os->dim[i])
				break;
			r.ia -= sa[i] * os->dim[i];
			r.ib -= sb[i] * os->dim[i];
			idx[i] = 0;
		}
	}
	return true;
}
