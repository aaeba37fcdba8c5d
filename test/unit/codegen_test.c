/* Completeness of code generation against the op table: every op of
 * ir/ops.def either has a lowering or is listed as not lowered
 * (codegen.c), and every elementwise op (unary and binary kinds, whose
 * lowerings switch on the op) compiles, with integers exactly when its
 * row says INT. */
#include <stdlib.h>
#include <unistd.h>

#include "codegen.h"
#include "unit.h"

/* Compiles one node of op on inputs of type t to LLVM IR at -O0 (in the
 * test's directory); whether it compiled. */
static bool
compiles(ir_op op, ir_dtype t)
{
	ir_graph *g = ir_graph_new("t");
	ir_shape s = SH(2, 3);
	ir_value *in[2];
	int nin = ir_ops[op].min_in;
	nn_diag d;
	cg_options o = {.name = "t", .opt_level = 0, .output = CG_OUT_LL};
	bool ok;

	in[0] = ir_add_input(g, "x", t, &s);
	in[1] = ir_add_input(g, "y", t, &s);
	ir_add_output(g, ir_add_node(g, op, "n", nin, in, 1)->out[0]);
	nn_diag_init(&d, "codegen_test", ir_ops[op].name);
	d.out = fopen("/dev/null", "w");
	ok = ir_infer_shapes(g, &d) && ir_verify(g, &d) &&
	     cg_compile(g, &o, "codegen_test.ll", &d);
	fclose(d.out);
	ir_graph_free(g);
	unlink("codegen_test.ll");
	return ok;
}

static void
test_every_op_lowers(void)
{
	for (int i = 0; i < IR_NOPS; i++) {
		bool ok = cg_kind_lowers(ir_ops[i].kind) ||
			  cg_op_not_lowered((ir_op)i);
		if (!ok)
			fprintf(stderr, "op %s has no lowering and is not "
				"listed as not lowered\n", ir_ops[i].name);
		CHECK(ok);
	}
}

static void
test_elementwise_compile(void)
{
	for (int i = 0; i < IR_NOPS; i++) {
		ir_kind k = ir_ops[i].kind;
		bool f, n;
		if ((k != IR_KIND_UNARY && k != IR_KIND_BINARY) ||
		    cg_op_not_lowered((ir_op)i))
			continue;
		f = compiles((ir_op)i, IR_F32);
		if (!f)
			fprintf(stderr, "%s: f32 does not compile\n",
				ir_ops[i].name);
		CHECK(f);
		if (k != IR_KIND_UNARY)
			continue;
		/* integers: compiled for the INT rows, refused (by shape
		 * inference, as the interpreter does) for the others */
		n = compiles((ir_op)i, IR_I32);
		if (n != ir_op_has((ir_op)i, IR_OPF_INT))
			fprintf(stderr, "%s: i32 %s but its row says %s\n",
				ir_ops[i].name, n ? "compiles" : "fails",
				n ? "float only" : "INT");
		CHECK(n == ir_op_has((ir_op)i, IR_OPF_INT));
	}
}

/* compiles() sees a refusal: no unary op takes bool. */
static void
test_refusal_seen(void)
{
	CHECK(!compiles(OP_Relu, IR_BOOL));
	CHECK(compiles(OP_Relu, IR_F32));
}

int
main(void)
{
	test_refusal_seen();
	test_every_op_lowers();
	test_elementwise_compile();
	return unit_report();
}
