/* The attribute schema expanded from attrs.def. */
#include <string.h>

#include "ir.h"

static const struct {
	ir_op op;
	const char *name;
	ir_attr_kind kind;
} schema[] = {
#define ATTR(op, nm, k) {OP_##op, nm, IR_ATTR_##k},
#include "attrs.def"
#undef ATTR
};

ir_attr_kind
ir_attr_schema(ir_op op, const char *name)
{
	for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
		if (schema[i].op == op && strcmp(schema[i].name, name) == 0)
			return schema[i].kind;
	return IR_NATTR_KINDS;
}

const char *
ir_attr_kind_name(ir_attr_kind k)
{
	static const char *const names[IR_NATTR_KINDS] = {
		[IR_ATTR_INT] = "int",		[IR_ATTR_FLOAT] = "float",
		[IR_ATTR_STRING] = "string",	[IR_ATTR_INTS] = "ints",
		[IR_ATTR_FLOATS] = "floats",	[IR_ATTR_STRINGS] = "strings",
		[IR_ATTR_TENSOR] = "tensor",
	};
	NN_ASSERT(k >= 0 && k < IR_NATTR_KINDS);
	return names[k];
}
