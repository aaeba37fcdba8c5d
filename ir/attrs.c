/* The attribute schema expanded from attrs.def. */
#include <stdio.h>
#include <string.h>

#include "ir.h"

typedef struct attr_row {
	ir_op op;
	const char *name;
	ir_attr_kind kind;
	bool has_dflt;
	double num;      /* the default of an int or float */
	const char *str; /* the default of a string */
	int since;
} attr_row;

static const attr_row schema[] = {
#define D(x) true, (x), NULL
#define S(x) true, 0, (x)
#define NONE false, 0, NULL
#define ATTR(op, nm, k, d, s) {OP_##op, nm, IR_ATTR_##k, d, s},
#include "attrs.def"
#undef ATTR
#undef D
#undef S
#undef NONE
};

static const attr_row *
find(ir_op op, const char *name)
{
	for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
		if (schema[i].op == op && strcmp(schema[i].name, name) == 0)
			return &schema[i];
	return NULL;
}

ir_attr_kind
ir_attr_schema(ir_op op, const char *name)
{
	const attr_row *r = find(op, name);
	return r ? r->kind : IR_NATTR_KINDS;
}

int
ir_attr_since(ir_op op, const char *name)
{
	const attr_row *r = find(op, name);
	return r ? r->since : 0;
}

/* The row of n's attribute `name`, which must have a default of kind k:
 * a read of an attribute the table gives no default is a bug. */
static const attr_row *
dflt_row(const ir_node *n, const char *name, ir_attr_kind k)
{
	const attr_row *r = find(n->op, name);
	if (!r || !r->has_dflt || r->kind != k) {
		fprintf(stderr, "nncc: %s has no default for %s '%s' in "
			"attrs.def\n", ir_ops[n->op].name,
			ir_attr_kind_name(k), name);
		NN_ASSERT(0);
	}
	return r;
}

int64_t
ir_attr_i(const ir_node *n, const char *name)
{
	return ir_attr_int(n, name,
			   (int64_t)dflt_row(n, name, IR_ATTR_INT)->num);
}

double
ir_attr_f(const ir_node *n, const char *name)
{
	return ir_attr_float(n, name, dflt_row(n, name, IR_ATTR_FLOAT)->num);
}

const char *
ir_attr_s(const ir_node *n, const char *name)
{
	return ir_attr_str(n, name, dflt_row(n, name, IR_ATTR_STRING)->str);
}

/* The attribute `name` of kind k, which the shape hook made sure n has. */
static const ir_attr *
required(const ir_node *n, const char *name, ir_attr_kind k)
{
	const ir_attr *a = ir_get_attr(n, name);
	if (!a || a->kind != k) {
		fprintf(stderr, "nncc: %s '%s' has no %s '%s'\n",
			ir_ops[n->op].name, n->name ? n->name : "",
			ir_attr_kind_name(k), name);
		NN_ASSERT(0);
	}
	return a;
}

int64_t
ir_attr_req_i(const ir_node *n, const char *name)
{
	return required(n, name, IR_ATTR_INT)->i;
}

const char *
ir_attr_req_s(const ir_node *n, const char *name)
{
	return required(n, name, IR_ATTR_STRING)->s;
}

int64_t
ir_attr_i_or(const ir_node *n, const char *name, int64_t none)
{
	return find(n->op, name) ? ir_attr_i(n, name) : none;
}

double
ir_attr_f_or(const ir_node *n, const char *name, double none)
{
	return find(n->op, name) ? ir_attr_f(n, name) : none;
}

const char *
ir_attr_s_or(const ir_node *n, const char *name, const char *none)
{
	return find(n->op, name) ? ir_attr_s(n, name) : none;
}

const char *
ir_attr_kind_name(ir_attr_kind k)
{
	static const char *const names[IR_NATTR_KINDS] = {
		[IR_ATTR_INT] = "int",		[IR_ATTR_FLOAT] = "float",
		[IR_ATTR_STRING] = "string",	[IR_ATTR_INTS] = "ints",
		[IR_ATTR_FLOATS] = "floats",	[IR_ATTR_STRINGS] = "strings",
		[IR_ATTR_TENSOR] = "tensor",	[IR_ATTR_GRAPH] = "graph",
	};
	NN_ASSERT(k >= 0 && k < IR_NATTR_KINDS);
	return names[k];
}
