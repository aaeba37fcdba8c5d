/* const-fold: every node whose inputs are all known (constants, or data
 * shape inference computed, such as Shape of a statically shaped value)
 * becomes constants, an If whose condition is known its branch (and
 * inference unrolls small Loops of known count: ir_unroll_loop), evaluated by the interpreter's own hooks through
 * ir_infer_shapes/ir_fold_node, so folding cannot disagree with nncc-run. */
#include "opt_util.h"

/* Replaces the outputs of n (all of which have data) by constants; false
 * when a graph output could not keep its name (then n stays). Node
 * outputs never gain readers here, so their use lists stay complete. */
static bool
fold(ir_graph *g, ir_node *n)
{
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] && !n->out[i]->data)
			return false;
	for (int i = 0; i < n->nout; i++) {
		ir_value *v = n->out[i];
		if (!v)
			continue;
		/* A constant may carry a graph output's name directly. */
		const char *name = pass_is_output(g, v) ? v->name : NULL;
		ir_value *c = ir_add_const(g, name, v->dtype, &v->shape,
					   v->data);
		pass_replace_listed(g, v, c);
	}
	ir_remove_node(g, n);
	return true;
}

/* Needs: nothing (runs ir_infer_shapes to refresh data, computes uses). Leaves: folded
 * inputs possibly unused (run dce); uses stale; shapes unchanged. */
bool
pass_const_fold(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	if (!pass_opts_allow(o, "const-fold", NULL, d))
		return false;
	int before = g->nnodes;
	if (!ir_infer_shapes(g, d))
		return false;
	/* an If whose condition is now known becomes its branch */
	bool inlined = false;
	for (ir_node *n = g->first; n && !inlined; n = n->next)
		inlined = n->op == OP_If && n->in[0]->data;
	if (inlined && !ir_fold_ifs(g, d))
		return false;
	ir_compute_uses(g);
	int folded = 0;
	ir_node *next;
	for (ir_node *n = g->first; n; n = next) {
		next = n->next;
		folded += fold(g, n);
	}
	*changed = folded > 0 || inlined || g->nnodes != before;
	return true;
}
