/* Broadcasting elementwise ops of any arity that the arithmetic binary
 * kind does not cover: comparisons, logic and the float tests IsInf/IsNaN
 * (bool results), Not, Mod, BitShift, variadic Min/Max/Sum/Mean and
 * Where. Integers stay exact as raw bits; floats compute in double,
 * rounded to f32 after each step for f32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elem.h"
#include "ir.h"

#define NARY_MAX_IN 32

static bool
is_compare(ir_op op)
{
	return op == OP_Equal || op == OP_Less || op == OP_Greater ||
	       op == OP_LessOrEqual || op == OP_GreaterOrEqual;
}

static bool
is_logic(ir_op op)
{
	return op == OP_And || op == OP_Or || op == OP_Xor || op == OP_Not;
}

/* IsInf, IsNaN: a float in, a bool out. */
static bool
is_float_test(ir_op op)
{
	return op == OP_IsInf || op == OP_IsNaN;
}

/* The element type every (data) input must share: input 1 for Where. */
static bool
check_types(ir_node *n, nn_diag *d)
{
	int first = n->op == OP_Where ? 1 : 0;
	ir_dtype t = n->in[first]->dtype;
	bool fl = ir_dtype_is_float(t), in = ir_dtype_is_int(t);
	bool ok;
	if (is_logic(n->op))
		ok = t == IR_BOOL;
	else if (n->op == OP_Equal)
		ok = fl || in || t == IR_BOOL;
	else if (n->op == OP_Sum || n->op == OP_Mean || is_float_test(n->op))
		ok = fl;
	else if (n->op == OP_BitShift)
		ok = ir_dtype_is_unsigned(t) && t != IR_BOOL;
	else
		ok = fl || in || n->op == OP_Where;
	if (!ok) {
		nn_error_node(d, n, "unsupported element type %s",
			      ir_dtype_name(t));
		return false;
	}
	if (n->op == OP_Where && n->in[0]->dtype != IR_BOOL) {
		nn_error_node(d, n, "condition is %s, expected bool",
			      ir_dtype_name(n->in[0]->dtype));
		return false;
	}
	for (int i = first + 1; i < n->nin; i++)
		if (n->in[i]->dtype != t) {
			nn_error_node(d, n, "input types differ: %s and %s",
				      ir_dtype_name(t),
				      ir_dtype_name(n->in[i]->dtype));
			return false;
		}
	return true;
}

/* BitShift's required direction, LEFT or RIGHT. */
static bool
check_direction(const ir_node *n, nn_diag *d)
{
	const char *dir = ir_attr_str(n, "direction", NULL);
	if (!dir) {
		nn_error_node(d, n, "missing attribute 'direction'");
		return false;
	}
	if (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0) {
		nn_error_node(d, n, "direction must be LEFT or RIGHT, not '%s'",
			      dir);
		return false;
	}
	return true;
}

bool
ir_shape_nary(ir_graph *g, ir_node *n, nn_diag *d)
{
	(void)g;
	if (n->nin > NARY_MAX_IN) {
		nn_error_node(d, n, "more than %d inputs", NARY_MAX_IN);
		return false;
	}
	for (int i = 0; i < n->nin; i++)
		if (!n->in[i]) {
			nn_error_node(d, n, "input %d is omitted", i);
			return false;
		}
	if (!check_types(n, d))
		return false;
	ir_shape s = n->in[0]->shape;
	for (int i = 1; i < n->nin; i++) {
		ir_shape o;
		if (!ir_shape_broadcast(&s, &n->in[i]->shape, &o)) {
			char sa[128], sb[128];
			ir_shape_str(&s, sa, sizeof sa);
			ir_shape_str(&n->in[i]->shape, sb, sizeof sb);
			nn_error_node(d, n, "cannot broadcast %s with %s", sb,
				      sa);
			return false;
		}
		s = o;
	}
	ir_dtype t = n->in[n->op == OP_Where ? 1 : 0]->dtype;
	n->out[0]->dtype = is_compare(n->op) || is_logic(n->op) ||
			   is_float_test(n->op) ? IR_BOOL : t;
	n->out[0]->shape = s;
	if (n->op == OP_BitShift && !check_direction(n, d))
		return false;
	return n->op != OP_Mod || ir_check_divisor(n, "modulo", d);
}

/* Python-style remainder (sign of the divisor) unless fmod. */
static double
mod_f64(double a, double b, bool fm)
{
	double r = fmod(a, b);
	if (!fm && r != 0 && (r < 0) != (b < 0))
		r += b;
	return r;
}

static bool
compare_f64(ir_op op, double a, double b)
{
	switch (op) {
	case OP_Equal: return a == b;
	case OP_Less: return a < b;
	case OP_Greater: return a > b;
	case OP_LessOrEqual: return a <= b;
	case OP_GreaterOrEqual: return a >= b;
	default: nn_unreachable();
	}
}

static bool
compare_bits(ir_op op, uint64_t a, uint64_t b, ir_dtype t)
{
	switch (op) {
	case OP_Equal: return a == b;
	case OP_Less: return elem_less(a, b, t);
	case OP_Greater: return elem_less(b, a, t);
	case OP_LessOrEqual: return !elem_less(b, a, t);
	case OP_GreaterOrEqual: return !elem_less(a, b, t);
	default: nn_unreachable();
	}
}

/* One float element from the inputs' values v[0..nin-1]. */
static double
float_elem(const ir_node *n, const double *v, ir_dtype t)
{
	bool f32 = t == IR_F32;
	double acc = v[0];
	if (n->op == OP_Mod)
		return mod_f64(v[0], v[1], ir_attr_i(n, "fmod") != 0);
	for (int i = 1; i < n->nin; i++) {
		double x = v[i];
		if (n->op == OP_Sum || n->op == OP_Mean)
			acc += x;
		else if (isnan(x) || isnan(acc))
			acc = NAN; /* np.minimum/maximum propagate NaN */
		else if (n->op == OP_Min ? x < acc : x > acc)
			acc = x;
		if (f32)
			acc = (float)acc;
	}
	if (n->op == OP_Mean)
		acc /= n->nin;
	return acc;
}

/* IsInf (with its detect_negative/detect_positive) and IsNaN; NaN is
 * never infinite. */
static bool
float_test(const ir_node *n, double x)
{
	if (n->op == OP_IsNaN)
		return isnan(x);
	return isinf(x) && (x > 0 ? ir_attr_i(n, "detect_positive")
				  : ir_attr_i(n, "detect_negative"));
}

/* BitShift of unsigned a by b bits; a shift by the width or more gives 0
 * (numpy's left_shift/right_shift). */
static uint64_t
bit_shift(const ir_node *n, uint64_t a, uint64_t b, ir_dtype t)
{
	if (b >= ir_dtype_size(t) * 8)
		return 0;
	/* a is zero-extended; the store truncates what a left shift moved
	 * beyond the type */
	return ir_attr_req_s(n, "direction")[0] == 'R' ? a >> b : a << b;
}

static bool
int_elem(const ir_node *n, const uint64_t *v, ir_dtype t, uint64_t *r,
	 nn_diag *d)
{
	uint64_t acc = v[0];
	if (n->op == OP_BitShift) {
		*r = bit_shift(n, v[0], v[1], t);
		return true;
	}
	if (n->op != OP_Mod) {
		for (int i = 1; i < n->nin; i++)
			if (n->op == OP_Min ? elem_less(v[i], acc, t)
					    : elem_less(acc, v[i], t))
				acc = v[i];
		*r = acc;
		return true;
	}
	uint64_t a = v[0], b = v[1];
	if (b == 0) {
		nn_error_node(d, n, "integer modulo by zero");
		return false;
	}
	if (elem_is_unsigned(t)) {
		*r = a % b;
		return true;
	}
	int64_t sa = (int64_t)a, sb = (int64_t)b;
	int64_t m = sb == -1 ? 0 : sa % sb;
	if (!ir_attr_i(n, "fmod") && m != 0 && (m < 0) != (sb < 0))
		m += sb;
	*r = (uint64_t)m;
	return true;
}

/* Output element o from input offsets off[]. */
static bool
eval_elem(const ir_node *n, const void *const *in, void *out, int64_t o,
	  const int64_t *off, nn_diag *d)
{
	ir_dtype t = n->in[n->op == OP_Where ? 1 : 0]->dtype;
	ir_op op = n->op;
	if (op == OP_Where) {
		int k = ((const uint8_t *)in[0])[off[0]] ? 1 : 2;
		size_t es = ir_dtype_size(t);
		memcpy((char *)out + o * (int64_t)es,
		       (const char *)in[k] + off[k] * (int64_t)es, es);
		return true;
	}
	if (is_logic(op)) {
		bool a = ((const uint8_t *)in[0])[off[0]] != 0;
		bool b = op == OP_Not ? false
				      : ((const uint8_t *)in[1])[off[1]] != 0;
		bool r = op == OP_Not ? !a : op == OP_And ? a && b
					 : op == OP_Or ? a || b : a != b;
		((uint8_t *)out)[o] = r;
		return true;
	}
	if (!ir_dtype_is_float(t)) {
		uint64_t v[NARY_MAX_IN], r;
		for (int i = 0; i < n->nin; i++)
			v[i] = elem_load_bits(in[i], t, off[i]);
		if (is_compare(op)) {
			((uint8_t *)out)[o] = compare_bits(op, v[0], v[1], t);
			return true;
		}
		if (!int_elem(n, v, t, &r, d))
			return false;
		elem_store_bits(out, t, o, r);
		return true;
	}
	double v[NARY_MAX_IN];
	for (int i = 0; i < n->nin; i++)
		v[i] = ir_load_f64(in[i], t, off[i]);
	if (is_compare(op))
		((uint8_t *)out)[o] = compare_f64(op, v[0], v[1]);
	else if (is_float_test(op))
		((uint8_t *)out)[o] = float_test(n, v[0]);
	else
		ir_store_f64(out, t, o, float_elem(n, v, t));
	return true;
}

/* Element strides of s over the output o's dims, 0 where s broadcasts. */
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

bool
ir_eval_nary(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	const ir_shape *os = &n->out[0]->shape;
	int64_t st[NARY_MAX_IN][IR_MAX_RANK], off[NARY_MAX_IN] = {0};
	int64_t idx[IR_MAX_RANK] = {0};
	int64_t total = ir_shape_numel(os);
	for (int i = 0; i < n->nin; i++)
		strides_of(&n->in[i]->shape, os, st[i]);
	for (int64_t o = 0; o < total; o++) {
		if (!eval_elem(n, in, out[0], o, off, d))
			return false;
		/* Advance the multi-index and every input's offset. */
		for (int k = os->rank - 1; k >= 0; k--) {
			for (int i = 0; i < n->nin; i++)
				off[i] += st[i][k];
			if (++idx[k] < os->dim[k])
				break;
			for (int i = 0; i < n->nin; i++)
				off[i] -= st[i][k] * os->dim[k];
			idx[k] = 0;
		}
	}
	return true;
}
