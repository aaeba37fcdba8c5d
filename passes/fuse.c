/* fuse: a Conv/Gemm (or a 2-D MatMul) with the bias Add, residual Add and
 * activation after it becomes one nncc.FusedConv / nncc.FusedGemm
 * (ir/op_fused.c gives the exact meaning). Each absorbed intermediate
 * value must have that single reader and not be a graph output. */
#include <string.h>

#include "opt_util.h"

/* The group being built: inputs (X, W, B, R), the last absorbed node and
 * the activation. */
typedef struct group {
	ir_node *base, *last;
	ir_value *in[4];
	ir_node *act;
	int nabsorbed;
} group;

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
	    gr->nabsorbed || ir_attr_float(gr->base, "beta", 1.0) != 1.0)
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
	if (u->op != OP_Add || gr->in[3] || gr->act)
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
	if (!ir_op_has(u->op, IR_OPF_ACT) || gr->act)
		return false;
	for (int i = 1; i < u->nin; i++)
		if (u->in[i] && !pass_has_data(u->in[i]))
			return false;
	gr->act = u;
	return true;
}

static void
set_float(ir_graph *g, ir_node *n, const char *name, double v)
{
	ir_set_attr(g, n, name, IR_ATTR_FLOAT)->f = v;
}

/* Copies the activation of gr into the fused node's attributes. */
static void
set_activation(ir_graph *g, ir_node *f, const ir_node *a)
{
	ir_set_attr(g, f, "activation", IR_ATTR_STRING)->s =
		ir_intern(g, ir_ops[a->op].name);
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
		set_float(g, f, "activation_alpha", ir_attr_float(a, "alpha", 0));
	if (be)
		set_float(g, f, "activation_beta", ir_attr_float(a, "beta", 0));
}

/* Builds the fused node after gr->last, removes the base and the
 * absorbed nodes, and returns the fused node. The group's inputs gain
 * the fused node as a reader: they join dirty. */
static ir_node *
emit(ir_graph *g, group *gr, ir_node *const *absorbed, pass_vset *dirty)
{
	ir_node *b = gr->base;
	ir_op op = b->op == OP_Conv ? OP_FusedConv : OP_FusedGemm;
	ir_node *f = ir_insert_node(g, gr->last->next, op, b->name, 4, gr->in,
				    1);
	f->nattrs = b->op == OP_MatMul ? 0 : b->nattrs;
	f->attrs = nn_alloc_array(g->arena, (size_t)(f->nattrs + 1),
				  sizeof *f->attrs);
	if (f->nattrs)
		memcpy(f->attrs, b->attrs,
		       (size_t)f->nattrs * sizeof *f->attrs);
	if (gr->act)
		set_activation(g, f, gr->act);
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

/* Grows a group from base n; the fused node, or NULL. Needs uses. */
static ir_node *
fuse_from(ir_graph *g, ir_node *n, pass_vset *dirty)
{
	group gr = {n, n, {n->in[0], n->in[1], n->nin > 2 ? n->in[2] : NULL,
			   NULL}, NULL, 0};
	ir_node *absorbed[3];
	ir_node *u;
	if (!base_ok(n))
		return NULL;
	while (gr.nabsorbed < 3 && (u = next_reader(g, &gr, dirty))) {
		ir_value *y = gr.last->out[0];
		if (!absorb_bias(&gr, u, y) && !absorb_residual(&gr, u, y) &&
		    !absorb_activation(&gr, u))
			break;
		absorbed[gr.nabsorbed++] = u;
		gr.last = u;
		if (gr.act)
			break;
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
