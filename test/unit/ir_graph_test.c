/* Unit tests for graph editing, analyses, inference, the verifier, the
 * interpreter, the text round trip and op-table completeness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "unit.h"

static nn_diag
quiet(void)
{
	nn_diag d;
	nn_diag_init(&d, "ir_graph_test", "test");
	d.out = fopen("/dev/null", "w");
	return d;
}

static void
test_hooks(void)
{
	/* Every op's kind must have both hooks (STYLE.md: op-table test). */
	for (int i = 0; i < IR_NOPS; i++) {
		const ir_kind_hooks *h = &ir_kinds[ir_ops[i].kind];
		if (!h->shape || !h->eval)
			fprintf(stderr, "op %s lacks a hook\n", ir_ops[i].name);
		CHECK(h->shape && h->eval);
		CHECK(ir_op_lookup(ir_ops[i].name) == (ir_op)i);
	}
	CHECK(ir_op_lookup("NoSuchOp") == IR_NOPS);
}

static void
test_attrs(void)
{
	ir_graph *g = ir_graph_new("a");
	ir_shape s = {1, {4}};
	ir_value *x = ir_add_input(g, "x", IR_F32, &s);
	ir_node *n = ir_add_node(g, OP_Relu, "r", 1, &x, 1);
	const char *names[] = {"m", "b", "z", "a", "k"};
	for (int i = 0; i < 5; i++)
		ir_set_attr(g, n, names[i], IR_ATTR_INT)->i = i;
	ir_set_attr(g, n, "b", IR_ATTR_FLOAT)->f = 2.5; /* reset, not added */
	CHECK(n->nattrs == 5);
	for (int i = 1; i < n->nattrs; i++)
		CHECK(strcmp(n->attrs[i - 1].name, n->attrs[i].name) < 0);
	CHECK(ir_attr_int(n, "z", -1) == 2 && ir_attr_int(n, "q", -1) == -1);
	CHECK(ir_attr_float(n, "b", 0) == 2.5);
	CHECK(ir_attr_float(n, "k", 0) == 4.0); /* int read as float */
	CHECK(ir_get_attr(n, "nope") == NULL);
	ir_attr *a = ir_set_attr(g, n, "s", IR_ATTR_STRING);
	a->s = "hi";
	CHECK(strcmp(ir_attr_str(n, "s", "no"), "hi") == 0);
	int cnt = 7;
	CHECK(ir_attr_ints(n, "s", &cnt) == NULL && cnt == 0);
	ir_graph_free(g);
}

/* x -> Relu -> Neg -> out, plus a constant. */
static void
test_edit(void)
{
	ir_graph *g = ir_graph_new("e");
	ir_shape s = {2, {2, 3}};
	ir_value *x = ir_add_input(g, "x", IR_F32, &s);
	ir_node *r = ir_add_node(g, OP_Relu, NULL, 1, &x, 1);
	ir_node *ng = ir_add_node(g, OP_Neg, "neg", 1, &r->out[0], 1);
	ir_add_output(g, ng->out[0]);
	ir_node *ab = ir_insert_node(g, ng, OP_Abs, NULL, 1, &r->out[0], 1);
	CHECK(g->nnodes == 3 && g->first == r && r->next == ab &&
	      ab->next == ng && g->last == ng && ng->prev == ab);
	ir_replace_uses(g, r->out[0], ab->out[0]);
	/* Every use is replaced, the new node's own input too (as LLVM's
	 * RAUW); a pass inserting a node reconnects it afterwards. */
	CHECK(ab->in[0] == ab->out[0] && ng->in[0] == ab->out[0]);
	ab->in[0] = r->out[0];
	ir_compute_uses(g);
	CHECK(x->nuses == 1 && x->uses[0].node == r && x->uses[0].index == 0);
	CHECK(r->out[0]->nuses == 1 && ab->out[0]->nuses == 1);
	CHECK(ng->out[0]->nuses == 0);
	ir_replace_uses(g, ng->out[0], ab->out[0]);
	CHECK(g->outputs[0] == ab->out[0]);
	ir_remove_node(g, ng);
	CHECK(g->nnodes == 2 && g->last == ab && ab->next == NULL);
	ir_remove_node(g, r);
	CHECK(g->first == ab && ab->prev == NULL);
	/* Growing arrays keep their contents. */
	for (int i = 0; i < 100; i++) {
		float v = (float)i;
		ir_shape one = {0};
		ir_add_const(g, NULL, IR_F32, &one, &v);
	}
	CHECK(g->nconsts == 100 && *(float *)g->consts[77]->data == 77.0f);
	ir_graph_free(g);
}

static void
test_numbering(void)
{
	ir_graph *g = ir_graph_new("n");
	ir_shape s = {1, {2}};
	ir_value *x = ir_add_input(g, "x", IR_F32, &s);
	ir_value *c = ir_add_const(g, NULL, IR_F32, &s, NULL);
	ir_value *in2[2] = {x, c};
	ir_node *a = ir_add_node(g, OP_Add, NULL, 2, in2, 1);
	ir_node *b = ir_add_node(g, OP_Relu, NULL, 1, &a->out[0], 1);
	b->out[0]->name = "y";
	ir_add_output(g, b->out[0]);
	ir_number_values(g);
	/* Numbered in print order: the unnamed constant, then Add's output;
	 * the named input and output come after. */
	CHECK(g->nnumbered == 2);
	CHECK(c->id == 0 && a->out[0]->id == 1);
	CHECK(x->id >= 2 && b->out[0]->id >= 2 && x->id != b->out[0]->id);
	CHECK(strcmp(ir_value_label(a->out[0]), "%1") == 0);
	CHECK(strcmp(ir_value_label(x), "x") == 0);
	CHECK(ir_is_const(c) && !ir_is_const(x) && !ir_is_const(a->out[0]));
	ir_graph_free(g);
}

static void
test_facts(void)
{
	ir_graph *g = ir_graph_new("f");
	ir_shape s1 = {1, {1}}, s5 = {1, {5}};
	uint8_t a = 'a';
	ir_value *v = ir_add_const(g, "a", IR_U8, &s1, &a);
	CHECK(v->hash == 0xaf63dc4c8601ec8cull); /* FNV-1a 64 test vector */
	CHECK(v->nnz == 1);
	float f[5] = {0, -0.0f, 1, NAN, 0};
	ir_value *w = ir_add_const(g, "w", IR_F32, &s5, f);
	CHECK(w->nnz == 2);
	ir_graph_free(g);
}

static void
test_verify(void)
{
	nn_diag d = quiet();
	ir_graph *g = ir_graph_new("v");
	ir_shape s = {1, {3}};
	ir_value *x = ir_add_input(g, "x", IR_F32, &s);
	ir_node *r = ir_add_node(g, OP_Relu, NULL, 1, &x, 1);
	ir_node *n = ir_add_node(g, OP_Neg, NULL, 1, &r->out[0], 1);
	ir_add_output(g, n->out[0]);
	CHECK(!ir_verify(g, &d)); /* outputs untyped */
	d.nerrors = 0;
	CHECK(ir_infer_shapes(g, &d));
	CHECK(n->out[0]->dtype == IR_F32 && ir_shape_eq(&n->out[0]->shape, &s));
	CHECK(ir_verify(g, &d) && d.nerrors == 0);
	/* A wrong recorded shape is caught. */
	n->out[0]->shape.dim[0] = 4;
	CHECK(!ir_verify(g, &d));
	n->out[0]->shape.dim[0] = 3;
	d.nerrors = 0;
	/* Use before definition: move Neg before Relu. */
	ir_remove_node(g, n);
	g->nnodes++;
	n->next = r;
	r->prev = n;
	g->first = n;
	g->last = r;
	CHECK(!ir_verify(g, &d));
	ir_graph_free(g);
	/* Arity. */
	g = ir_graph_new("v2");
	x = ir_add_input(g, "x", IR_F32, &s);
	ir_value *two[2] = {x, x};
	r = ir_add_node(g, OP_Relu, NULL, 2, two, 1);
	r->out[0]->dtype = IR_F32;
	r->out[0]->shape = s;
	ir_add_output(g, r->out[0]);
	d.nerrors = 0;
	CHECK(!ir_verify(g, &d));
	CHECK(!ir_infer_shapes(g, &d));
	ir_graph_free(g);
	fclose(d.out);
}

/* y = Relu(x @ W + b) with W = [[1,2],[3,4],[5,6]], b = [-20, 1]. */
static void
test_run(void)
{
	nn_diag d = quiet();
	ir_graph *g = ir_graph_new("mlp");
	ir_shape sx = {2, {2, 3}}, sw = {2, {3, 2}}, sb = {1, {2}};
	float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-20, 1};
	ir_value *x = ir_add_input(g, "x", IR_F32, &sx);
	ir_value *in[2] = {x, ir_add_const(g, "w", IR_F32, &sw, w)};
	ir_node *mm = ir_add_node(g, OP_MatMul, NULL, 2, in, 1);
	ir_value *in2[2] = {mm->out[0], ir_add_const(g, "b", IR_F32, &sb, b)};
	ir_node *add = ir_add_node(g, OP_Add, NULL, 2, in2, 1);
	ir_node *relu = ir_add_node(g, OP_Relu, NULL, 1, &add->out[0], 1);
	ir_add_output(g, relu->out[0]);
	ir_add_output(g, mm->out[0]);
	CHECK(ir_infer_shapes(g, &d) && ir_verify(g, &d));
	float xv[6] = {1, 0, 0, 1, 1, 1}, y[4], m[4];
	void *outs[2] = {y, m};
	const void *ins[1] = {xv};
	CHECK(ir_run(g, ins, outs, &d));
	/* x@W = [[1,2],[9,12]]; + b = [[-19,3],[-11,13]] */
	CHECK(m[0] == 1 && m[1] == 2 && m[2] == 9 && m[3] == 12);
	CHECK(y[0] == 0 && y[1] == 3 && y[2] == 0 && y[3] == 13);
	ir_graph_free(g);
	fclose(d.out);
}

static const char *const round_trip_text =
	"graph @\"g.1\"(%\"input.1\": f32[1,4], %k: i64[2]) -> (f32[1,4], "
	"f32[1,2], f32[1,2]) opset(13) {\n"
	"  %c = const f16[3] [0.1, -inf, 65504]\n"
	"  %d = const f64[2] [0.10000000000000001, 1e-300]\n"
	"  %e = const u64[1] [18446744073709551615]\n"
	"  %f = const f32[20] elided(nnz=3, hash=0x00000000deadbeef)\n"
	"  %g = const i64[2] splat(2)\n"
	"  %0 = Clip(%\"input.1\", none, none) {max=6.0, min=0.0} : f32[1,4] "
	"loc(\"clip \\\"a\\\"\\n\")\n"
	"  %1, %2 = Split(%0, %g) {axis=1} : f32[1,2], f32[1,2]\n"
	"  %3 = Resize(%0, none, none, none) {axes=[], "
	"coordinate_transformation_mode=\"half_pixel\", "
	"cubic_coeff_a=-0.75, extrapolation_value=1e-10} : f32[1,4]\n"
	"  %\"out\" = Identity(%3) : f32[1,4]\n"
	"  return %out, %1, %2\n"
	"}\n";

static char *
print_str(ir_graph *g, bool weights)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ir_print_opts o = {weights};
	ir_print(f, g, &o);
	fclose(f);
	return buf;
}

static void
test_text(void)
{
	nn_diag d = quiet();
	ir_graph *g = ir_parse(round_trip_text, strlen(round_trip_text), &d);
	CHECK(g != NULL);
	if (!g)
		return;
	char *once = print_str(g, false);
	ir_graph *g2 = ir_parse(once, strlen(once), &d);
	CHECK(g2 != NULL);
	char *twice = g2 ? print_str(g2, false) : NULL;
	CHECK(twice && strcmp(once, twice) == 0);
	/* The constants and names read back as written. */
	CHECK(g->consts[0]->dtype == IR_F16 &&
	      ((uint16_t *)g->consts[0]->data)[1] == 0xfc00 &&
	      ((uint16_t *)g->consts[0]->data)[2] == 0x7bff);
	CHECK(((double *)g->consts[1]->data)[0] == 0.1);
	CHECK(((uint64_t *)g->consts[2]->data)[0] == UINT64_MAX);
	CHECK(g->consts[3]->elided && !g->consts[3]->data &&
	      g->consts[3]->hash == 0xdeadbeef && g->consts[3]->nnz == 3);
	CHECK(strcmp(g->inputs[0]->name, "input.1") == 0);
	CHECK(strcmp(g->first->name, "clip \"a\"\n") == 0);
	CHECK(ir_attr_float(g->first, "max", 0) == 6.0);
	const ir_attr *ax = ir_get_attr(g->first->next->next, "axes");
	CHECK(ax && ax->kind == IR_ATTR_INTS && ax->n == 0);
	CHECK(ir_attr_float(g->first->next->next, "cubic_coeff_a", 0) ==
	      (double)-0.75f);
	CHECK(strstr(once, "%out = Identity") != NULL);
	/* Float attributes that are not exact f32 values keep every bit. */
	ir_set_attr(g2, g2->first, "min", IR_ATTR_FLOAT)->f = 0.1;
	ir_set_attr(g2, g2->first, "max", IR_ATTR_FLOAT)->f = 123456789.0;
	char *dbl = print_str(g2, false);
	ir_graph *g3 = ir_parse(dbl, strlen(dbl), &d);
	CHECK(g3 && ir_attr_float(g3->first, "min", 0) == 0.1 &&
	      ir_attr_float(g3->first, "max", 0) == 123456789.0);
	free(dbl);
	ir_graph_free(g3);
	free(once);
	free(twice);
	ir_graph_free(g);
	ir_graph_free(g2);
	fclose(d.out);
}

int
main(void)
{
	test_hooks();
	test_attrs();
	test_edit();
	test_numbering();
	test_facts();
	test_verify();
	test_run();
	test_text();
	return unit_report();
}
