/* The generator's core: the choice stream, the pool of values new nodes
 * read, constants and inputs, and the loop that picks ops by the table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

unsigned
gen_byte(gen_src *s)
{
	return s->pos < s->n ? s->p[s->pos++] : 0;
}

int
gen_int(gen_src *s, int lo, int hi)
{
	unsigned span = (unsigned)(hi - lo) + 1, v = gen_byte(s);

	if (hi <= lo)
		return lo;
	if (span > 256)
		v = v << 8 | gen_byte(s);
	return lo + (int)(v % span);
}

bool
gen_chance(gen_src *s, int pct)
{
	return (int)(gen_byte(s) % 100) >= 100 - pct;
}

float
gen_float(gen_src *s)
{
	unsigned v = gen_byte(s) << 8 | gen_byte(s);

	return v ? (float)v / 32768.0f - 1.0f : 0.0f;
}

bool
gen_exact(const ir_value *v)
{
	const ir_node *n = v->def;
	bool ok = true;

	if (!ir_dtype_is_float(v->dtype) || !n || v->data)
		return true;
	switch (ir_ops[n->op].kind) {
	case IR_KIND_UNARY:
		ok = n->op == OP_Abs || n->op == OP_Neg || n->op == OP_Relu ||
		     n->op == OP_Floor || n->op == OP_Ceil ||
		     n->op == OP_Round || n->op == OP_Sign;
		break;
	case IR_KIND_POOL:
		ok = n->op == OP_MaxPool || n->op == OP_GlobalMaxPool;
		break;
	case IR_KIND_REDUCE:
		ok = n->op == OP_ReduceMax || n->op == OP_ReduceMin;
		break;
	case IR_KIND_NARY:
		ok = n->op == OP_Max || n->op == OP_Min || n->op == OP_Where;
		break;
	case IR_KIND_RESHAPE: case IR_KIND_TRANSPOSE: case IR_KIND_CONCAT:
	case IR_KIND_SPLIT: case IR_KIND_SLICE: case IR_KIND_GATHER:
	case IR_KIND_PAD: case IR_KIND_CAST: case IR_KIND_EXPAND:
		break;
	case IR_KIND_SCATTER:
		ok = n->op == OP_GatherElements || n->op == OP_GatherND;
		break;
	case IR_KIND_INDEX: /* copies, but for CumSum's sums */
		ok = n->op != OP_CumSum;
		break;
	default:
		ok = false;
	}
	for (int i = 0; ok && i < n->nin; i++)
		ok = !n->in[i] || gen_exact(n->in[i]);
	return ok;
}

static bool
wants(gen_want w, ir_dtype t)
{
	switch (w) {
	case GEN_F32: return t == IR_F32;
	case GEN_FLOAT: return ir_dtype_is_float(t);
	case GEN_NUM: return t != IR_BOOL;
	case GEN_INT: return ir_dtype_is_int(t);
	case GEN_BOOL: return t == IR_BOOL;
	case GEN_ANY: return true;
	case GEN_EXACT: break;
	}
	return false;
}

void
gen_shape(gen *z, int rank, ir_shape *s)
{
	int64_t numel = 1;

	s->rank = rank;
	for (int i = 0; i < rank; i++) {
		int64_t cap = GEN_MAX_NUMEL / numel / (1 << (rank - i - 1));
		s->dim[i] = gen_int(z->s, 1, cap < 7 ? (int)(cap < 1 ? 1 : cap)
							  : 7);
		numel *= s->dim[i];
	}
}

ir_value *
gen_input(gen *z, ir_dtype t, int r)
{
	ir_shape s;
	char name[16];

	if (z->npool == GEN_MAX_POOL || z->ninputs >= 4)
		return NULL;
	gen_shape(z, r, &s);
	if (r > 0 && z->ninputs > 0 && z->g->inputs[0]->shape.rank > 0)
		s.dim[0] = z->g->inputs[0]->shape.dim[0]; /* one batch */
	snprintf(name, sizeof name, "x%d", z->ninputs++);
	ir_value *v = ir_add_input(z->g, name, t, &s);
	z->pool[z->npool++] = v;
	return v;
}

ir_value *
gen_pick(gen *z, gen_want w, int rmin, int rmax)
{
	int start = z->npool ? gen_int(z->s, 0, z->npool - 1) : 0;

	bool ex = w & GEN_EXACT;

	w &= ~GEN_EXACT;
	for (int k = 0; k < z->npool; k++) {
		ir_value *v = z->pool[(start + k) % z->npool];
		if (wants(w, v->dtype) && v->shape.rank >= rmin &&
		    v->shape.rank <= rmax && (!ex || gen_exact(v)))
			return v;
	}
	if (w == GEN_BOOL || w == GEN_INT)
		return NULL; /* made by comparisons, casts and ArgMax */
	return gen_input(z, IR_F32, gen_int(z->s, rmin, rmax));
}

/* Fills element i of a constant of type t. */
static void
fill(gen *z, void *p, ir_dtype t, int64_t i, double prev)
{
	unsigned c = gen_byte(z->s) % 8;
	double v = c == 0 ? 0 : c == 1 ? prev : gen_float(z->s);

	if (ir_dtype_is_int(t))
		v = round(v * 3);
	else if (t == IR_BOOL)
		v = v > 0;
	ir_store_f64(p, t, i, v);
}

ir_value *
gen_const(gen *z, ir_dtype t, const ir_shape *s)
{
	ir_value *v = ir_add_const(z->g, NULL, t, s, NULL);
	int64_t n = ir_shape_numel(s);
	double prev = 0.5;

	for (int64_t i = 0; i < n; i++) {
		fill(z, v->data, t, i, prev);
		prev = ir_load_f64(v->data, t, i);
	}
	ir_const_facts(v);
	return v;
}

ir_value *
gen_ints(gen *z, int n, const int64_t *vals)
{
	ir_shape s = {1, {n}};

	return ir_add_const(z->g, NULL, IR_I64, &s, vals);
}

ir_value *
gen_scalar(gen *z, ir_dtype t, double v)
{
	ir_shape s = {0, {0}};
	ir_value *c = ir_add_const(z->g, NULL, t, &s, NULL);

	ir_store_f64(c->data, t, 0, v);
	ir_const_facts(c);
	return c;
}

ir_value *
gen_partner(gen *z, const ir_value *x)
{
	ir_shape s = x->shape, out;
	int start = z->npool ? gen_int(z->s, 0, z->npool - 1) : 0;

	for (int k = 0; gen_chance(z->s, 50) && k < z->npool; k++) {
		ir_value *v = z->pool[(start + k) % z->npool];
		if (v->dtype == x->dtype && v != x &&
		    ir_shape_broadcast(&x->shape, &v->shape, &out) &&
		    ir_shape_eq(&out, &x->shape))
			return v;
	}
	/* a suffix of x's shape with some dims 1 (or x's own, or a scalar) */
	int drop = gen_int(z->s, 0, s.rank);
	s.rank -= drop;
	memmove(s.dim, s.dim + drop, sizeof(int64_t) * (size_t)s.rank);
	for (int i = 0; i < s.rank; i++)
		if (gen_chance(z->s, 30))
			s.dim[i] = 1;
	return gen_const(z, x->dtype, &s);
}

ir_node *
gen_node(gen *z, ir_op op, int nin, ir_value *const *in, int nout)
{
	snprintf(z->name, sizeof z->name, "n%d", z->nnodes);
	return ir_add_node(z->g, op, z->name, nin, in, nout);
}

void
gen_attr_int(gen *z, ir_node *n, const char *name, int64_t v)
{
	ir_set_attr(z->g, n, name, IR_ATTR_INT)->i = v;
}

void
gen_attr_float(gen *z, ir_node *n, const char *name, double v)
{
	ir_set_attr(z->g, n, name, IR_ATTR_FLOAT)->f = v;
}

void
gen_attr_str(gen *z, ir_node *n, const char *name, const char *v)
{
	ir_set_attr(z->g, n, name, IR_ATTR_STRING)->s = ir_intern(z->g, v);
}

void
gen_attr_strs(gen *z, ir_node *n, const char *name, int k,
	      const char *const *v)
{
	ir_attr *a = ir_set_attr(z->g, n, name, IR_ATTR_STRINGS);

	a->n = k;
	a->strings = nn_alloc_array(z->g->arena, (size_t)(k ? k : 1),
				    sizeof *a->strings);
	for (int i = 0; i < k; i++)
		a->strings[i] = ir_intern(z->g, v[i]);
}

void
gen_attr_ints(gen *z, ir_node *n, const char *name, int k, const int64_t *v)
{
	ir_attr *a = ir_set_attr(z->g, n, name, IR_ATTR_INTS);

	a->n = k;
	a->ints = nn_alloc_array(z->g->arena, (size_t)(k ? k : 1),
				 sizeof *a->ints);
	memcpy(a->ints, v, sizeof *v * (size_t)k);
}

bool
gen_finish(gen *z, ir_node *n)
{
	bool ok = ir_kinds[ir_ops[n->op].kind].shape(z->g, n, z->d);

	for (int i = 0; ok && i < n->nout; i++) {
		int64_t k = n->out[i] ? ir_shape_numel(&n->out[i]->shape) : 0;
		ok = k >= 0 && k <= GEN_MAX_NUMEL && (!n->out[i] ||
			n->out[i]->shape.rank <= 6);
	}
	ok = ok && ir_fold_node(z->g, n, z->d);
	if (!ok) {
		ir_remove_node(z->g, n);
		return false;
	}
	z->nnodes++;
	for (int i = 0; i < n->nout && z->npool < GEN_MAX_POOL; i++)
		if (n->out[i])
			z->pool[z->npool++] = n->out[i];
	return true;
}

/* Weight layers are what compression and the sparse kernels act on:
 * they get a quarter of the choices. */
static const ir_op weight_ops[] = {OP_Conv, OP_Gemm, OP_MatMul,
				   OP_ConvTranspose, OP_FusedGemm,
				   OP_FusedConv};

static ir_op
choose_op(gen_src *s)
{
	if (gen_chance(s, 25))
		return weight_ops[gen_byte(s) % (sizeof weight_ops /
						 sizeof *weight_ops)];
	int op = gen_int(s, 0, IR_NOPS - 1);
	while (!gen_ops[op])
		op = (op + 1) % IR_NOPS;
	return (ir_op)op;
}

/* Graph outputs: values nothing reads (the point of the graph), the
 * last made first, up to three; never an input or a constant. */
static void
choose_outputs(gen *z)
{
	int want = gen_int(z->s, 1, 3);

	ir_compute_uses(z->g);
	for (int i = z->npool - 1; i >= 0 && z->g->noutputs < want; i--) {
		ir_value *v = z->pool[i];
		if (v->def && (!v->nuses || i == z->npool - 1))
			ir_add_output(z->g, v);
	}
}

ir_graph *
gen_graph(gen_src *s, int max_nodes, nn_diag *d)
{
	gen z = {ir_graph_new("fuzz"), s, d, {0}, 0, 0, 0, ""};
	int tries = 0;

	z.g->opset = 18;
	gen_input(&z, IR_F32, gen_int(s, 1, 4));
	if (gen_chance(s, 30))
		gen_input(&z, IR_F32, gen_int(s, 1, 4));
	int want = gen_int(s, 1, max_nodes);
	while (z.nnodes < want && tries++ < 4 * max_nodes &&
	       z.npool < GEN_MAX_POOL - 4) {
		ir_op op = choose_op(s);
		gen_ops[op](&z, op);
		if (s->pos >= s->n && tries > want)
			break;
	}
	choose_outputs(&z);
	if (!z.g->noutputs) {
		ir_graph_free(z.g);
		return NULL;
	}
	return z.g;
}
