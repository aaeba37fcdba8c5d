/* --input-value: graph inputs frozen to constants before shape inference
 * (a scalar read as the input's element type, or a .npy array), for ONNX
 * models and IR text alike. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

const fe_input_value *
fe_find_value(const fe_options *o, const char *name)
{
	for (int i = 0; o && name && i < o->nvalues; i++)
		if (strcmp(o->values[i].name, name) == 0)
			return &o->values[i];
	return NULL;
}

bool
fe_value_fits(const fe_input_value *v, ir_dtype t, const ir_shape *s)
{
	/* .npy has no bfloat16: bf16 arrives as its u16 bit patterns */
	return (v->dtype == t || (t == IR_BF16 && v->dtype == IR_U16)) &&
	       ir_shape_eq(&v->shape, s);
}

/* Integer text in [lo, hi] (hi for unsigned types is read unsigned). */
static bool
parse_int(const char *s, ir_dtype t, void *out)
{
	static const struct {
		ir_dtype t;
		double lo, hi;
	} range[] = {
		{IR_I8, -128, 127}, {IR_I16, -32768, 32767},
		{IR_I32, -0x1p31, 0x1p31 - 1}, {IR_U8, 0, 255},
		{IR_U16, 0, 65535}, {IR_U32, 0, 0x1p32 - 1},
	};
	char *end;
	errno = 0;
	if (t == IR_U64) {
		if (*s == '-')
			return false;
		unsigned long long u = strtoull(s, &end, 10);
		*(uint64_t *)out = u;
		return !errno && end != s && !*end;
	}
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	if (t == IR_I64) {
		*(int64_t *)out = v;
		return true;
	}
	for (size_t i = 0; i < sizeof range / sizeof range[0]; i++)
		if (range[i].t == t) {
			if ((double)v < range[i].lo || (double)v > range[i].hi)
				return false;
			ir_store_f64(out, t, 0, (double)v);
			return true;
		}
	nn_unreachable();
}

/* The scalar text as one element of type t into out; false if it is no
 * such number. */
static bool
parse_scalar(const char *s, ir_dtype t, void *out)
{
	if (t == IR_BOOL) {
		bool one = !strcmp(s, "1") || !strcmp(s, "true");
		*(uint8_t *)out = one;
		return one || !strcmp(s, "0") || !strcmp(s, "false");
	}
	if (!ir_dtype_is_float(t))
		return parse_int(s, t, out);
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || (errno == ERANGE && isinf(v)))
		return false;
	ir_store_f64(out, t, 0, v);
	return true;
}

bool
fe_freeze_value(ir_graph *g, ir_value *in, const fe_input_value *v,
		nn_diag *d)
{
	char want[200], got[200];
	ir_shape_str(&in->shape, want, sizeof want);
	if (v->text) {
		int64_t n = ir_shape_numel(&in->shape);
		uint64_t buf = 0; /* one element of any type */
		if (n != 1) {
			nn_error(d, "--input-value %s=%s: a scalar, but input "
				 "'%s' is %s%s (%lld elements; give a .npy "
				 "file)", v->name, v->text, v->name,
				 ir_dtype_name(in->dtype), want, (long long)n);
			return false;
		}
		if (!parse_scalar(v->text, in->dtype, &buf)) {
			nn_error(d, "--input-value %s=%s: not a %s value (input "
				 "'%s' is %s%s)", v->name, v->text,
				 ir_dtype_name(in->dtype), v->name,
				 ir_dtype_name(in->dtype), want);
			return false;
		}
		ir_freeze_input(g, in, &buf);
		return true;
	}
	if (!fe_value_fits(v, in->dtype, &in->shape)) {
		ir_shape_str(&v->shape, got, sizeof got);
		nn_error(d, "--input-value %s: '%s' holds %s%s, but input '%s' "
			 "is %s%s", v->name, v->path, ir_dtype_name(v->dtype),
			 got, v->name, ir_dtype_name(in->dtype), want);
		return false;
	}
	ir_freeze_input(g, in, v->data);
	return true;
}

bool
fe_check_values(const fe_options *o, const bool *used, nn_diag *d)
{
	bool ok = true;
	for (int i = 0; o && i < o->nvalues; i++) {
		if (fe_find_value(o, o->values[i].name) != &o->values[i]) {
			nn_error(d, "--input-value: input '%s' is given twice",
				 o->values[i].name);
			ok = false;
		} else if (!used[i]) {
			nn_error(d, "--input-value: the model has no input "
				 "named '%s'", o->values[i].name);
			ok = false;
		}
	}
	return ok;
}

bool
fe_freeze_text_values(ir_graph *g, const fe_options *o, nn_diag *d)
{
	int n = o ? o->nvalues : 0;
	bool *used = nn_xcalloc((size_t)n + 1, sizeof *used);
	bool ok = true;
	for (int i = 0; i < n; i++) {
		const fe_input_value *v = &o->values[i];
		for (int k = 0; k < g->ninputs && !used[i]; k++) {
			ir_value *in = g->inputs[k];
			if (!in->name || strcmp(in->name, v->name) != 0 ||
			    fe_find_value(o, v->name) != v)
				continue;
			used[i] = true;
			ok &= fe_freeze_value(g, in, v, d);
		}
	}
	ok = fe_check_values(o, used, d) && ok;
	free(used);
	return ok;
}
