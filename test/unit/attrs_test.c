/* ir/attrs.def against ONNX: every row with a default (D/S) states the
 * default the onnx package's schema gives the op's attribute
 * (onnx_defaults.h, generated at build time by gen_onnx_defaults.py), and
 * a row that says NONE for a scalar attribute ONNX gives a default is one
 * of the few whose default the hook works out from the node. A fused op's
 * rows are checked against its base op (ir_fused_base); nncc.* attributes
 * and attributes the onnx package does not know (newer opsets) are
 * counted as skipped. */
#include <string.h>

#include "unit.h"

typedef struct onnx_row {
	const char *op, *name;
	char kind; /* 'i', 'f', 's' */
	bool has;
	double num;
	const char *str;
} onnx_row;

static const onnx_row onnx_rows[] = {
#define OX(op, nm, k, has, num, str) {op, nm, k, has, num, str},
#include "onnx_defaults.h"
#undef OX
};

typedef struct nncc_row {
	ir_op op;
	const char *name;
	ir_attr_kind kind;
	bool has;
	double num;
	const char *str;
} nncc_row;

static const nncc_row nncc_rows[] = {
#define D(x) true, (x), NULL
#define S(x) true, 0, (x)
#define NONE false, 0, NULL
#define ATTR(op, nm, k, d, s) {OP_##op, nm, IR_ATTR_##k, d},
#include "attrs.def"
#undef ATTR
#undef D
#undef S
#undef NONE
};

/* Rows that say NONE although ONNX gives a default: the default depends
 * on the opset (-1 from opset 13, 1 before), which the hook reads from
 * nncc.legacy (ir/op_softmax.c). */
static const char *const computed[][2] = {
	{"Softmax", "axis"}, {"LogSoftmax", "axis"}, {"Hardmax", "axis"},
};

static const onnx_row *
find_onnx(const char *op, const char *name)
{
	for (size_t i = 0; i < sizeof onnx_rows / sizeof onnx_rows[0]; i++)
		if (!strcmp(onnx_rows[i].op, op) &&
		    !strcmp(onnx_rows[i].name, name))
			return &onnx_rows[i];
	return NULL;
}

static bool
is_computed(const char *op, const char *name)
{
	for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
		if (!strcmp(computed[i][0], op) && !strcmp(computed[i][1], name))
			return true;
	return false;
}

static bool
same_default(const nncc_row *r, const onnx_row *o)
{
	switch (r->kind) {
	case IR_ATTR_INT: return o->kind == 'i' && (int64_t)r->num ==
					(int64_t)o->num;
	case IR_ATTR_FLOAT: /* ONNX keeps a float attribute as a float */
		return o->kind == 'f' && (float)r->num == (float)o->num;
	case IR_ATTR_STRING: return o->kind == 's' && !strcmp(r->str, o->str);
	default: return false;
	}
}

int
main(void)
{
	int checked = 0, skipped = 0;
	for (size_t i = 0; i < sizeof nncc_rows / sizeof nncc_rows[0]; i++) {
		const nncc_row *r = &nncc_rows[i];
		ir_op base = ir_fused_base(r->op);
		const char *op = ir_ops[base != IR_NOPS ? base : r->op].name;
		const onnx_row *o = find_onnx(op, r->name);
		if (!strncmp(r->name, "nncc.", 5) || !o) {
			skipped += r->has;
			continue;
		}
		if (r->has) {
			bool ok = o->has && same_default(r, o);
			if (!ok)
				fprintf(stderr, "%s '%s': attrs.def's "
					"default is not ONNX's\n",
					ir_ops[r->op].name, r->name);
			CHECK(ok);
			checked++;
		} else if (o->has) {
			bool ok = is_computed(op, r->name);
			if (!ok)
				fprintf(stderr, "%s '%s': ONNX gives a default, "
					"attrs.def says NONE\n",
					ir_ops[r->op].name, r->name);
			CHECK(ok);
		}
	}
	/* the table is not empty, and the walk met the rows it must */
	CHECK(checked > 100);
	CHECK(find_onnx("Gemm", "alpha") && find_onnx("Gemm", "alpha")->has);
	printf("%d defaults compared with ONNX, %d rows not in the onnx "
	       "package (nncc's own or newer opsets)\n", checked, skipped);
	return unit_report();
}
