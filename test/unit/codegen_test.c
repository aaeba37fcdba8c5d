/* Completeness of code generation against the op table: every op of
 * ir/ops.def either has a lowering or is listed as not lowered
 * (codegen.c), and every elementwise op (unary and binary kinds, whose
 * lowerings switch on the op) compiles, with integers exactly when its
 * row says INT. */
#include <stdlib.h>
#include <string.h>
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

/* The windows and MelWeightMatrix lower to a constant their eval hook
 * computes at compile time, for an output shape inference did not fold
 * (over ir_fold_node's size limit; simulated here by dropping the data
 * inference computed): the object must give 0.5 - 0.5 cos(2 pi i / 4) and
 * MelWeightMatrix(2, 16, 8000, 0, 4000), whose points fall on DFT bins 0,
 * 0, 2, 4 (numpy, by onnx's reference melweightmatrix.py): rows [1, 0],
 * [0.5, 0.5], [0, 1], [0, 0.5], then zeros. */
static void
test_signal_folded_lowering(void)
{
	ir_graph *g = ir_graph_new("t");
	ir_shape sc = {0};
	int64_t four = 4, two = 2, sixteen = 16, rate = 8000;
	float lo = 0, hi = 4000, win[4], mel[18];
	static const float want[18] = {1, 0, 0.5f, 0.5f, 0, 1, 0, 0.5f};
	ir_value *n4 = ir_add_const(g, "n", IR_I64, &sc, &four);
	ir_value *m[5] = {ir_add_const(g, "b", IR_I64, &sc, &two),
			  ir_add_const(g, "l", IR_I64, &sc, &sixteen),
			  ir_add_const(g, "r", IR_I64, &sc, &rate),
			  ir_add_const(g, "lo", IR_F32, &sc, &lo),
			  ir_add_const(g, "hi", IR_F32, &sc, &hi)};
	ir_node *w = ir_add_node(g, OP_HannWindow, "w", 1, &n4, 1);
	ir_node *mm = ir_add_node(g, OP_MelWeightMatrix, "m", 5, m, 1);
	cg_options o = {.name = "t", .opt_level = 1, .output = CG_OUT_OBJ};
	void *outs[2] = {win, mel};
	const char *why;
	size_t len = 0;
	nn_diag d;
	char *obj = NULL;
	cg_jit *j = NULL;

	ir_add_output(g, w->out[0]);
	ir_add_output(g, mm->out[0]);
	nn_diag_init(&d, "codegen_test", "signal");
	CHECK(ir_infer_shapes(g, &d) && ir_verify(g, &d));
	w->out[0]->data = mm->out[0]->data = NULL;
	CHECK(cg_compile(g, &o, "codegen_test.o", &d));
	CHECK((obj = nn_in_read("codegen_test.o", &len, &why)) != NULL);
	if (obj && (j = cg_jit_load(obj, len, &d))) {
		int (*run)(const void *const *, void *const *) =
			(int (*)(const void *const *, void *const *))
			cg_jit_symbol(j, "t_run", &d);
		CHECK(run && run(NULL, outs) == 0);
		CHECK(win[0] == 0 && win[1] == 0.5f && win[2] == 1 &&
		      win[3] == 0.5f);
		CHECK(memcmp(mel, want, sizeof mel) == 0);
		cg_jit_free(j);
	}
	free(obj);
	unlink("codegen_test.o");
	ir_graph_free(g);
}

int
main(void)
{
	test_signal_folded_lowering();
	test_refusal_seen();
	test_every_op_lowers();
	test_elementwise_compile();
	return unit_report();
}
