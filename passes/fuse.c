/* fuse: a Conv/Gemm (or a 2-D MatMul) with the bias Add, residual Add and
 * activation after it becomes one nncc.FusedConv / nncc.FusedGemm
 * (ir/op_fused.c gives the exact meaning). Each absorbed intermediate
 * value must have that single reader and not be a graph output. The
 * activation may also be one of the chains PyTorch exports SiLU and GELU
 * as, which read the value more than once: nncc.Silu, nncc.Gelu,
 * nncc.GeluTanh (ops.def); after any other node such a chain becomes
 * that one unary node. */
#include <string.h>

#include "opt_util.h"

/* The group being built: inputs (X, W, B, R), the last absorbed node and
 * the activation. */
typedef struct group {
	ir_node *base, *last;
	ir_value *in[4];
	ir_node *act; /* the activation node (NULL for a chain) */
	ir_op act_op; /* its op, IR_NOPS while there is none */
	double alpha; /* a chain's alpha (nncc.Gelu) */
	int nabsorbed;
} group;

/* The most nodes a group absorbs: bias, residual, a 10-node chain. */
enum { MAX_ABSORBED = 12 };

/* The value the group currently produces, and its only reader if it may
 * be absorbed. Needs uses (a value in dirty has a stale list). */
static ir_node *
next_reader(const ir_graph *g, const group *gr, const pass_vset *dirty)
{
	ir_value *y = gr->last->out[0];
	if (pass_is_output(g, y) || pass_vset_has(dirty, y))
		return NULL;
	return pass_sole_user(y);
}

/* A MatMul becomes a Gemm when both operands are 2-D. */
static bool
base_ok(const ir_node *n)
{
	if (!n->out[0] || !ir_dtype_is_float(n->out[0]->dtype))
		return false; /* (an LSTM may omit its first output) */
	if (n->op == OP_MatMul)
		return n->in[0]->shape.rank == 2 && n->in[1]->shape.rank == 2;
	return n->op == OP_Conv || n->op == OP_Gemm;
}

/* A per-channel constant Add after a bias-less Gemm/MatMul ([N] or
 * [1,N]) becomes its bias C. */
static bool
absorb_bias(group *gr, ir_node *u, ir_value *y)
{
	if (u->op != OP_Add || gr->in[2] || gr->base->op == OP_Conv ||
	    gr->nabsorbed || ir_attr_f_or(gr->base, "beta", 1.0) != 1.0)
		return false;
	ir_value *c = u->in[0] == y ? u->in[1] : u->in[0];
	int64_t nn = y->shape.dim[1];
	if (c == y || !ir_is_const(c) || c->dtype != y->dtype ||
	    !ir_shape_eq(&u->out[0]->shape, &y->shape) ||
	    ir_shape_numel(&c->shape) != nn ||
	    c->shape.dim[c->shape.rank - 1] != nn)
		return false;
	gr->in[2] = c;
	return true;
}

/* An Add of a same-shaped value computed before the group's base. */
static bool
absorb_residual(group *gr, ir_node *u, ir_value *y)
{
	if (u->op != OP_Add || gr->in[3] || gr->act_op != IR_NOPS)
		return false;
	ir_value *r = u->in[0] == y ? u->in[1] : u->in[0];
	if (r == y || r->dtype != y->dtype ||
	    !ir_shape_eq(&r->shape, &y->shape) ||
	    !ir_shape_eq(&u->out[0]->shape, &y->shape))
		return false;
	gr->in[3] = r;
	return true;
}

/* Clip's bounds must be constant scalars to become attributes. */
static bool
absorb_activation(group *gr, ir_node *u)
{
	if (!ir_op_has(u->op, IR_OPF_ACT) || gr->act_op != IR_NOPS)
		return false;
	for (int i = 1; i < u->nin; i++)
		if (u->in[i] && !pass_has_data(u->in[i]))
			return false;
	gr->act = u;
	gr->act_op = u->op;
	return true;
}

/* An f32 constant of one element (its value in *v). */
static bool
scalar_of(const ir_value *c, double *v)
{
	if (!c || !pass_has_data(c) || c->dtype != IR_F32 ||
	    ir_shape_numel(&c->shape) != 1)
		return false;
	*v = ir_load_f64(c->data, IR_F32, 0);
	return true;
}

/* An f32 constant of one element that is exactly v. */
static bool
is_scalar(const ir_value *c, float v)
{
	double x;
	return scalar_of(c, &x) && x == v;
}

/* The operand of binary u that is not v (NULL when neither or both). */
static ir_value *
other(const ir_node *u, const ir_value *v)
{
	if (u->nin != 2 || (u->in[0] == v) == (u->in[1] == v))
		return NULL;
	return u->in[0] == v ? u->in[1] : u->in[0];
}

/* u, when it is op and v's only reader and v may vanish. */
static ir_node *
only(const ir_graph *g, const ir_value *v, ir_op op, const pass_vset *dirty)
{
	ir_node *u = pass_sole_user(v);
	if (!u || u->op != op || pass_is_output(g, v) || pass_vset_has(dirty, v))
		return NULL;
	return u;
}

/* y's first reader of op, or NULL. */
static ir_node *
reader(const ir_value *y, ir_op op)
{
	for (int k = 0; k < y->nuses; k++)
		if (y->uses[k].node->op == op)
			return y->uses[k].node;
	return NULL;
}

/* Mul(y, Sigmoid(y)): the chain's nodes into c, their count (0: none). */
static int
match_silu(const ir_graph *g, ir_value *y, const pass_vset *dirty,
	   ir_node **c)
{
	ir_node *s = reader(y, OP_Sigmoid), *m;
	if (y->nuses != 2 || !s || !(m = only(g, s->out[0], OP_Mul, dirty)) ||
	    other(m, s->out[0]) != y || reader(y, OP_Mul) != m)
		return 0;
	c[0] = s;
	c[1] = m;
	return 2;
}

/* The Mul of GELU's result m by a scalar, its last factor (alpha, else
 * 1: folded away): 1 if absorbed into c. */
static int
last_scale(const ir_graph *g, ir_node *m, const pass_vset *dirty,
	   ir_node **c, double *alpha)
{
	ir_node *s = only(g, m->out[0], OP_Mul, dirty);
	if (!s || !scalar_of(other(s, m->out[0]), alpha)) {
		*alpha = 1;
		return 0;
	}
	c[0] = s;
	return 1;
}

/* Mul(y, Add(Erf(Div(y, sqrt 2)), 1)) and a Mul by a scalar alpha after
 * it if there is one (either operand order), torch.nn.functional.gelu as
 * PyTorch exports it (alpha 0.5, unless eliminate-layers folded it into
 * the next layer). */
static int
match_gelu(const ir_graph *g, ir_value *y, const pass_vset *dirty,
	   ir_node **c, double *alpha)
{
	ir_node *d = reader(y, OP_Div), *e, *a, *m1;
	if (y->nuses != 2 || !d || d->in[0] != y ||
	    !is_scalar(d->in[1], 1.41421354f) ||
	    !(e = only(g, d->out[0], OP_Erf, dirty)) ||
	    !(a = only(g, e->out[0], OP_Add, dirty)) ||
	    !is_scalar(other(a, e->out[0]), 1.0f) ||
	    !(m1 = only(g, a->out[0], OP_Mul, dirty)) ||
	    other(m1, a->out[0]) != y || reader(y, OP_Mul) != m1)
		return 0;
	c[0] = d, c[1] = e, c[2] = a, c[3] = m1;
	return 4 + last_scale(g, m1, dirty, c + 4, alpha);
}

/* The tanh GELU as PyTorch exports it: with c = Mul(y, Mul(y, y)),
 * Mul(y, Add(1, Tanh(Mul(0.7978846, Add(y, Mul(0.044715, c)))))) and
 * the scalar Mul after it if there is one (operands in either order). */
static int
match_gelu_tanh(const ir_graph *g, ir_value *y, const pass_vset *dirty,
		ir_node **c, double *alpha)
{
	ir_node *q = NULL, *cu, *k, *a, *i, *t, *a2, *m;
	for (int u = 0; u < y->nuses; u++)
		if (y->uses[u].node->op == OP_Mul &&
		    y->uses[u].node->in[0] == y && y->uses[u].node->in[1] == y)
			q = y->uses[u].node;
	if (y->nuses != 5 || !q ||
	    !(cu = only(g, q->out[0], OP_Mul, dirty)) ||
	    other(cu, q->out[0]) != y ||
	    !(k = only(g, cu->out[0], OP_Mul, dirty)) ||
	    !is_scalar(other(k, cu->out[0]), 0.044715f) ||
	    !(a = only(g, k->out[0], OP_Add, dirty)) ||
	    other(a, k->out[0]) != y ||
	    !(i = only(g, a->out[0], OP_Mul, dirty)) ||
	    !is_scalar(other(i, a->out[0]), 0.7978846f) ||
	    !(t = only(g, i->out[0], OP_Tanh, dirty)) ||
	    !(a2 = only(g, t->out[0], OP_Add, dirty)) ||
	    !is_scalar(other(a2, t->out[0]), 1.0f) ||
	    !(m = only(g, a2->out[0], OP_Mul, dirty)) ||
	    other(m, a2->out[0]) != y)
		return 0;
	c[0] = q, c[1] = cu, c[2] = k, c[3] = a, c[4] = i, c[5] = t;
	c[6] = a2, c[7] = m;
	return 8 + last_scale(g, m, dirty, c + 8, alpha);
}

/* A SiLU or GELU chain reading the group's value (its only readers; f32:
 * the chain's rounding is the op's) as the activation; the number of
 * nodes absorbed into c. */
static int
absorb_chain(const ir_graph *g, group *gr, const pass_vset *dirty,
	     ir_node **c)
{
	ir_value *y = gr->last->out[0];
	int k;
	if (gr->act_op != IR_NOPS || y->dtype != IR_F32 ||
	    pass_is_output(g, y) || pass_vset_has(dirty, y))
		return 0;
	if ((k = match_silu(g, y, dirty, c)))
		gr->act_op = OP_Silu;
	else if ((k = match_gelu(g, y, dirty, c, &gr->alpha)))
		gr->act_op = OP_Gelu;
	else if ((k = match_gelu_tanh(g, y, dirty, c, &gr->alpha)))
		gr->act_op = OP_GeluTanh;
	if (k)
		gr->last = c[k - 1];
	return k;
}

static void
set_float(ir_graph *g, ir_node *n, const char *name, double v)
{
	ir_set_attr(g, n, name, IR_ATTR_FLOAT)->f = v;
}

/* Copies the activation of gr (its node a, NULL for a chain) into the
 * fused node's attributes. */
static void
set_activation(ir_graph *g, ir_node *f, ir_op op, const ir_node *a)
{
	ir_set_attr(g, f, "activation", IR_ATTR_STRING)->s =
		ir_intern(g, ir_ops[op].name);
	if (!a)
		return;
	if (a->op == OP_Clip) {
		for (int i = 1; i < a->nin && i < 3; i++)
			if (a->in[i])
				set_float(g, f, i == 1 ? "activation_alpha" :
						"activation_beta",
					  ir_load_f64(a->in[i]->data,
						      a->in[i]->dtype, 0));
		return;
	}
	/* the other activations' parameters are their alpha and beta
	 * attributes (attrs.def), those given */
	const ir_attr *al = ir_get_attr(a, "alpha"), *be = ir_get_attr(a,
								       "beta");
	if (al)
		set_float(g, f, "activation_alpha", al->f);
	if (be)
		set_float(g, f, "activation_beta", be->f);
}

/* Builds the fused node after gr->last, removes the base and the
 * absorbed nodes, and returns the fused node. The group's inputs gain
 * the fused node as a reader: they join dirty. */
static ir_node *
emit(ir_graph *g, group *gr, ir_node *const *absorbed, pass_vset *dirty)
{
	ir_node *b = gr->base;
	/* a MatMul fuses as the Gemm of its two inputs (no attributes) */
	ir_op op = ir_fused_of(b->op == OP_MatMul ? OP_Gemm : b->op);
	ir_node *f = ir_insert_node(g, gr->last->next, op, b->name, 4, gr->in,
				    1);
	f->nattrs = b->op == OP_MatMul ? 0 : b->nattrs;
	f->attrs = nn_alloc_array(g->arena, (size_t)(f->nattrs + 1),
				  sizeof *f->attrs);
	if (f->nattrs)
		memcpy(f->attrs, b->attrs,
		       (size_t)f->nattrs * sizeof *f->attrs);
	if (gr->act_op != IR_NOPS)
		set_activation(g, f, gr->act_op, gr->act);
	if (gr->act_op == OP_Gelu || gr->act_op == OP_GeluTanh)
		set_float(g, f, "activation_alpha", gr->alpha);
	ir_value *y = gr->last->out[0];
	f->out[0]->dtype = y->dtype;
	f->out[0]->shape = y->shape;
	if (y->nuses && !pass_vset_has(dirty, y))
		pass_replace_listed(g, y, f->out[0]);
	else
		pass_replace(g, y, f->out[0]);
	for (int i = 0; i < 4; i++)
		if (gr->in[i] && gr->in[i]->def)
			pass_vset_add(dirty, gr->in[i]);
	ir_remove_node(g, b);
	for (int i = 0; i < gr->nabsorbed; i++)
		ir_remove_node(g, absorbed[i]);
	return f;
}

/* A SiLU/GELU chain after n, which is no Conv/Gemm (a BatchNorm, a
 * batched MatMul, an Add), as its one unary node; that node, or NULL.
 * Needs uses. */
static ir_node *
chain_from(ir_graph *g, ir_node *n, pass_vset *dirty)
{
	group gr = {.base = n, .last = n, .act_op = IR_NOPS};
	ir_node *c[MAX_ABSORBED], *u;
	ir_value *y = n->out[0];
	int k;
	if (n->nout < 1 || !y || !(k = absorb_chain(g, &gr, dirty, c)))
		return NULL;
	u = ir_insert_node(g, gr.last->next, gr.act_op, c[k - 1]->name, 1, &y,
			   1);
	if (gr.act_op != OP_Silu)
		set_float(g, u, "alpha", gr.alpha);
	u->out[0]->dtype = y->dtype;
	u->out[0]->shape = y->shape;
	pass_replace(g, gr.last->out[0], u->out[0]);
	pass_vset_add(dirty, y);
	for (int i = 0; i < k; i++)
		ir_remove_node(g, c[i]);
	return u;
}

/* Grows a group from base n; the fused node, or NULL. Needs uses. */
static ir_node *
fuse_from(ir_graph *g, ir_node *n, pass_vset *dirty)
{
	group gr = {n, n, {n->in[0], n->in[1], n->nin > 2 ? n->in[2] : NULL,
			   NULL}, NULL, IR_NOPS, 0, 0};
	ir_node *absorbed[MAX_ABSORBED];
	ir_node *u;
	if (!base_ok(n))
		return chain_from(g, n, dirty);
	while (gr.act_op == IR_NOPS && gr.nabsorbed < 3) {
		int k = absorb_chain(g, &gr, dirty, absorbed + gr.nabsorbed);
		gr.nabsorbed += k;
		if (k || !(u = next_reader(g, &gr, dirty)))
			break;
		ir_value *y = gr.last->out[0];
		if (!absorb_bias(&gr, u, y) && !absorb_residual(&gr, u, y) &&
		    !absorb_activation(&gr, u))
			break;
		absorbed[gr.nabsorbed++] = u;
		gr.last = u;
	}
	if (!gr.nabsorbed)
		return NULL;
	return emit(g, &gr, absorbed, dirty);
}

/* Sweeps until nothing fuses, at most this many times; each computes
 * uses once, so the pass stays linear in the graph. */
enum { MAX_SWEEPS = 8 };

static bool
step(ir_graph *g, ir_node *n, pass_vset *dirty, ir_node **next)
{
	ir_node *f = fuse_from(g, n, dirty);

	if (f)
		*next = f->next;
	return f != NULL;
}

/* Needs: types, and uses (computed here). Leaves: uses stale; shapes of
 * surviving values unchanged (fused outputs typed as the values they
 * replace). */
bool
pass_fuse(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	int fused;

	if (!pass_opts_allow(o, "fuse", NULL, d))
		return false;
	fused = pass_sweep(g, step, MAX_SWEEPS);
	*changed = fused > 0;
	return !fused || ir_infer_shapes(g, d);
}
